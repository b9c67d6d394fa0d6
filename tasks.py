"""Invoke entry point: wires the collections in biogitops/tasks/. Run `invoke --list`."""

from invoke import Collection

from biogitops.tasks import (
    argocd,
    charts,
    ci,
    cluster,
    doctor,
    infra,
    lab,
    observability,
    pipeline,
    platform,
    release,
    secrets,
    spark,
    sso,
    tools,
)

ns = Collection(platform.bootstrap, platform.status, platform.graph, doctor.doctor)
ns.add_collection(Collection.from_module(tools), name="tools")
ns.add_collection(Collection.from_module(cluster), name="cluster")
ns.add_collection(Collection.from_module(argocd), name="argocd")
ns.add_collection(Collection.from_module(lab), name="lab")
ns.add_collection(Collection.from_module(pipeline), name="pipeline")
ns.add_collection(Collection.from_module(spark), name="spark")
ns.add_collection(Collection.from_module(ci), name="ci")
ns.add_collection(Collection.from_module(charts), name="charts")
ns.add_collection(Collection.from_module(infra), name="infra")
ns.add_collection(Collection.from_module(observability), name="observability")
ns.add_collection(Collection.from_module(secrets), name="secrets")
ns.add_collection(Collection.from_module(release), name="release")
ns.add_collection(Collection.from_module(sso), name="sso")
