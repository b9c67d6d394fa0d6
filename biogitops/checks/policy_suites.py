"""Gatekeeper policy suites: every ConstraintTemplate deployed from policies/ has a `gator verify`
suite with allowed and denied cases, pod policies cover the workload controllers, and every
suite passes.

    python -m biogitops.checks.policy_suites                      # check coverage, then gator verify every suite
    python -m biogitops.checks.policy_suites --root DIR --no-run  # coverage only, over another policies folder

Which templates: every YAML document of kind ConstraintTemplate (inside a `kind: List` too) in
any file under the root, whatever its name or folder, and in every file the root's
kustomization.yaml deploys (its `resources:` and `components:`, followed through other
kustomizations, also outside the root); and, as deployed, every one in `kustomize build` of the
root (so a kustomize patch that changes a tested template makes it untested). A template counts
as tested when a suite beside it, or anywhere under the root, names a file whose first document
(the only one gator reads) is that very template (same name and spec).

Rules: suite-missing, template-untested, suite-invalid, suite-file, constraint-exemption,
denied-case, allowed-case; for pod policies (issue 24): workload-kinds (a constraint matching Pod
also matches Deployment, StatefulSet, DaemonSet, ReplicaSet, Job and CronJob, or its template says
why not in the annotation bio-gitops.io/pods-only), workload-cases (its suite has an allowed and
a denied case of each such kind) and lib-copy (a template's copy of policies/lib/workloads.rego
is verbatim).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from biogitops.errors import BioGitopsError
from biogitops.findings import Finding, report, shown
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

POLICIES = REPO_ROOT / "policies"
# the one source of the Rego that finds a pod spec in a Pod or a workload controller
WORKLOADS_LIB = POLICIES / "lib" / "workloads.rego"
LIB_PACKAGE = "package lib.biogitops.workloads"
# what a pod policy matches besides Pod (policies/lib/workloads.rego knows where each keeps its pod template)
WORKLOAD_KINDS = {
    "Deployment": "apps",
    "StatefulSet": "apps",
    "DaemonSet": "apps",
    "ReplicaSet": "apps",
    "Job": "batch",
    "CronJob": "batch",
}
POD_ONLY = "bio-gitops.io/pods-only"  # template annotation: why its constraints match Pods only
CONSTRAINT_GROUP = "constraints.gatekeeper.sh"
KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")


@dataclass(frozen=True)
class Template:
    """A ConstraintTemplate document and the file it is in."""

    path: Path
    name: str
    kind: str  # the constraint kind it defines
    key: str  # name and spec: what makes two copies the same template
    obj: dict[str, Any]


def documents(path: Path) -> list[dict[str, Any]]:
    """The mappings in a YAML file, each item of a `kind: List` (or `*List`) in its place."""
    out: list[dict[str, Any]] = []
    for doc in yaml.safe_load_all(path.read_text()):
        if not isinstance(doc, dict):
            continue
        if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
            out += [item for item in doc["items"] if isinstance(item, dict)]
        else:
            out.append(doc)
    return out


def kustomized_files(directory: Path, seen: set[Path] | None = None) -> list[Path]:
    """The files the kustomization in `directory` deploys, through nested kustomizations (remote
    resources are not followed); [] when there is no kustomization there."""
    seen = set() if seen is None else seen
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    kustomization = next((directory / k for k in KUSTOMIZATIONS if (directory / k).is_file()), None)
    if kustomization is None:
        return []
    spec = yaml.safe_load(kustomization.read_text()) or {}
    files: list[Path] = []
    for entry in [*(spec.get("resources") or []), *(spec.get("components") or [])]:
        if not isinstance(entry, str) or "://" in entry or entry.startswith("github.com/"):
            continue
        target = (directory / entry).resolve()
        if target.is_dir():
            files += kustomized_files(target, seen)
        elif target.is_file():
            files.append(target)
    return files


def _yaml_files(root: Path) -> list[Path]:
    """Every YAML file under `root` and every file its kustomization deploys, each once."""
    found = {p.resolve() for ext in ("*.yaml", "*.yml") for p in root.rglob(ext) if p.name not in KUSTOMIZATIONS}
    found |= set(kustomized_files(root))
    return sorted(found)


def _key(obj: dict[str, Any]) -> str:
    return json.dumps([(obj.get("metadata") or {}).get("name"), obj.get("spec")], sort_keys=True)


def _parsed(root: Path) -> tuple[list[tuple[Path, dict[str, Any]]], list[Finding]]:
    docs: list[tuple[Path, dict[str, Any]]] = []
    problems: list[Finding] = []
    for path in _yaml_files(root):
        try:
            docs += [(path, d) for d in documents(path)]
        except yaml.YAMLError as err:
            problems.append(Finding.at(path, "suite-invalid", f"not YAML ({str(err).splitlines()[0]})"))
    return docs, problems


def built_templates(root: Path) -> list[dict[str, Any]]:
    """The ConstraintTemplates of `kustomize build root` (the pinned kustomize), as Argo CD would
    apply them; [] when the root has no kustomization."""
    if not any((root / k).is_file() for k in KUSTOMIZATIONS):
        return []
    cmd = [str(tools.which("kustomize")), "build", "--load-restrictor", "LoadRestrictionsNone", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kustomize build {shown(root)} failed: {last}")
    return [d for d in yaml.safe_load_all(proc.stdout) if isinstance(d, dict) and d.get("kind") == "ConstraintTemplate"]


def templates(root: Path = POLICIES) -> list[Template]:
    """Every ConstraintTemplate under `root` or deployed by its kustomization."""
    return _templates(_parsed(root)[0])


def _templates(docs: list[tuple[Path, dict[str, Any]]]) -> list[Template]:
    out = []
    for path, d in docs:
        if d.get("kind") != "ConstraintTemplate":
            continue
        names = (((d.get("spec") or {}).get("crd") or {}).get("spec") or {}).get("names") or {}
        out.append(Template(path, (d.get("metadata") or {}).get("name", "?"), names.get("kind", "?"), _key(d), d))
    return out


def policy_dirs(root: Path = POLICIES) -> list[Path]:
    """The folders that hold a suite or a template (the policies `gator verify` runs)."""
    docs, _ = _parsed(root)
    return sorted({p.parent for p, d in docs if d.get("kind") in ("Suite", "ConstraintTemplate")})


def _denies(case: dict[str, Any]) -> bool:
    for assertion in case.get("assertions") or []:
        v = assertion.get("violations")
        if v == "yes" or (isinstance(v, int) and not isinstance(v, bool) and v > 0):
            return True
    return False


def _allows(case: dict[str, Any]) -> bool:
    assertions = case.get("assertions") or []
    # gator: a case without assertions expects no violations
    return not assertions or all(a.get("violations") in ("no", 0) for a in assertions)


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    except (OSError, yaml.YAMLError):
        return []


def _matched_kinds(constraint: dict[str, Any]) -> set[tuple[str, str]]:
    """(apiGroup, kind) pairs a constraint's spec.match.kinds names."""
    kinds = (((constraint.get("spec") or {}).get("match") or {}).get("kinds")) or []
    return {(g, k) for entry in kinds for g in entry.get("apiGroups") or [""] for k in entry.get("kinds") or []}


