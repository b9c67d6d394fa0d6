"""What each Nox session runs. `noxfile.py` only names the sessions and calls these.

nox                 # the sessions in DEFAULT (no container engine needed)
nox -s lint unit    # just these
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from biogitops.checks import terraform as terraform_checks
from biogitops.cluster.kwok.provider import BINARIES as KWOK_BINARIES
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

DEFAULT = ["lint", "unit", "render", "terraform", "rules", "policy"]

WORKFLOW_DIRS = [".github/workflows", "ci/actions"]


def _env(session: Any, needed: list[str]) -> dict[str, str]:
    """Install the pinned tools a session needs (no-op when cached) and return its environment."""
    for status in tools.install(needed):
        session.log(f"{status.pin.name} {status.pin.version}: {status.state} {status.path}")
    return tools.env_with_tools()


def _files(pattern: str, under: list[str]) -> list[str]:
    found: list[str] = []
    for directory in under:
        found += sorted(str(p.relative_to(REPO_ROOT)) for p in (REPO_ROOT / directory).glob(pattern))
    return found


def shell_scripts() -> list[Path]:
    """Every shell script in the repository (by extension or shebang), outside caches."""
    skip = {".git", ".nox", ".venv", "node_modules"}
    scripts = []
    for path in REPO_ROOT.rglob("*"):
        if not path.is_file() or skip & set(path.relative_to(REPO_ROOT).parts):
            continue
        if path.suffix == ".sh":
            scripts.append(path)
        elif path.suffix == "" and path.stat().st_size < 200_000:
            with path.open("rb") as handle:
                head = handle.read(64)
            if head.startswith((b"#!/bin/bash", b"#!/usr/bin/env bash", b"#!/bin/sh")):
                scripts.append(path)
    return sorted(scripts)


# first-party charts, with the values their Applications always set
CHARTS = {
    "applications/nextflow": ["lab=example"],
    "applications/spark-operator/lab": ["lab=example"],
    "applications/galaxy/extras": ["webHandlers.replicaCount=2", "extras.environment=dev"],
    "clusters/argocd/bootstrap": ["repoURL=https://git.example.invalid/r.git", "charts.galaxy.version=1.0.0"],
    "clusters/argocd/lab-tenant": [
        "lab.name=example",
        "lab.owners=example-admins",
        "lab.members=example",
        "lab.quota.cpu=4000m",  # a string: `--set` reads a bare 4 as a number, which a lab file may not give
        "lab.quota.memory=16Gi",
        "lab.quota.storage=50Gi",
        "lab.apps.nextflow.workdir=10Gi",
        "labFile=example.yaml",
        "apiServer.ips=10.0.0.1",
        "repoURL=https://git.example.invalid/r.git",
    ],
}


def lint(session: Any) -> None:
    env = _env(session, ["actionlint", "helm"])
    session.chdir(REPO_ROOT)
    session.run(sys.executable, "-m", "yamllint", "--strict", "-c", ".yamllint.yaml", ".", env=env)
    session.run(sys.executable, "-m", "ruff", "check", ".", env=env)
    session.run(sys.executable, "-m", "ruff", "format", "--check", ".", env=env)
    workflows = _files("*.yml", WORKFLOW_DIRS)
    session.run(str(tools.which("actionlint")), "-color", *workflows, env=env)
    for script in shell_scripts():
        session.run("bash", "-n", str(script), env=env, silent=True)
    session.log(f"bash -n: {len(shell_scripts())} shell script(s) parse")
    for chart, values in CHARTS.items():
        sets = [arg for v in values for arg in ("--set", v)]
        session.run(str(tools.which("helm")), "lint", "--strict", chart, *sets, env=env)
    session.run(sys.executable, "-m", "pymarkdown", "--config", ".pymarkdown.json", "scan", *markdown_files(), env=env)


def markdown_files() -> list[str]:
    """runbooks/ and handbook/ pages for the markdown lint; generated pages (`invoke graph`) are left out."""
    pages = sorted((REPO_ROOT / "runbooks").rglob("*.md")) + sorted((REPO_ROOT / "handbook").glob("*.md"))
    return [str(p.relative_to(REPO_ROOT)) for p in pages if not p.read_text().startswith("<!-- generated")]


KWOK_TOOLS = list(KWOK_BINARIES)
ARGOCD_TOOLS = ["argocd", "helm", "kustomize"]
SECRETS_TOOLS = ["kubeseal"]  # the controller is built from its module on first use (sealedsecrets.py)


def _provider_arg(posargs: list[str]) -> str:
    for i, arg in enumerate(posargs):
        if arg == "--provider" and i + 1 < len(posargs):
            return posargs[i + 1]
        if arg.startswith("--provider="):
            return arg.split("=", 1)[1]
    return "kind"


def integration(session: Any) -> None:
    """pytest tests/integration against a real cluster; `-- --provider kwok|kind|existing`."""
    provider = _provider_arg(session.posargs)
    local = [*KWOK_TOOLS, "prometheus", "keycloak"]  # kwok: the control plane; Prometheus, Keycloak beside it
    needed = ["kubectl", *ARGOCD_TOOLS, *SECRETS_TOOLS] + (
        local if provider == "kwok" else ["kind"] if provider == "kind" else []
    )
    env = _env(session, sorted(set(needed)))
    session.chdir(REPO_ROOT)
    if provider == "kwok":  # Gatekeeper runs beside kwok as a process, from gator's module
        session.run(sys.executable, "-m", "biogitops.cluster.kwok.gatekeeper", "build", env=env)
    args = list(session.posargs)
    if "--provider" not in " ".join(args):
        args = ["--provider", provider, *args]
    # the slowest tests, so that a long CI run says where its minutes went
    _pytest(session, "tests/integration", ["--durations=15", *args], env, own_testpaths=True)


def acceptance(session: Any) -> None:
    """Labs run real analyses end to end (tests/acceptance): `-- --provider kind`. Bootstraps the
    env's cluster first (or reuses it); on kwok the tests skip, saying why (no container runs)."""
    provider = _provider_arg(session.posargs)
    env = _env(session, sorted({"kubectl", "kind", *ARGOCD_TOOLS, *SECRETS_TOOLS}))
    session.chdir(REPO_ROOT)
    args = list(session.posargs)
    if "--provider" not in " ".join(args):
        args = ["--provider", provider, *args]
    if provider == "kind":
        session.run("invoke", "bootstrap", "--env", "dev", "--provider", "kind", env=env)
    _pytest(session, "tests/acceptance", ["-s", "-rs", "--durations=10", *args], env, own_testpaths=True)


