"""Docs that quote the code stay in step with it.

    python -m biogitops.checks.docs        # one line per finding; exit 1 when there is any

Rules (also run by `nox -s unit` through tests/unit/test_docs.py):
  readme-command   a doc line that quotes one of the README's commands (it starts as they do,
                   with `python3 -m venv`) is exactly one of them
  pinned-version   "<component> X.Y.Z" (or "vX.Y.Z") in a doc is the version pins.yaml pins for
                   that component: a tool, a chart, a node-image component, Kubernetes or Go
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path

from biogitops.config.pins import Pins, load_pins
from biogitops.findings import Finding, report
from biogitops.paths import REPO_ROOT

README = REPO_ROOT / "README.md"
COMMAND_START = "python3 -m venv"
SKIP_DIRS = {".git", ".venv", "out", "node_modules", "fixtures"}
VERSION = r"v?(\d+\.\d+\.\d+)\b"
# how docs name a pinned thing when it is not the pin's own name: name -> pin keys
# ("tools.X", "charts.X", "components.X", "kubernetes", "go"); any of them may match
PROSE_NAMES: dict[str, tuple[str, ...]] = {
    "Argo CD": ("tools.argocd",),
    "OpenTofu": ("tools.tofu",),
    "Prometheus": ("tools.prometheus",),
    "Helm": ("tools.helm",),
    "Gatekeeper": ("charts.gatekeeper", "tools.gator"),
    "Sealed Secrets": ("tools.kubeseal", "charts.sealed-secrets"),
    "Sealed Secrets controller": ("tools.kubeseal",),
    "sealed-secrets controller": ("tools.kubeseal",),
    "Spark operator": ("charts.spark-operator",),
    "Kubernetes": ("kubernetes",),
    "Go": ("go",),
    "CoreDNS": ("components.coredns",),
}


def doc_files(root: Path = REPO_ROOT) -> list[Path]:
    """README.md, handbook/, runbooks/ and every README.md below the root, outside caches and fixtures."""
    found = [p for p in root.rglob("*.md") if not SKIP_DIRS & set(p.relative_to(root).parts)]
    return sorted(p for p in found if p.parent.name in {"handbook", "runbooks"} or p.name == "README.md")


def readme_commands(readme: Path = README) -> set[str]:
    """Every line of the README's shell blocks that starts like a README command."""
    lines, inside = set(), False
    for line in readme.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside and line.strip() in {"```sh", "```bash", "```shell"}
            continue
        if inside and line.startswith(COMMAND_START):
            lines.add(line.strip())
    return lines


def quoted_commands(line: str) -> list[str]:
    """What a doc line quotes of the README's commands: a whole code line, or an inline `...` span."""
    if line.lstrip().startswith(COMMAND_START):
        return [line.split("  #")[0].strip()]
    return [span.strip() for span in re.findall(r"`([^`]*)`", line) if span.strip().startswith(COMMAND_START)]


def pinned_versions(pins: Pins) -> dict[str, set[str]]:
    """Every name a doc may use for a pinned thing -> the versions pinned for it."""
    table: dict[str, str] = {"kubernetes": pins.kubernetes_version, "go": pins.go_version}
    table.update({f"tools.{name}": pin.version for name, pin in pins.tools.items()})
    table.update({f"charts.{name}": str(chart["version"]) for name, chart in pins.charts.items()})
    table.update({f"components.{name}": pin.version for name, pin in pins.node_components.items()})
    names: dict[str, set[str]] = {}
    for ref, version in table.items():
        if "." in ref:
            names.setdefault(ref.split(".", 1)[1], set()).add(version)
    for prose, refs in PROSE_NAMES.items():
        names[prose] = {table[r] for r in refs}
    return names


def version_mentions(line: str, names: Iterable[str]) -> list[tuple[str, str]]:
    """(name, version) for each "<name> [v]X.Y.Z" in a line; the longest name wins at a place."""
    found: list[tuple[int, int, str, str]] = []  # start, end, name, version
    for name in sorted(names, key=len, reverse=True):
        pattern = rf"(?<![\w./-]){re.escape(name)}(?: (?:CLI|chart|image|release))? {VERSION}"
        for m in re.finditer(pattern, line):
            if not any(start <= m.start() < end for start, end, _, _ in found):
                found.append((m.start(), m.end(), name, m.group(1)))
    return [(name, version) for _, _, name, version in sorted(found)]


def check(files: list[Path] | None = None, readme: Path = README, pins: Pins | None = None) -> list[Finding]:
    """Every finding over `files` (default: doc_files())."""
    commands = readme_commands(readme)
    names = pinned_versions(pins or load_pins())
    findings: list[Finding] = []
    for path in files if files is not None else doc_files():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if path != readme:
                for quoted in quoted_commands(line):
                    if quoted not in commands:
                        message = f"quotes a command the README does not have: {quoted}"
                        findings.append(Finding.at(path, "readme-command", message, line=number))
            for name, version in version_mentions(line, names):
                if version not in names[name]:
                    pinned = " or ".join(sorted(names[name]))
                    message = f"{name} {version}, but pins.yaml pins {pinned}"
                    findings.append(Finding.at(path, "pinned-version", message, line=number))
    return findings


def main() -> int:
    """`python -m biogitops.checks.docs`: a line per finding, `file:line: rule: message`; exit 1 if any."""
    files = doc_files()
    return report(check(files), "docs", f"{len(files)} pages")


if __name__ == "__main__":
    sys.exit(main())
