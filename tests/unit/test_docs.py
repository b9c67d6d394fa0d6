"""The docs check (biogitops/checks/docs.py): README commands and pinned versions quoted exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from biogitops.checks import docs
from biogitops.config.pins import load_pins

README = """# x

```sh
python3 -m venv .venv && . .venv/bin/activate && pip install -e . && invoke bootstrap --env dev
```
"""


def findings_for(tmp_path: Path, text: str) -> list[str]:
    readme = tmp_path / "README.md"
    readme.write_text(README)
    page = tmp_path / "PAGE.md"
    page.write_text(text)
    return [f.rule for f in docs.check([readme, page], readme=readme, pins=load_pins())]


def test_the_repository_docs_agree_with_the_readme_and_pins() -> None:
    found = docs.check()
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("```sh\npython3 -m venv .venv && pip install -e . && invoke bootstrap --env dev\n```\n", ["readme-command"]),
        ("Run `python3 -m venv .venv && nox` first.\n", ["readme-command"]),
        (README.split("\n", 2)[2], []),
        ("We run Argo CD 3.6.1 here.\n", ["pinned-version"]),
        ("kubeseal v0.39.1 is deployed.\n", ["pinned-version"]),
        ("The kind node runs Kubernetes 1.35.0.\n", ["pinned-version"]),
        (f"We run Argo CD {load_pins().tools['argocd'].version} here.\n", []),
        ("The Sealed Secrets chart 2.16.0 and controller 0.27.1.\n", []),
        ("Kubernetes 1.35+ kubelets refuse cgroup v1.\n", []),
    ],
    ids=[
        "command-not-the-readmes",
        "inline-command-not-the-readmes",
        "readme-command-quoted-exactly",
        "argocd-version-not-pinned",
        "kubeseal-version-not-pinned",
        "kubernetes-version-not-pinned",
        "argocd-pinned-version",
        "chart-and-app-versions-both-pinned",
        "a-range-is-not-a-version",
    ],
)
def test_docs_check(tmp_path: Path, text: str, rules: list[str]) -> None:
    assert findings_for(tmp_path, text) == rules


def test_a_finding_names_page_line_and_rule_even_outside_the_repository(tmp_path: Path) -> None:
    """DocFinding printed its path relative to the repository, and raised for a page outside it."""
    readme, page = tmp_path / "README.md", tmp_path / "PAGE.md"
    readme.write_text(README)
    page.write_text("# Page\n\nWe run Argo CD 3.6.1 here.\n")
    [finding] = docs.check([page], readme=readme, pins=load_pins())
    pinned = load_pins().tools["argocd"].version
    assert str(finding) == f"{page}:3: pinned-version: Argo CD 3.6.1, but pins.yaml pins {pinned}"
