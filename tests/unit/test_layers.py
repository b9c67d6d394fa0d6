"""The package's layers import downwards only, so a path answers "where is X" and a lower layer
never needs a higher one: errors/paths/console/findings < config < toolchain < render < cluster <
platform < infra, checks, bench < tasks. Run: `pytest tests/unit/test_layers.py`."""

from __future__ import annotations

import ast
import importlib
import importlib.util
from pathlib import Path

import pytest

from biogitops.paths import REPO_ROOT

PACKAGE = REPO_ROOT / "biogitops"
# rank of each layer; equal ranks may import each other
LAYERS = {
    "errors": 0,
    "paths": 0,
    "console": 0,
    "findings": 0,
    "config": 1,
    "toolchain": 2,
    "render": 3,
    "cluster": 4,
    "platform": 5,
    "infra": 6,
    "checks": 6,
    "bench": 6,
    "tasks": 7,
}


def layer_of(module: str) -> str:
    """'biogitops.cluster.kwok.argocd' -> 'cluster'."""
    return module.split(".")[1]


def imports(path: Path) -> list[tuple[int, str]]:
    """Every biogitops module a file imports, lazily inside functions included."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("biogitops"):
            if node.module == "biogitops":
                found += [(node.lineno, f"biogitops.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("biogitops.")]
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.name != "__init__.py")


def test_every_top_level_name_is_a_known_layer() -> None:
    names = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir() if not p.name.startswith("__")}
    assert names <= set(LAYERS), f"new top-level module(s) {names - set(LAYERS)}: put them in a layer's sub-package"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_a_module_imports_no_higher_layer(path: Path) -> None:
    own = layer_of("biogitops." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    upward = [
        f"line {line}: {module} ({layer_of(module)})"
        for line, module in imports(path)
        if LAYERS[layer_of(module)] > LAYERS[own]
    ]
    assert not upward, f"{path.relative_to(REPO_ROOT)} ({own}) imports a higher layer: {'; '.join(upward)}"


def _resolves(module: str, name: str) -> bool:
    """Whether `from module import name` works: an attribute, or a submodule of a package."""
    return hasattr(importlib.import_module(module), name) or importlib.util.find_spec(f"{module}.{name}") is not None


FILES = [*MODULES, *sorted((REPO_ROOT / "tests").rglob("*.py")), REPO_ROOT / "tasks.py", REPO_ROOT / "noxfile.py"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_biogitops_import_resolves_lazy_ones_included(path: Path) -> None:
    """An import inside a function fails only when that function runs: resolve them all here."""
    missing = [
        f"line {node.lineno}: from {node.module} import {alias.name}"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("biogitops")
        for alias in node.names
        if not _resolves(node.module, alias.name)
    ]
    assert not missing, f"{path.relative_to(REPO_ROOT)}: {'; '.join(missing)}"
