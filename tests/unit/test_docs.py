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
        ("Blocks run on kwok by `tests/integration/test_runbooks.py`.\n", ["repo-path"]),
        ("Blocks run on kwok by `tests/integration/test_zz_runbooks.py`.\n", []),
        ("Each lab is `clusters/<env>/labs/<lab>.yaml`, e.g. `clusters/ENV/settings.yaml`.\n", []),
        ("dev's certificate is `secrets/dev/cert.pem`, made on each machine.\n", []),
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
        "quoted-test-file-does-not-exist",
        "quoted-test-file-exists",
        "placeholder-paths-are-not-checked",
        "gitignored-path-made-on-each-machine",
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


# version numbers in code: comments and docstrings name pinned things at their pinned version,
# and a pinned Go module is referred to at its pinned tag (issue 24: metrics.yaml and crds.py cited
# a Sealed Secrets controller release that pins.yaml does not deploy). The wrong tags below are
# built from two strings, so that this file does not quote them itself.
STALE = "@" + "v0.39.1"


@pytest.mark.parametrize(
    ("name", "text", "rules"),
    [
        ("metrics.yaml", "  # sealed-secrets chart 2.19.3 runs the controller\n", ["pinned-version"]),
        ("metrics.yaml", f"    module: github.com/bitnami-labs/sealed-secrets{STALE}\n", ["pinned-module"]),
        (
            "crds.py",
            'CHART_CRDS = {\n    "sealed-secrets": (\n        "github.com/bitnami-labs/sealed-secrets",\n'
            '        "v0.39.1",\n        "helm/sealed-secrets/crds",\n    ),\n}\n',
            ["pinned-module"],
        ),
        ("check.py", '"""Builds Argo CD 3.6.1 for kwok."""\n', ["pinned-version"]),
        ("check.py", "x = 1  # the Prometheus 3.14.0 API\n", ["pinned-version"]),
        ("test_x.py", 'CASES = ["We run Argo CD 3.6.1 here."]  # a wrong version on purpose\n', []),
        ("metrics.yaml", "    module: github.com/bitnami-labs/sealed-secrets@v0.27.1  # kubeseal 0.27.1\n", []),
        ("metrics.yaml", "    module: k8s.io/kube-state-metrics/v2@v2.20.0\n", []),
    ],
    ids=[
        "yaml-comment-chart-version-not-pinned",
        "yaml-module-tag-not-pinned",
        "python-module-tag-literal-not-pinned",
        "docstring-version-not-pinned",
        "python-comment-version-not-pinned",
        "python-string-is-not-a-claim",
        "pinned-module-and-comment",
        "unpinned-module-is-not-checked",
    ],
)
def test_code_check(tmp_path: Path, name: str, text: str, rules: list[str]) -> None:
    path = tmp_path / name
    path.write_text(text)
    assert [f.rule for f in docs.check_code([path], pins=load_pins())] == rules


def test_the_repository_code_agrees_with_pins() -> None:
    found = docs.check_code()
    assert not found, "\n".join(map(str, found))