def _workload_kinds(constraint: dict[str, Any], template: Template | None) -> list[str]:
    """The workload kinds a constraint matching Pod lacks ([] when none, or its template is pod-only)."""
    matched = _matched_kinds(constraint)
    if not ({("", "Pod"), ("*", "Pod")} & matched):
        return []
    if template is not None and POD_ONLY in ((template.obj.get("metadata") or {}).get("annotations") or {}):
        return []
    return [k for k, g in WORKLOAD_KINDS.items() if not {(g, k), ("*", k), (g, "*"), ("*", "*")} & matched]


def _lib_copies(template: Template, lib: str) -> list[Finding]:
    problems = []
    for target in (template.obj.get("spec") or {}).get("targets") or []:
        for i, text in enumerate(target.get("libs") or []):
            if text.lstrip().startswith(LIB_PACKAGE) and text != lib:
                problems.append(
                    Finding.at(
                        template.path,
                        "lib-copy",
                        f"ConstraintTemplate {template.name}: libs[{i}] differs from {shown(WORKLOADS_LIB)}",
                        fix="paste that file verbatim under `libs: - |`; change the library there",
                    )
                )
    return problems


def _suite_problems(suite_path: Path, suite: dict[str, Any]) -> list[Finding]:
    """The per-suite rules: files exist, exemptions, allowed and denied cases, workload cases."""
    problems: list[Finding] = []
    base = suite_path.parent
    for i, test in enumerate(suite.get("tests") or []):
        where = f"tests[{i}] ({test.get('name', 'unnamed')})"
        for key in ("template", "constraint"):
            if not test.get(key) or not (base / test[key]).is_file():
                problems.append(
                    Finding.at(suite_path, "suite-file", f"{where}: {key} {test.get(key)!r} does not exist")
                )
        cases = test.get("cases") or []
        for j, case in enumerate(cases):
            for name in [case.get("object"), *(case.get("inventory") or [])]:
                if not name or not (base / name).is_file():
                    problems.append(
                        Finding.at(suite_path, "suite-file", f"{where}: cases[{j}]: file {name!r} does not exist")
                    )
        constraint_path = base / test.get("constraint", "")
        constraint = (_load(constraint_path) or [{}])[0] if constraint_path.is_file() else {}
        if "excludedNamespaces" in ((constraint.get("spec") or {}).get("match") or {}):
            problems.append(
                Finding.at(
                    constraint_path,
                    "constraint-exemption",
                    "spec.match.excludedNamespaces: exemptions live in one place",
                    fix="move it to policies/gatekeeper/config.yaml",
                )
            )
        if not any(_denies(c) for c in cases):
            message = f"{where}: no denied case (an object with violations: yes or a count)"
            problems.append(Finding.at(suite_path, "denied-case", message))
        if not any(_allows(c) for c in cases):
            message = f"{where}: no allowed case (an object with violations: no)"
            problems.append(Finding.at(suite_path, "allowed-case", message))
        matched = {k for _, k in _matched_kinds(constraint)}
        wanted = [k for k in WORKLOAD_KINDS if k in matched]
        if wanted:
            kinds_of = [(((_load(base / c["object"]) or [{}])[0]).get("kind"), c) for c in cases if c.get("object")]
            untried = [
                k
                for k in wanted
                if not any(kind == k and _allows(c) for kind, c in kinds_of)
                or not any(kind == k and _denies(c) for kind, c in kinds_of)
            ]
            if untried:
                problems.append(
                    Finding.at(
                        suite_path,
                        "workload-cases",
                        f"{where}: no allowed and denied case for {', '.join(untried)}, which the constraint matches",
                        fix="add a sample of each kind whose pod template passes, and one whose pod template breaks it",
                    )
                )
    return problems


