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


def test_the_labs_spark_claim_is_one_its_spark_pods_may_mount() -> None:
    """The word count's executors are created by the lab's `spark` account, which
    lab-platform-services holds to the lab's own claims: the Spark chart's claim is one of them."""
    import ast

    import yaml

    from biogitops.paths import REPO_ROOT
    from biogitops.render.manifests import helm_template

    policy = REPO_ROOT / "clusters/base/admission/validatingadmissionpolicy-lab-platform-services.yaml"
    variables = {v["name"]: v["expression"] for v in yaml.safe_load(policy.read_text())["spec"]["variables"]}
    member_claims = ast.literal_eval(variables["memberClaims"])
    objs = helm_template(spark.CHART, [{"lab": "genomics", "wordcount": {"enabled": True}}])
    claims = {o["metadata"]["name"] for o in objs if o["kind"] == "PersistentVolumeClaim"}
    [app] = [o for o in objs if o["kind"] == "SparkApplication"]
    mounted = {v["persistentVolumeClaim"]["claimName"] for v in app["spec"]["volumes"]}
    assert mounted == claims == {"spark-data"}
    assert claims <= set(member_claims)
