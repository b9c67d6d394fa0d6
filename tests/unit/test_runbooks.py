"""runbooks/ and handbook/ stay true to the code: commands, flags, links, alert pages.

    nox -s unit -- -k runbooks

Each check is shown to fire on a small bad page written into a copy of the layout (tmp_path).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from biogitops.checks import runbooks
from biogitops.paths import REPO_ROOT

RULE = """apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata: {name: test}
spec:
  groups:
    - name: g
      rules:
        - alert: DiskOnFire
          expr: vector(1)
"""


@pytest.fixture(scope="module")
def known() -> tuple[dict[str, set[str]], set[str]]:
    return runbooks._tasks(), runbooks._sessions()


def test_the_repository_passes_every_check() -> None:
    problems = runbooks.check()
    assert not problems, "\n".join(map(str, problems))


def test_the_pages_the_issue_asks_for_exist() -> None:
    for page in [
        "README.md",
        "incident-management.md",
        "scaling-best-practices.md",
        "rebuild-cluster.md",
        "onboard-lab.md",
        "offboard-lab.md",
        "upgrade.md",
        "rotate-secrets.md",
        "resume-bootstrap.md",
        "lab-sync-stuck.md",
    ]:
        assert (REPO_ROOT / "runbooks" / page).is_file(), f"runbooks/{page} is missing"


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("invoke lab.offboard genomics --env dev --yes", None),
        ("invoke bootstrap --env dev --stop-after argocd", None),
        ("invoke bootstrap -e dev -s argocd", None),
        ('invoke bootstrap --env "$ENV" ${PROVIDER:+--provider "$PROVIDER"}', None),
        ("invoke secrets.*", None),
        ("invoke --list", None),
        ("nox -s lint unit -- -k pins", None),
        ("invoke lab.offboard genomics --env dev --force", "invoke lab.offboard has no flag --force"),
        ("invoke bootstrap --stop-before argocd", "invoke bootstrap has no flag --stop-before"),
        ("invoke lab.remove genomics", "no invoke task 'lab.remove'"),
        ("invoke nothing.*", "no invoke collection 'nothing'"),
        ("nox -s lint docs", "no nox session 'docs'"),
    ],
)
def test_commands_are_checked_against_tasks_and_sessions(known, command: str, why: str | None) -> None:
    tasks_, sessions = known
    result = runbooks.check_command(command, tasks_, sessions)
    if why is None:
        assert result is None
    else:
        assert result is not None and why in result


def test_commands_are_found_in_spans_and_shell_blocks_with_their_line() -> None:
    text = (
        "# T\n\nRun `invoke status --env dev` first.\n\n```sh\nexport X=1\n"
        "ENV=dev invoke bootstrap --env dev && nox -s unit\n```\n\n```yaml\ninvoke: not a command\n```\n"
    )
    assert runbooks.commands(text) == [
        (7, "ENV=dev invoke bootstrap --env dev"),
        (7, "nox -s unit"),
        (3, "invoke status --env dev"),
    ]


def _layout(tmp_path: Path) -> Path:
    """A minimal repository: handbook/CONTRIBUTING.md, a rule file, runbooks/alerts/."""
    (tmp_path / "handbook").mkdir()
    (tmp_path / "handbook" / "CONTRIBUTING.md").write_text("# Contributing\n\n## Test tiers\n")
    (tmp_path / runbooks.ALERT_RULES).mkdir(parents=True)
    (tmp_path / runbooks.ALERT_RULES / "disk.yaml").write_text(RULE)
    (tmp_path / runbooks.ALERT_PAGES).mkdir(parents=True)
    (tmp_path / runbooks.ALERT_PAGES / "DiskOnFire.md").write_text("# DiskOnFire\n")
    return tmp_path


def test_a_renamed_flag_in_a_page_fails_naming_page_and_line(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    (root / "runbooks" / "offboard-lab.md").write_text(
        "# Offboard\n\n<!-- runbook: run offboard -->\n\n```sh\ninvoke lab.offboard x --env dev --confirm\n```\n"
    )
    problems = [str(p) for p in runbooks.check(root)]
    assert problems == [
        "runbooks/offboard-lab.md:6: command: `invoke lab.offboard x --env dev --confirm`: "
        "invoke lab.offboard has no flag --confirm (it takes "
        + ", ".join(sorted(runbooks._tasks()["lab.offboard"]))
        + ")"
    ]


def test_broken_links_and_anchors_fail(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    (root / "runbooks" / "README.md").write_text(
        "# Runbooks\n\n## Good heading\n\n"
        "[ok](#good-heading) [ok](../handbook/CONTRIBUTING.md#test-tiers) [web](https://example.org/x)\n"
        "[gone](missing.md) [no anchor](../handbook/CONTRIBUTING.md#nope) [self](#nope)\n"
        "`[not a link](nowhere.md)`\n"
    )
    problems = [str(p) for p in runbooks.check(root)]
    assert problems == [
        "runbooks/README.md:6: link: link 'missing.md': no file missing.md",
        "runbooks/README.md:6: link: link '../handbook/CONTRIBUTING.md#nope': "
        "no heading #nope in ../handbook/CONTRIBUTING.md",
        "runbooks/README.md:6: link: link '#nope': no heading #nope in runbooks/README.md",
    ]


def test_anchors_follow_github_rules() -> None:
    text = "# A `code` title!\n\n## What `nox -s render` checks\n\n## Dup\n\n## Dup\n\n```sh\n# not a heading\n```\n"
    assert runbooks.anchors(text) == {"a-code-title", "what-nox--s-render-checks", "dup", "dup-1"}


def test_an_alert_without_a_page_and_a_page_without_an_alert_fail(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    (root / runbooks.ALERT_PAGES / "DiskOnFire.md").unlink()
    (root / runbooks.ALERT_PAGES / "OldAlert.md").write_text("# OldAlert\n")
    problems = [str(p) for p in runbooks.check_alert_pages(root)]
    assert problems == [
        "observability/prometheus/alert-rules/disk.yaml:1: alert-page: alert DiskOnFire has no page "
        "runbooks/alerts/DiskOnFire.md",
        "runbooks/alerts/OldAlert.md:1: alert-page: page for alert OldAlert, which no rule in "
        "observability/prometheus/alert-rules/ defines",
    ]


def test_deleting_a_runbook_page_fails_the_link_check(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for folder in ["runbooks", "handbook", "observability/prometheus/alert-rules"]:
        shutil.copytree(REPO_ROOT / folder, root / folder)
    (root / "runbooks" / "offboard-lab.md").unlink()
    problems = [str(p) for p in runbooks.check(root)]
    assert any(p.startswith("runbooks/README.md:") and ": link: " in p and "offboard-lab.md" in p for p in problems)


def test_a_session_marked_planned_may_be_quoted(tmp_path: Path) -> None:
    root = _layout(tmp_path)
    contributing = root / "handbook" / "CONTRIBUTING.md"
    contributing.write_text(
        contributing.read_text()
        + "\n| session | what | today |\n| --- | --- | --- |\n| `docs` | x | planned: no such session yet |\n"
    )
    assert runbooks.planned_sessions(root) == {"docs"}


def test_marked_steps_come_out_in_page_order_with_their_line(tmp_path: Path) -> None:
    page = tmp_path / "runbooks" / "p.md"
    page.parent.mkdir()
    page.write_text(
        "# P\n\n<!-- runbook: run demo -->\n\n```sh\necho one\n```\n\n```sh\necho unmarked\n```\n\n"
        "1. step\n\n   <!-- runbook: run demo -->\n\n   ```sh\n   echo two\n   ```\n"
    )
    steps = runbooks.steps("runbooks/p.md", "demo", tmp_path)
    assert [(s.line, s.script) for s in steps] == [(6, "echo one"), (18, "echo two")]
    with pytest.raises(LookupError, match="no block marked"):
        runbooks.steps("runbooks/p.md", "other", tmp_path)


def test_the_lifecycle_procedures_are_marked() -> None:
    for page, procedure in [
        ("runbooks/onboard-lab.md", "onboard"),
        ("runbooks/offboard-lab.md", "offboard"),
        ("runbooks/resume-bootstrap.md", "resume"),
        ("runbooks/rebuild-cluster.md", "rebuild"),
    ]:
        assert runbooks.steps(page, procedure), page


def test_the_markdown_lint_fires_on_a_bad_page(tmp_path: Path) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("# Title\n```\nno language, no blank line\n```\n" + "word " * 40 + "\n")
    result = subprocess.run(
        [sys.executable, "-m", "pymarkdown", "--config", str(REPO_ROOT / ".pymarkdown.json"), "scan", str(bad)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    for rule in ["MD031", "MD040", "MD013"]:
        assert rule in result.stdout, result.stdout


def test_a_broken_step_fails_naming_page_and_line(tmp_path: Path) -> None:
    page = tmp_path / "runbooks" / "p.md"
    page.parent.mkdir()
    page.write_text(
        '# P\n\n<!-- runbook: run demo -->\n\n```sh\necho "$LAB" > seen\n```\n\n'
        "<!-- runbook: run demo -->\n\n```sh\ninvoke no-such-task | cat\n```\n\n"
        "<!-- runbook: run demo -->\n\n```sh\ntouch never\n```\n"
    )
    env = {"PATH": "/usr/bin:/bin", "LAB": "x"}
    with pytest.raises(runbooks.StepFailed, match=r"^runbooks/p\.md:12: step of `demo` exited 127"):
        runbooks.run_steps("runbooks/p.md", "demo", env, tmp_path)
    assert (tmp_path / "seen").read_text() == "x\n"
    assert not (tmp_path / "never").exists()