def _tested(suite_path: Path, suite: dict[str, Any]) -> set[str]:
    """The templates a suite's tests load: the first document of each file they name (gator reads no more)."""
    keys = set()
    for test in suite.get("tests") or []:
        path = suite_path.parent / str(test.get("template", ""))
        first = (_load(path) or [{}])[0] if path.is_file() else {}
        if first.get("kind") == "ConstraintTemplate":
            keys.add(_key(first))
    return keys


def _suites(docs: list[tuple[Path, dict[str, Any]]], found: list[Template]) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Each Suite under the root, and the suite.yaml beside each template outside it, once."""
    seen: set[Path] = set()
    for path, d in docs:
        if d.get("kind") == "Suite" and path not in seen:
            seen.add(path)
            yield path, d
    for t in found:
        beside = (t.path.parent / "suite.yaml").resolve()
        if beside not in seen and beside.is_file():
            seen.add(beside)
            loaded = _load(beside)
            yield beside, (loaded[0] if loaded else {})


def coverage(root: Path = POLICIES) -> list[Finding]:
    """Findings over the templates and suites under `root` (and what its kustomization deploys):
    see the module docstring for the rules."""
    docs, problems = _parsed(root)
    found = _templates(docs)
    by_kind = {t.kind: t for t in found}
    suites = list(_suites(docs, found))
    tested: set[str] = set()
    suite_dirs: dict[Path, Path] = {}
    for suite_path, suite in suites:
        if suite.get("kind") != "Suite":
            problems.append(Finding.at(suite_path, "suite-invalid", f"kind is {suite.get('kind')!r}, not Suite"))
            continue
        suite_dirs[suite_path.parent] = suite_path
        tested |= _tested(suite_path, suite)
        problems += _suite_problems(suite_path, suite)
    lib = WORKLOADS_LIB.read_text() if WORKLOADS_LIB.is_file() else ""
    for t in found:
        problems += _lib_copies(t, lib)
        if t.key in tested:
            continue
        what = f"ConstraintTemplate {t.name}"
        if t.path.parent not in suite_dirs:
            fix = "add one with allowed and denied cases"
            problems.append(Finding.at(t.path, "suite-missing", f"{what}: no suite.yaml beside it", fix=fix))
        else:
            message = f"{what}: no test in {shown(suite_dirs[t.path.parent])} uses it"
            fix = "give it a file of its own (template-<name>.yaml, one document) and a test naming that file"
            problems.append(Finding.at(t.path, "template-untested", message, fix=fix))
    known = {t.key for t in found}
    kustomization = next((root / k for k in KUSTOMIZATIONS if (root / k).is_file()), root)
    for built in built_templates(root):
        if _key(built) not in tested and _key(built) not in known:  # changed on its way: a patch
            name = (built.get("metadata") or {}).get("name", "?")
            message = f"ConstraintTemplate {name} as deployed (kustomize build) is not the one any suite tests"
            fix = "change the template file itself, not through a kustomize patch"
            problems.append(Finding.at(kustomization, "template-untested", message, fix=fix))
    for path, d in docs:
        if not str(d.get("apiVersion", "")).startswith(CONSTRAINT_GROUP + "/"):
            continue
        missing = _workload_kinds(d, by_kind.get(str(d.get("kind"))))
        if missing:
            name = (d.get("metadata") or {}).get("name", "?")
            message = (
                f"{d.get('kind')} {name} matches Pod but not {', '.join(missing)}: such a controller with a "
                "refused pod template is admitted (Argo CD: Healthy) and fails later at pod creation"
            )
            fix = (
                "match them too and read the pod spec through policies/lib/workloads.rego, or say why not "
                f"in the template's annotation {POD_ONLY}"
            )
            problems.append(Finding.at(path, "workload-kinds", message, fix=fix))
    return problems


def verify(root: Path = POLICIES) -> subprocess.CompletedProcess:
    """`gator verify` over every suite under root (the pinned gator)."""
    if not any((p / "suite.yaml").is_file() for p in policy_dirs(root)):
        raise BioGitopsError(f"no suite.yaml under {shown(root)}")
    # `path/...` walks the folder for Suite files, as `go test ./...` does for packages
    return subprocess.run([str(tools.which("gator")), "verify", "-v", f"{root}/..."], capture_output=True, text=True)


def main(argv: list[str] | None = None) -> int:
    """`python -m biogitops.checks.policy_suites [--root DIR] [--no-run]`: coverage findings, then gator verify."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=POLICIES, help="the policies folder (default: policies/)")
    parser.add_argument("--no-run", action="store_true", help="check coverage only; do not run gator")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        checked = f"{len(policy_dirs(root))} policies"
        if report(coverage(root), "suites", checked):
            return 1
        if args.no_run:
            return 0
        proc = verify(root)
    except BioGitopsError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        return 1
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    if proc.returncode != 0:
        print("error: gator verify failed (see the FAIL lines above)", file=sys.stderr)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
