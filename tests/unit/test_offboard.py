"""lab.offboard and the orphaned-lab report, against an in-memory cluster (tests/unit/fake_kubectl.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.errors import BioGitopsError
from biogitops.platform import offboard as ob
from biogitops.platform.orphans import ORPHANED, human_bytes, orphaned_labs, quantity_bytes

from .fake_kubectl import FakeKubectl, application, appproject, configmap, namespace, pv, pvc, secret

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
SECRET_VALUE = "c3VwZXJzZWNyZXQ="  # base64 of "supersecret"


def lab_objects(lab: str, owner: str | None = None) -> list[dict[str, Any]]:
    """What a lab leaves on the cluster once its file is gone (tenancy Applications included when `owner`)."""
    ns = f"lab-{lab}"
    objs = [
        application(f"lab-{lab}-nextflow", ns, lab=lab),
        application(f"lab-{lab}-spark", ns),
        appproject(ns),
        namespace(ns, lab),
        pvc(ns, "work", "10Gi", volume=f"pv-{lab}-work"),
        pvc(ns, "scratch", "512Mi"),
        pv(f"pv-{lab}-work", ns, "work", reclaim="Retain"),
        secret(ns, "db", {"password": SECRET_VALUE}),
        configmap(ns, "settings", {"threads": "4"}),
    ]
    if owner:
        objs += [application(f"lab-{lab}", "tenants", owner=owner)]
    return objs


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A clusters/ folder whose dev environment has one lab file, genomics."""
    labs = tmp_path / "clusters" / "dev" / "labs"
    labs.mkdir(parents=True)
    (labs / "genomics.yaml").write_text("name: genomics\n")
    return tmp_path / "clusters"


def offboard(kubectl: FakeKubectl, root: Path, tmp_path: Path, lab: str = "itest", **kw: Any) -> Path:
    kw.setdefault("yes", True)
    return ob.run(kubectl, "dev", lab, out=tmp_path / "export.yaml", root=root, now=NOW, timeout=5, **kw)


def mutations(kubectl: FakeKubectl) -> list[str]:
    return kubectl.verbs()


# ---------------------------------------------------------------- refusals: nothing deleted


@pytest.mark.parametrize(
    "relpath, text",
    [
        ("itest.yaml", "name: itest\n"),
        ("archive/itest.yaml", "name: itest\n"),  # Argo CD's generator reads subfolders too
        ("renamed.yaml", "name: itest\n"),  # Argo CD names the Applications after `name:`
        ("itest.yaml", "{not yaml"),
    ],
    ids=["top-level-file", "nested-file", "file-named-otherwise", "unparsable-file"],
)
def test_lab_file_still_present_is_refused_before_touching_the_cluster(
    root: Path, tmp_path: Path, relpath: str, text: str
) -> None:
    path = root / "dev" / "labs" / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    kubectl = FakeKubectl(lab_objects("itest"))
    with pytest.raises(ob.OffboardError, match=rf"{relpath} still defines lab itest.*nothing deleted"):
        offboard(kubectl, root, tmp_path)
    assert kubectl.calls == []
    assert not (tmp_path / "export.yaml").exists()


def test_lab_missing_from_the_cluster_is_refused(root: Path, tmp_path: Path) -> None:
    kubectl = FakeKubectl(lab_objects("other"))
    with pytest.raises(ob.OffboardError, match="lab itest does not exist on the dev cluster"):
        offboard(kubectl, root, tmp_path)
    assert mutations(kubectl) == []


def test_no_terminal_and_no_yes_is_refused_before_touching_the_cluster(root: Path, tmp_path: Path) -> None:
    kubectl = FakeKubectl(lab_objects("itest"))
    with pytest.raises(ob.OffboardError, match="stdin is not a terminal and --yes is missing"):
        offboard(kubectl, root, tmp_path, yes=False, interactive=False)
    assert kubectl.calls == []


def test_lab_still_generated_by_an_applicationset_is_refused(root: Path, tmp_path: Path) -> None:
    kubectl = FakeKubectl(lab_objects("itest", owner="labs"))
    with pytest.raises(ob.OffboardError, match=r"still generates Application lab-itest \(ApplicationSet labs\)"):
        offboard(kubectl, root, tmp_path)
    assert mutations(kubectl) == []
    assert not (tmp_path / "export.yaml").exists()