def render(session: Any) -> None:
    """Render every overlay and chart per environment; validate strictly; test the validator."""
    env = _env(session, sorted({"helm", "kustomize", "kubeconform", "kubeseal", *KWOK_TOOLS}))
    session.chdir(REPO_ROOT)
    session.run(sys.executable, "-m", "biogitops.checks.conformance", env=env)
    _pytest(session, "tests/render", session.posargs, env)


def rules(session: Any) -> None:
    """Alert rules (promtool check and test), runbook links, dashboard queries and metric sources
    (biogitops/checks/alert_rules.py), then the tests that prove each check fires on its fixture."""
    env = _env(session, ["promtool"])
    session.chdir(REPO_ROOT)
    session.run(sys.executable, "-m", "biogitops.checks.alert_rules", env=env)
    _pytest(session, "tests/rules", session.posargs, env)


def policy(session: Any) -> None:
    """Gatekeeper suites (coverage, then `gator verify`), repository rules over every environment's
    rendered output, and the tests that prove each check fires on its fixture."""
    env = _env(session, ["gator", "helm", "kustomize"])
    session.chdir(REPO_ROOT)
    session.run(sys.executable, "-m", "biogitops.checks.policy_suites", env=env)
    session.run(sys.executable, "-m", "biogitops.checks.repo_rules", env=env)
    _pytest(session, "tests/policy", session.posargs, env)


def bench(session: Any) -> None:
    """Timings written as JSON (out/bench.json); see biogitops/bench/kwok.py."""
    env = _env(session, sorted(set(KWOK_TOOLS + ARGOCD_TOOLS)))
    session.chdir(REPO_ROOT)
    session.run(sys.executable, "-m", "biogitops.bench.kwok", *session.posargs, env=env)
    # kind: node image cold and warm, cluster create, bootstrap (skipped, saying why, without an engine)
    session.run(sys.executable, "-m", "biogitops.bench.kind", "--cold", env=env)


def _pytest(session: Any, folder: str, args: Any, env: dict[str, str], own_testpaths: bool = False) -> None:
    """pytest over one test folder, without a cache in the checkout; `own_testpaths` makes the
    folder pytest's only testpath (so `-- -k x` selects within it)."""
    paths = ["-o", f"testpaths={folder}"] if own_testpaths else []
    session.run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", folder, *paths, *args, env=env)


def unit(session: Any) -> None:
    session.chdir(REPO_ROOT)
    _pytest(session, "tests/unit", session.posargs, tools.env_with_tools())


def terraform(session: Any) -> None:
    """infrastructure/: tofu fmt, tflint, checkov; then the HCL rules and tool fixtures (tests/terraform)."""
    env = _env(session, terraform_checks.TOOLS)
    session.chdir(REPO_ROOT)
    session.run(*terraform_checks.fmt_command(), env=env)
    for command in terraform_checks.tflint_commands():
        session.run(*command, env=env)
    session.run(*terraform_checks.checkov_command(), env=env)
    _pytest(session, "tests/terraform", session.posargs, env, own_testpaths=True)
