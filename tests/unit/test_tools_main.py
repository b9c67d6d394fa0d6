"""Tool pins with `main`: our own main package file, built inside the wrapper module that requires
the pinned upstream module, cached under a key that holds the file's sha256 (pins.yaml, tools.py).

The Go toolchain is a fake here (a script that records what it was asked to build); the real
build of the one such pin is exercised by tests/unit/test_kwok_redis.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from biogitops.config.pins import parse_pins
from biogitops.errors import ConfigError, ToolError
from biogitops.toolchain import tools

# `go mod download -json` / `go mod edit -json` / `go build ... -o OUT .`: the build writes a
# binary that prints the version, and records its working directory's go.mod and main.go
FAKE_GO = """#!{python}
import json, os, pathlib, sys
args = sys.argv[1:]
record = pathlib.Path({record!r})
if args[:2] == ["mod", "download"]:
    gomod = pathlib.Path.cwd() / "upstream.mod"
    gomod.write_text("module example.com/lib\\n")
    print(json.dumps({{"GoMod": str(gomod), "Dir": str(pathlib.Path.cwd())}}))
elif args[:2] == ["mod", "edit"]:
    print(json.dumps({{"Go": "1.22"}}))
elif args[0] == "build":
    out = pathlib.Path(args[args.index("-o") + 1])
    cwd = pathlib.Path.cwd()
    seen = {{"target": args[-1], "go.mod": (cwd / "go.mod").read_text(), "main.go": (cwd / "main.go").read_text()}}
    record.write_text(json.dumps({{**seen, "ldflags": args[args.index("-ldflags") + 1]}}))
    out.write_text("#!/bin/sh\\necho 'demo v1.2.3'\\n")
    out.chmod(0o755)
"""


def _pins(tool: dict) -> object:
    return parse_pins({"go": {"version": "1.27.3"}, "kubernetes": {"version": "1.36.3"}, "tools": {"demo": tool}})


MAIN_PIN = {
    "version": "1.2.3",
    "source": "go",
    "module": "example.com/lib",
    "main": "cmd/demo/main.go",
    "ldflags": "-X main.version={version}",
    "version_args": ["-version"],
}


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root holding cmd/demo/main.go, and a fake Go toolchain that records its build."""
    root = tmp_path / "repo"
    (root / "cmd" / "demo").mkdir(parents=True)
    (root / "cmd" / "demo" / "main.go").write_text("package main\n\nfunc main() {}\n")
    monkeypatch.setattr(tools, "REPO_ROOT", root)
    go = tmp_path / "go"
    go.write_text(FAKE_GO.format(python=sys.executable, record=str(tmp_path / "build.json")))
    go.chmod(0o755)
    monkeypatch.setattr(tools, "go_toolchain", lambda pins: (go, {"PATH": "/usr/bin:/bin"}))
    return root


def _build(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "build.json").read_text())


def test_a_go_pin_names_package_or_main_and_main_is_a_relative_go_file() -> None:
    assert _pins(MAIN_PIN).tools["demo"].main == "cmd/demo/main.go"
    neither = {k: v for k, v in MAIN_PIN.items() if k != "main"}
    with pytest.raises(ConfigError):
        _pins(neither)
    for bad in ("/etc/main.go", "cmd/demo", "../x/main.go"):
        with pytest.raises(ConfigError, match="main"):
            _pins({**MAIN_PIN, "main": bad})


def test_main_is_built_inside_a_wrapper_module_that_requires_the_pinned_module(
    cache: Path, repo: Path, tmp_path: Path
) -> None:
    [result] = tools.install(["demo"], _pins(MAIN_PIN))
    assert result.state == "installed"
    build = _build(tmp_path)
    assert build["target"] == "."
    assert "require example.com/lib v1.2.3" in build["go.mod"]
    assert build["main.go"] == (repo / "cmd" / "demo" / "main.go").read_text()
    assert "-X main.version=1.2.3" in build["ldflags"]
    marker = json.loads((result.path.parent / tools.MARKER).read_text())
    assert marker["main_sha256"] == tools.main_digest(_pins(MAIN_PIN).tools["demo"])


def test_editing_main_go_changes_the_cache_key_and_rebuilds(cache: Path, repo: Path, tmp_path: Path) -> None:
    pins = _pins(MAIN_PIN)
    pin = pins.tools["demo"]
    [first] = tools.install(["demo"], pins)
    assert first.path.parent.name == f"demo-1.2.3-{tools.main_digest(pin)[:12]}"
    [again] = tools.install(["demo"], pins)
    assert again.detail == "cached"

    (repo / "cmd" / "demo" / "main.go").write_text("package main\n\n// changed\nfunc main() {}\n")
    assert tools.installed_binary(pin) is None
    assert tools.status(pin).state == "missing"
    tools._VERIFIED.clear()
    with pytest.raises(ToolError, match="not built from cmd/demo/main.go") as err:
        tools.which("demo", pins)  # the old build still prints the pinned version: not enough
    assert "invoke tools.install --only demo" in err.value.hint
    [rebuilt] = tools.install(["demo"], pins)
    assert rebuilt.state == "installed" and rebuilt.detail != "cached"
    assert rebuilt.path.parent != first.path.parent
    assert "// changed" in _build(tmp_path)["main.go"]


def test_a_binary_on_path_never_stands_in_for_our_own_command(
    cache: Path, repo: Path, tmp_path: Path, monkeypatch
) -> None:
    bindir = tmp_path / "pathbin"
    bindir.mkdir()
    (bindir / "demo").write_text("#!/bin/sh\necho 'demo v1.2.3'\n")
    (bindir / "demo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}:/usr/bin:/bin")
    [result] = tools.install(["demo"], _pins(MAIN_PIN))
    assert result.state == "installed" and result.path != bindir / "demo"


def test_a_missing_main_go_is_one_error_naming_the_pin(cache: Path, repo: Path) -> None:
    (repo / "cmd" / "demo" / "main.go").unlink()
    with pytest.raises(ToolError, match="demo: main package cmd/demo/main.go not found"):
        tools.install(["demo"], _pins(MAIN_PIN))
