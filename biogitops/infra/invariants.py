"""Security invariants of infrastructure/, checked wherever in the module tree a value is set.

An invariant says: attribute PATH of every resource of type T (or every call of a module whose
source matches S) must satisfy a test. It is checked in every place such a block is written,
in each environment that reaches it, with the values that environment gives it: a value written
as `var.x` is followed to the module call's argument (up through every caller to the env), or
to the variable's default; `local.x` to the local. A module that no environment calls is checked
with its defaults. So hard-coding `endpoint_public_access = true` inside modules/eks-cluster is
found in prod as surely as passing `true` from envs/prod. A value that cannot be followed (a
function call, a conditional, another module's output) is a finding too: write it literally or
through a variable, so that a review and this check can see it.

    from biogitops.infra.invariants import Invariant, Target, violations
    hop = Invariant("node-metadata-hop-limit", (Target("resource", "aws_launch_template"),),
                    ("metadata_options", "http_put_response_hop_limit"), lambda v: v == 1, "must be 1")
    list(violations(tree, hop))      # [(path, message), ...]

`biogitops/infra/rules.py` registers the rules built on it; `python -m biogitops.infra.rules` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import hcl2

from biogitops.infra.hcl import _OPTIONS, Config, is_expression

if TYPE_CHECKING:
    from biogitops.infra.rules import Tree

_REF = re.compile(r"^\$\{(var|local)\.([A-Za-z_][A-Za-z0-9_-]*)\}$")
_JSONENCODE = re.compile(r"^\$\{jsonencode\((.*)\)\}$", re.S)
ABSENT = object()  # an attribute that is not written at all


class Unknown:
    """A value this check cannot follow; `text` is how it is written."""

    def __init__(self, text: str) -> None:
        self.text = text if len(text) <= 80 else text[:77] + "..."

    def __repr__(self) -> str:
        return self.text


@dataclass
class Scope:
    """One instance of a configuration: an env root, or a module as called from a parent scope."""

    config: Config
    env: str | None
    where: str  # "envs/prod > module.eks_cluster", for messages
    bindings: dict[str, Any] = field(default_factory=dict)  # variable -> the caller's expression
    parent: Scope | None = None
    call_file: Path | None = None  # the parent's file holding the module call

    def variable(self, name: str) -> Any:
        if name in self.bindings:
            return resolve(self.bindings[name], self.parent)
        for _, vname, body in self.config.blocks("variable"):
            if vname == name:
                return resolve(body["default"], self) if "default" in body else Unknown(f"var.{name} (no default)")
        return Unknown(f"var.{name} (undeclared)")

    def local(self, name: str) -> Any:
        for _, block in self.config.locals():
            if name in block:
                return resolve(block[name], self)
        return Unknown(f"local.{name} (undeclared)")


def resolve(value: Any, scope: Scope | None) -> Any:
    """`value` with `var.x`/`local.x` followed in `scope`; jsonencode({...}) read as data;
    Unknown for any other expression. Maps and lists are resolved element by element."""
    if isinstance(value, dict):
        return {k: resolve(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope) for v in value]
    if not is_expression(value):
        return value
    text = str(value)
    ref = _REF.match(text)
    if ref and scope is not None:
        return scope.variable(ref[2]) if ref[1] == "var" else scope.local(ref[2])
    encoded = _JSONENCODE.match(text)
    if encoded:
        try:
            return resolve(hcl2.loads(f"x = {encoded[1]}\n", serialization_options=_OPTIONS)["x"], scope)
        except Exception:  # python-hcl2 raises lark errors of several kinds
            return Unknown(text)
    return Unknown(text)


def scopes(tree: Tree) -> list[Scope]:
    """Every env root and every module instance the envs reach through local sources; modules that
    no env calls, once each with their defaults."""
    by_dir = {c.directory.resolve(): c for c in tree.modules.values()}
    found: list[Scope] = []
    reached: set[Path] = set()

    def walk(scope: Scope, depth: int) -> None:
        found.append(scope)
        for path, name, body in scope.config.blocks("module"):
            source = str(body.get("source", ""))
            if not source.startswith(("./", "../")) or depth > 10:
                continue
            child = by_dir.get((scope.config.directory / source).resolve())
            if child is None:
                continue
            reached.add(child.directory.resolve())
            args = {k: v for k, v in body.items() if k not in ("source", "version", "for_each", "count", "providers")}
            walk(Scope(child, scope.env, f"{scope.where} > module.{name}", args, scope, path), depth + 1)

    for env, config in sorted(tree.envs.items()):
        walk(Scope(config, env, f"envs/{env}"), 0)
    for name, config in sorted(tree.modules.items()):
        if config.directory.resolve() not in reached:
            walk(Scope(config, None, f"modules/{name} (defaults)"), 0)
    return found


@dataclass(frozen=True)
class Target:
    """Blocks an invariant holds for: `resource` of a type, or `module` calls whose source contains `match`;
    `when` narrows them by their (resolved) body, e.g. an aws_eks_addon's addon_name."""

    kind: str  # "resource" | "module"
    match: str
    when: Callable[[dict[str, Any]], bool] | None = None

    def blocks(self, scope: Scope) -> Iterator[tuple[Path, str, dict[str, Any]]]:
        if self.kind == "resource":
            for path, name, body in scope.config.blocks("resource"):
                if name.split(".")[0] == self.match and (self.when is None or self.when(resolve(body, scope))):
                    yield path, f"resource.{name}", body
        else:
            for path, name, body in scope.config.blocks("module"):
                if self.match in str(body.get("source", "")) and (self.when is None or self.when(resolve(body, scope))):
                    yield path, f"module.{name}", body


