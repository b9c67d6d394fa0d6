"""The one report path of every check (biogitops/findings.py): a line per finding, then a closing
line, and exit 1 exactly when something was found.

    nox -s unit -- -k findings
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from biogitops.findings import Finding, report, shown
from biogitops.paths import REPO_ROOT

LINK = Finding("runbooks/README.md", 6, "link", "link 'gone.md': no file gone.md")
TAG = Finding("out/policy/dev/apps.yaml", None, "floating-tag", "Deployment x/y: nginx has no tag", "pin a version")


@pytest.mark.parametrize(
    ("finding", "line"),
    [
        (LINK, "runbooks/README.md:6: link: link 'gone.md': no file gone.md"),
        (TAG, "out/policy/dev/apps.yaml: floating-tag: Deployment x/y: nginx has no tag (pin a version)"),
    ],
    ids=["with-line", "without-line-with-fix"],
)
def test_a_finding_is_one_line_naming_file_line_and_rule(finding: Finding, line: str) -> None:
    assert str(finding) == line


@pytest.mark.parametrize(
    ("findings", "code", "last"),
    [
        ([], 0, "demo: no findings (3 pages)"),
        ([LINK], 1, "demo: 1 finding(s), rules: link (3 pages)"),
        ([TAG, LINK, LINK], 1, "demo: 3 finding(s), rules: floating-tag, link (3 pages)"),
    ],
    ids=["nothing-found-exits-0", "one-finding-exits-1", "three-findings-exit-1-naming-each-rule-once"],
)
def test_report_prints_each_finding_then_a_closing_line(findings: list[Finding], code: int, last: str) -> None:
    out = io.StringIO()
    assert report(findings, "demo", "3 pages", out=out) == code
    assert out.getvalue().splitlines() == [*map(str, findings), last]


def test_report_writes_to_stdout_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert report(iter([LINK]), "demo") == 1
    assert capsys.readouterr().out == f"{LINK}\ndemo: 1 finding(s), rules: link\n"


@pytest.mark.parametrize(
    ("path", "expected"),
    [(REPO_ROOT / "runbooks" / "README.md", "runbooks/README.md"), (Path("/elsewhere/x.tf"), "/elsewhere/x.tf")],
    ids=["inside-the-repository-relative", "outside-it-as-given"],
)
def test_a_finding_names_its_file_relative_to_the_repository(path: Path, expected: str) -> None:
    assert shown(path) == expected
    assert Finding.at(path, "rule", "what").file == expected