@pytest.mark.parametrize("name", ["Itest", "lab itest", "x", "../itest"], ids=["upper", "space", "short", "path"])
def test_name_that_cannot_be_a_lab_is_refused(root: Path, tmp_path: Path, name: str) -> None:
    kubectl = FakeKubectl([])
    with pytest.raises(ob.OffboardError, match="is not a lab name"):
        offboard(kubectl, root, tmp_path, lab=name)
    assert kubectl.calls == []


@pytest.mark.parametrize("answer", ["", "itset", "yes"], ids=["empty", "typo", "yes-instead-of-name"])
def test_wrong_confirmation_deletes_nothing_but_keeps_the_export(root: Path, tmp_path: Path, answer: str) -> None:
    kubectl = FakeKubectl(lab_objects("itest"))
    with pytest.raises(ob.OffboardError, match="confirmation did not match"):
        offboard(kubectl, root, tmp_path, yes=False, interactive=True, ask=lambda _: answer)
    assert mutations(kubectl) == []
    assert (tmp_path / "export.yaml").exists()


def test_end_of_input_at_the_confirmation_deletes_nothing(root: Path, tmp_path: Path) -> None:
    def eof(_: str) -> str:
        raise EOFError

    kubectl = FakeKubectl(lab_objects("itest"))
    with pytest.raises(ob.OffboardError, match="confirmation did not match"):
        offboard(kubectl, root, tmp_path, yes=False, interactive=True, ask=eof)
    assert mutations(kubectl) == []


def test_failed_export_listing_deletes_nothing(root: Path, tmp_path: Path) -> None:
    kubectl = FakeKubectl(lab_objects("itest"), fail=("configmaps,",))
    with pytest.raises(ob.OffboardError, match="export failed: .*injected failure; nothing deleted"):
        offboard(kubectl, root, tmp_path)
    assert mutations(kubectl) == []
    assert not (tmp_path / "export.yaml").exists()