@dataclass(frozen=True)
class Invariant:
    """Attribute `path` of every block a target selects satisfies `ok` (on the resolved value).

    `required`: a block that does not write the attribute breaks the invariant (for attributes
    whose upstream default is unsafe or unknown). `envs`: only in these environments (None: all,
    and modules that no env calls). `at_least_one`: every env that reaches a target must have one
    such block (e.g. every cluster installs vpc-cni)."""

    rule: str
    targets: tuple[Target, ...]
    path: tuple[str, ...]
    ok: Callable[[Any], bool]
    want: str
    required: bool = True
    envs: tuple[str, ...] | None = None


def _at(body: Any, path: tuple[str, ...], scope: Scope) -> list[Any]:
    """Values at `path`, following variables at each step; nested blocks (lists of maps) fan out."""
    values = [body]
    for key in path:
        nxt = []
        for value in values:
            value = resolve(value, scope) if is_expression(value) else value
            items = value if isinstance(value, list) and all(isinstance(v, dict) for v in value) else [value]
            for item in items:
                if isinstance(item, dict):
                    nxt.append(resolve(item[key], scope) if key in item else ABSENT)
                elif isinstance(item, Unknown) or item is ABSENT:
                    nxt.append(item)
                else:
                    nxt.append(Unknown(repr(item)))
        values = nxt or [ABSENT]
    return values


def _origins(body: Any, path: tuple[str, ...], scope: Scope) -> list[Path]:
    """Files of the module calls that passed the value, when it is written as `var.x` and bound
    by a caller (followed up through every caller that passes it on)."""
    raw = body
    for key in path:
        if isinstance(raw, list) and raw and isinstance(raw[0], dict):
            raw = raw[0]
        if not isinstance(raw, dict) or key not in raw:
            return []
        raw = raw[key]
    found: list[Path] = []
    current: Scope | None = scope
    while current is not None and (ref := _REF.match(str(raw))) and ref[1] == "var" and ref[2] in current.bindings:
        if current.call_file is not None:
            found.append(current.call_file)
        raw, current = current.bindings[ref[2]], current.parent
    return found


def violations(tree: Tree, invariant: Invariant) -> Iterator[tuple[Path, str]]:
    """(file, message) for every place in the tree where `invariant` does not hold."""
    seen: set[tuple[Path, str]] = set()
    for scope in scopes(tree):
        if invariant.envs is not None and scope.env not in invariant.envs:
            continue
        for target in invariant.targets:
            for path, block, body in target.blocks(scope):
                for value in _at(body, invariant.path, scope):
                    attr = ".".join(invariant.path)
                    if value is ABSENT:
                        if not invariant.required:
                            continue
                        message = f"{scope.where}: {block} does not set {attr}; {invariant.want}"
                    elif isinstance(value, Unknown):
                        message = (
                            f"{scope.where}: {block} {attr} = {value.text} cannot be checked; {invariant.want} "
                            "(write it literally or through a variable)"
                        )
                    elif invariant.ok(value):
                        continue
                    else:
                        message = f"{scope.where}: {block} {attr} = {value!r}; {invariant.want}"
                    for where in [path, *_origins(body, invariant.path, scope)]:
                        if (where, message) not in seen:
                            seen.add((where, message))
                            yield where, message
