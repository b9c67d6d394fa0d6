"""CI workflow files: the GitHub copies match ci/actions/, and every workflow uses pinned actions."""

from __future__ import annotations

import re

import yaml

from biogitops.checks import workflows
from biogitops.paths import REPO_ROOT


def test_github_copies_of_reusable_workflows_are_current() -> None:
    stale = [str(p.relative_to(REPO_ROOT)) for p in workflows.stale()]
    assert stale == [], f"run `invoke ci.sync`: {stale}"


def test_ci_calls_every_reusable_workflow() -> None:
    ci = yaml.safe_load((REPO_ROOT / ".github/workflows/ci.yml").read_text())
    called = {job["uses"] for job in ci["jobs"].values() if "uses" in job}
    assert called == {f"./.github/workflows/{p.name}" for p in workflows.SOURCE.glob("*.yml")}


def test_every_action_is_pinned_to_a_commit() -> None:
    files = list(workflows.SOURCE.glob("*.yml")) + list(workflows.TARGET.glob("*.yml"))
    uses = [u for f in files for u in re.findall(r"uses:\s*([^\s#]+)", f.read_text())]
    external = [u for u in uses if not u.startswith("./")]
    assert external, "no actions found"
    assert [u for u in external if not re.search(r"@[0-9a-f]{40}$", u)] == []