def test_unwritable_export_deletes_nothing(root: Path, tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where the export's folder should be")
    kubectl = FakeKubectl(lab_objects("itest"))
    with pytest.raises(ob.OffboardError, match="cannot write the export .*nothing deleted"):
        ob.run(kubectl, "dev", "itest", yes=True, out=tmp_path / "blocker" / "x.yaml", root=root, now=NOW)
    assert mutations(kubectl) == []


# ---------------------------------------------------------------- the plan


def test_plan_takes_every_application_of_the_lab_and_none_of_a_lab_with_a_longer_name() -> None:
    objs = lab_objects("gen") + lab_objects("gen-x")
    objs += [application("lab-gen", "platform"), application("lab-gen-x", "platform")]
    objs += [application("gen-galaxy-moved", "workloads", lab="gen")]  # labelled, in another project
    plan = ob.find_plan(FakeKubectl(objs), "dev", "gen")
    assert [a["metadata"]["name"] for a in plan.parents] == ["lab-gen"]
    assert [a["metadata"]["name"] for a in plan.children] == ["gen-galaxy-moved", "lab-gen-nextflow", "lab-gen-spark"]


def test_plan_shows_each_claim_with_its_size_and_bound_volume() -> None:
    plan = ob.find_plan(FakeKubectl(lab_objects("itest")), "dev", "itest")
    rows = {r[1]: r[2] for r in plan.rows() if r[0] == "PersistentVolumeClaim"}
    assert rows == {
        "lab-itest/scratch": "512Mi, not bound",
        "lab-itest/work": "10Gi, volume pv-itest-work (reclaim policy Retain)",
    }


# ---------------------------------------------------------------- the export


def _export(root: Path, tmp_path: Path) -> tuple[FakeKubectl, list[dict[str, Any]], str]:
    kubectl = FakeKubectl(lab_objects("itest"))
    path = offboard(kubectl, root, tmp_path)
    text = path.read_text()
    return kubectl, [d for d in yaml.safe_load_all(text) if d], text


def test_export_holds_the_labs_applications_project_namespace_volumes_and_objects(root: Path, tmp_path: Path) -> None:
    _, docs, _ = _export(root, tmp_path)
    kinds = sorted(f"{d['kind']}/{d['metadata']['name']}" for d in docs)
    assert kinds == [
        "AppProject/lab-itest",
        "Application/lab-itest-nextflow",
        "Application/lab-itest-spark",
        "ConfigMap/settings",
        "Namespace/lab-itest",
        "PersistentVolume/pv-itest-work",
        "PersistentVolumeClaim/scratch",
        "PersistentVolumeClaim/work",
        "Secret/db",
    ]


def test_export_never_contains_a_secret_value(root: Path, tmp_path: Path) -> None:
    _, docs, text = _export(root, tmp_path)
    assert SECRET_VALUE not in text
    (db,) = [d for d in docs if d["kind"] == "Secret"]
    assert db["data"] == {"password": ob.REDACTED}
    assert "managedFields" not in db["metadata"]
    assert "kubectl.kubernetes.io/last-applied-configuration" not in db["metadata"].get("annotations", {})


def test_default_export_path_names_env_lab_and_time() -> None:
    path = ob.default_export_path("dev", "itest", NOW)
    assert path.parts[-3:] == ("out", "offboard", "dev-itest-20260102T030405Z.yaml")


# ---------------------------------------------------------------- deletion


def test_deletion_never_cascades_and_goes_applications_project_namespace(root: Path, tmp_path: Path) -> None:
    objs = [*lab_objects("itest"), application("lab-itest", "tenants")]
    kubectl = FakeKubectl(objs)
    offboard(kubectl, root, tmp_path)
    assert kubectl.cascaded == []
    steps = mutations(kubectl)
    assert steps == [
        "patch applications.argoproj.io lab-itest",
        "delete applications.argoproj.io lab-itest",
        "patch applications.argoproj.io lab-itest-nextflow",
        "delete applications.argoproj.io lab-itest-nextflow",
        "patch applications.argoproj.io lab-itest-spark",
        "delete applications.argoproj.io lab-itest-spark",
        "delete appprojects.argoproj.io lab-itest",
        "delete namespace lab-itest",
    ]
    assert kubectl.objects == [o for o in kubectl.objects if o["kind"] == "PersistentVolume"]


@pytest.mark.parametrize(
    "left",
    [
        ["Namespace", "PersistentVolumeClaim", "PersistentVolume", "Secret", "ConfigMap"],
        ["AppProject", "Namespace", "PersistentVolumeClaim"],
        ["Application"],
    ],
    ids=["only-the-namespace-left", "project-and-namespace-left", "only-applications-left"],
)
def test_rerun_after_a_partial_offboard_finishes_the_job(root: Path, tmp_path: Path, left: list[str]) -> None:
    kubectl = FakeKubectl([o for o in lab_objects("itest") if o["kind"] in left])
    offboard(kubectl, root, tmp_path)
    assert ob.find_plan(kubectl, "dev", "itest").empty


def test_application_already_gone_between_plan_and_delete_is_not_an_error(root: Path, tmp_path: Path) -> None:
    kubectl = FakeKubectl(lab_objects("itest"))
    plan = ob.find_plan(kubectl, "dev", "itest")
    kubectl.objects = [o for o in kubectl.objects if o["metadata"]["name"] != "lab-itest-spark"]
    ob.delete(kubectl, plan, lambda _: None, timeout=5)
    assert ob.find_plan(kubectl, "dev", "itest").empty


# ---------------------------------------------------------------- invoke status: orphaned labs


def test_lab_namespace_without_a_lab_file_is_reported_orphaned_with_its_claims(root: Path) -> None:
    kubectl = FakeKubectl(
        [
            *lab_objects("itest"),
            namespace("lab-genomics", "genomics"),  # has a file: not orphaned
            namespace("monitoring"),  # not a lab
            namespace("lab-old", "old", phase="Terminating"),
        ]
    )
    rows = [o.row() for o in orphaned_labs(kubectl, "dev", root)]
    assert rows == [
        ["itest", "lab-itest", ORPHANED, "2", "10.5Gi"],
        ["old", "lab-old", "being deleted", "0", "0"],
    ]


@pytest.mark.parametrize(
    "text, count",
    [("10Gi", 10 * 2**30), ("500M", 500 * 10**6), ("1.5Ti", int(1.5 * 2**40)), ("1073741824", 2**30)],
    ids=["Gi", "M", "decimal-Ti", "plain-bytes"],
)
def test_storage_quantity_is_read_in_bytes(text: str, count: int) -> None:
    assert quantity_bytes(text) == count


def test_unreadable_storage_quantity_is_refused() -> None:
    with pytest.raises(BioGitopsError, match="unreadable storage quantity '10 gigs'"):
        quantity_bytes("10 gigs")


@pytest.mark.parametrize("count, text", [(0, "0"), (512 * 2**20, "512Mi"), (int(10.5 * 2**30), "10.5Gi")])
def test_byte_count_is_shown_in_binary_units(count: int, text: str) -> None:
    assert human_bytes(count) == text
