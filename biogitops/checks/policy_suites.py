"""Gatekeeper policy suites: every template has a `gator verify` suite with allowed and denied
cases, and every suite passes.

    python -m biogitops.checks.policy_suites                      # check coverage, then gator verify every suite
    python -m biogitops.checks.policy_suites --root DIR --no-run  # coverage only, over another policies folder

A policy is a folder under policies/ holding template*.yaml (ConstraintTemplates) and a
suite.yaml; policies/gatekeeper/ holds the chart values and Config, not a policy.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from biogitops.errors import BioGitopsError
from biogitops.findings import Finding, report, shown
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

POLICIES = REPO_ROOT / "policies"
NOT_POLICIES = {"gatekeeper"}


def policy_dirs(root: Path = POLICIES) -> list[Path]:
    return sorted(
        d
        for d in root.iterdir()
        if d.is_dir() and d.name not in NOT_POLICIES and (list(d.glob("template*.yaml")) or (d / "suite.yaml").exists())
    )


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


def coverage(root: Path = POLICIES) -> list[Finding]:
    """Findings over the suites under `root`: a template without a suite test (rule suite-missing,
    template-untested), a suite without an allowed or a denied case (allowed-case, denied-case),
    a suite naming a file that does not exist (suite-file), an exemption outside the Config
    (constraint-exemption), a suite that is not one (suite-invalid)."""
    problems: list[Finding] = []
    for policy in policy_dirs(root):
        suite_path = policy / "suite.yaml"
        templates = sorted(policy.glob("template*.yaml"))
        if not suite_path.is_file():
            fix = "add one with allowed and denied cases"
            problems += [Finding.at(t, "suite-missing", "no suite.yaml beside it", fix=fix) for t in templates]
            continue
        try:
            suite = yaml.safe_load(suite_path.read_text()) or {}
        except yaml.YAMLError as err:
            problems.append(Finding.at(suite_path, "suite-invalid", f"not YAML ({str(err).splitlines()[0]})"))
            continue
        if suite.get("kind") != "Suite":
            problems.append(Finding.at(suite_path, "suite-invalid", f"kind is {suite.get('kind')!r}, not Suite"))
            continue
        tests = suite.get("tests") or []
        tested = {(policy / t.get("template", "")).resolve() for t in tests}
        for template in templates:
            if template.resolve() not in tested:
                problems.append(Finding.at(template, "template-untested", f"no test in {shown(suite_path)} uses it"))
        for i, test in enumerate(tests):
            where = f"tests[{i}] ({test.get('name', 'unnamed')})"
            for key in ("template", "constraint"):
                if not test.get(key) or not (policy / test[key]).is_file():
                    problems.append(
                        Finding.at(suite_path, "suite-file", f"{where}: {key} {test.get(key)!r} does not exist")
                    )
            cases = test.get("cases") or []
            for j, case in enumerate(cases):
                for name in [case.get("object"), *(case.get("inventory") or [])]:
                    if not name or not (policy / name).is_file():
                        message = f"{where}: cases[{j}]: file {name!r} does not exist"
                        problems.append(Finding.at(suite_path, "suite-file", message))
            constraint = policy / test.get("constraint", "")
            if constraint.is_file() and "excludedNamespaces" in (
                (yaml.safe_load(constraint.read_text()) or {}).get("spec") or {}
            ).get("match", {}):
                problems.append(
                    Finding.at(
                        constraint,
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
