"""The Spark operator as `invoke spark.install-operator` applies it on kind: the pinned chart
from the operator's Go module with our values and the image built here."""

from __future__ import annotations

from biogitops.platform import spark

IMAGE = "bio-gitops/spark-operator:2.5.2-abc123"


def test_operator_runs_the_image_built_here_in_its_namespace_watching_labs() -> None:
    objs = spark.operator_objects("dev", IMAGE)
    kinds = {o["kind"] for o in objs}
    assert "CustomResourceDefinition" not in kinds  # installed before the add-ons (clusters/base/crds)
    deployments = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    assert set(deployments) == set(spark.DEPLOYMENTS)
    for deployment in deployments.values():
        assert deployment["metadata"]["namespace"] == "spark-operator"
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["image"] == f"docker.io/{IMAGE}"
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
    controller = deployments["spark-operator-controller"]["spec"]["template"]["spec"]["containers"][0]
    assert "--namespace-selector=bio-gitops.io/lab" in controller["args"]
    # the lab charts bring the driver's account and Role: the chart creates none for Spark jobs
    assert not [o for o in objs if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == "spark-operator-spark"]


def test_without_an_image_the_chart_runs_upstreams_release() -> None:
    [controller] = [
        o
        for o in spark.operator_objects("dev")
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "spark-operator-controller"
    ]
    assert controller["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":2.5.2")
