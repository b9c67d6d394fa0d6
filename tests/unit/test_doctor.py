"""biogitops/cluster/doctor.py and `invoke doctor`: each piece of the machine is one check with
its fix; a provider's verdict counts only what it needs; kind's node image build refuses to start
(before any compiling) without root, debootstrap, wget or an engine; kwok never asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from biogitops.cluster import doctor, get_provider
from biogitops.cluster.kind import nodeimage
from biogitops.config.settings import load_settings


def _no_program(name: str) -> None:
    return None


def test_each_missing_piece_names_its_fix() -> None:
    assert not doctor.check_python((3, 10, 2)).ok and "3.11" in doctor.check_python((3, 10, 2)).fix
    assert doctor.check_python((3, 11, 0)).ok
    git = doctor.check_git(which=_no_program)
    assert (git.ok, git.fix) == (False, "install git (Debian: apt-get install git)")
    assert doctor.check_root(euid=1000).fix == "run as root: debootstrap needs it"
    wget = doctor.check_program("wget", "wget", which=_no_program)
    assert (wget.ok, wget.fix) == (False, "install it: apt-get install wget")
    engine = doctor.check_engine(lambda: (False, "`docker` is not on PATH"))
    assert not engine.ok and "--provider kwok" in engine.fix
    assert doctor.check_cgroup(1).ok and "failCgroupV1: false" in doctor.check_cgroup(1).found


def test_tools_are_checked_in_the_cache(cache: Path) -> None:
    check = doctor.check_tools(["kubectl", "miniredis"], "kwok")
    assert (check.ok, check.fix) == (False, "run `invoke tools.install --only kubectl,miniredis`")
    assert check.needed_by == {"kwok"}


def test_busy_port_is_named_with_its_holder() -> None:
    import os
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        busy = doctor.check_ports(port, port)
        assert not busy.ok and str(port) in busy.found and f"pid {os.getpid()}" in busy.found
        assert "kwok.basePort" in busy.fix
        assert doctor.check_ports(port, port, running=True).ok


def test_a_provider_fails_only_on_what_it_needs() -> None:
    kind_only = doctor.check_root(euid=1000)
    doctor.require([kind_only, doctor.check_python((3, 11, 0))], "kwok")  # nothing kwok needs is missing
    with pytest.raises(doctor.HostError) as err:
        doctor.require([kind_only, doctor.check_program("wget", "wget", which=_no_program)], "kind")
    lines = err.value.message.splitlines()
    assert lines[0] == "this machine cannot run the kind provider:"
    assert lines[1:] == [
        "  root (node image source build): uid 1000 (run as root: debootstrap needs it)",
        "  wget (node image source build): not found (install it: apt-get install wget)",
    ]
    assert "invoke doctor --provider kind" in err.value.hint


def test_merge_keeps_one_row_per_check_needed_by_both() -> None:
    py = doctor.check_python((3, 11, 0))
    kwok_py, kind_py = (doctor.Check(py.name, py.ok, py.found, needed_by=frozenset({p})) for p in ("kwok", "kind"))
    [merged] = doctor.merge([kwok_py], [kind_py])
    assert merged.needed_by == {"kwok", "kind"}
    rows = doctor.table([merged, doctor.check_root(euid=5)])
    assert rows == [
        ["python", "3.11.0", "ok", "ok", ""],
        ["root (node image source build)", "uid 5", "", "MISSING", "run as root: debootstrap needs it"],
    ]


def test_kwok_never_checks_what_only_kind_needs(monkeypatch) -> None:
    kwok = get_provider(load_settings("dev"), "kwok")
    names = {c.name for c in kwok.host_checks()}
    assert names == {f"ports {kwok.base_port}-{kwok.base_port + 41}"}
    monkeypatch.setattr(doctor, "check_root", lambda euid=None: pytest.fail("kwok checked root"))
    monkeypatch.setattr(doctor, "check_engine", lambda *a: pytest.fail("kwok checked a container engine"))
    names = {c.name for c in doctor.provider_checks(kwok)}
    assert not any(word in " ".join(names) for word in ("debootstrap", "wget", "engine", "root"))


def test_kind_checks_its_source_build_pieces_while_the_image_is_to_be_built(monkeypatch) -> None:
    kind = get_provider(load_settings("dev"), "kind")
    monkeypatch.setattr(nodeimage, "needs_source_build", lambda pins=None: True)
    monkeypatch.setattr(doctor, "engine_answer", lambda: (True, "Docker engine 20.10"))
    names = [c.name for c in kind.host_checks()]
    assert names[:4] == [
        "container engine",
        "root (node image source build)",
        "debootstrap (node image source build)",
        "wget (node image source build)",
    ]
    monkeypatch.setattr(nodeimage, "needs_source_build", lambda pins=None: False)
    assert "root (node image source build)" not in [c.name for c in kind.host_checks()]


class _NoImages:
    def __init__(self, log: Path) -> None:
        pass

    def image_exists(self, ref: str) -> bool:
        return False


def test_node_image_build_stops_before_compiling_when_the_host_lacks_a_piece(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(nodeimage, "cache", lambda: tmp_path)
    monkeypatch.setattr(nodeimage, "Docker", _NoImages)
    monkeypatch.setattr(doctor, "engine_answer", lambda: (True, "Docker engine 20.10"))
    monkeypatch.setattr(doctor.shutil, "which", lambda name: None if name == "wget" else f"/usr/bin/{name}")
    monkeypatch.setattr(
        nodeimage, "ensure_binaries", lambda pins, progress: pytest.fail("compiling started before the checks")
    )
    with pytest.raises(doctor.HostError, match=r"wget \(node image source build\): not found"):
        nodeimage.build()


@pytest.mark.parametrize(
    ("instances", "says_fix"), [(128, True), (512, False)], ids=["second-kind-cluster-runs-out", "enough-for-two"]
)
def test_inotify_instances_are_reported_with_the_fix_for_a_second_kind_cluster(instances: int, says_fix: bool) -> None:
    check = doctor.check_inotify(instances)
    assert check.ok, "one kind cluster runs with the default; never refused"
    assert f"max_user_instances {instances}" in check.found
    assert ("sysctl -w fs.inotify.max_user_instances=512" in check.found) is says_fix
