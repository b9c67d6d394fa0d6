"""Docs that quote the code stay in step with it.

    python -m biogitops.checks.docs        # one line per finding; exit 1 when there is any

Rules (also run by `nox -s unit` through tests/unit/test_docs.py):
  readme-command   a doc line that quotes one of the README's commands (it starts as they do,
                   with `python3 -m venv`) is exactly one of them
  pinned-version   "<component> X.Y.Z" (or "vX.Y.Z") in a doc is the version pins.yaml pins for
                   that component: a tool, a chart, a node-image component, Kubernetes or Go;
                   the same in the comments and docstrings of code, checks and tests
                   (`check_code`: .py, .yaml, .sh, .tf, .toml, .go under CODE_DIRS)
  repo-path        a path of this repository quoted in a doc's code span (`tests/.../x.py`) exists;
                   spans with a placeholder (<env>, ENV, *, {..}, $X) are not paths
  pinned-module    in code and data, a Go module that pins.yaml pins (a tool's, a node-image
                   component's, a chart's goModule) named with a tag, `<module>@vX.Y.Z` or the
                   literals `"<module>", "vX.Y.Z"`, carries a tag pins.yaml pins for it
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
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


def _top_dirs(root: Path) -> set[str]:
    return {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".") and "." not in p.name}


def _generated(path: str) -> bool:
    """A path git ignores (made on each machine, e.g. secrets/dev/cert.pem): absent from a fresh clone."""
    import subprocess

    proc = subprocess.run(["git", "-C", str(REPO_ROOT), "check-ignore", "-q", path], capture_output=True, check=False)
    return proc.returncode == 0


def quoted_paths(line: str, tops: set[str]) -> list[str]:
    """Repository paths a doc line quotes in code spans: `<top dir>/.../<name>`, no placeholder."""
    out = []
    for span in re.findall(r"`([^`\s]+)`", line):
        if span.split("/", 1)[0] not in tops or "/" not in span or re.search(r"[<>*{}$]", span):
            continue
        if any(part.isupper() for part in span.split("/")):  # clusters/ENV/settings.yaml
            continue
        out.append(span.split("#")[0].split(":")[0].rstrip("/"))
    return out


def check(files: list[Path] | None = None, readme: Path = README, pins: Pins | None = None) -> list[Finding]:
    """Every finding over `files` (default: doc_files())."""
    tops = _top_dirs(REPO_ROOT)
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
            for quoted in quoted_paths(line, tops):
                if not (REPO_ROOT / quoted).exists() and not _generated(quoted):
                    message = f"quotes {quoted}, which does not exist in the repository"
                    findings.append(
                        Finding.at(path, "repo-path", message, line=number, fix="name the file as it is now")
                    )
    return findings


# ---------------------------------------------------------------- code, checks and tests

CODE_DIRS = (
    "biogitops",
    "tests",
    "observability",
    "clusters",
    "applications",
    "policies",
    "secrets",
    "infrastructure",
    "ci",
    "runbooks",
)
CODE_FILES = ("noxfile.py", "tasks.py", "pyproject.toml")
CODE_SUFFIXES = {".py", ".yaml", ".yml", ".sh", ".tf", ".toml", ".go", ".tpl"}
_HASH_COMMENT = re.compile(r"(?:^|\s)#+ ?(.*)$")


def code_files(root: Path = REPO_ROOT) -> list[Path]:
    """Code, data, checks and tests whose comments and module tags `check_code` reads."""
    found = [root / name for name in CODE_FILES if (root / name).is_file()]
    for directory in CODE_DIRS:
        found += [
            p
            for p in (root / directory).rglob("*")
            if p.suffix in CODE_SUFFIXES and p.is_file() and not SKIP_DIRS & set(p.relative_to(root).parts)
        ]
    return sorted(found)


def _python_prose(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and docstring line of a Python source."""
    out: list[tuple[int, str]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                out.append((token.start[0], token.string.lstrip("#").strip()))
        tree = ast.parse(text)
    except (SyntaxError, tokenize.TokenError):
        return out
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
            ):
                out += [(first.lineno + i, line) for i, line in enumerate(first.value.value.splitlines())]
    return out


def prose_lines(path: Path, text: str) -> list[tuple[int, str]]:
    """(line, text) of what a code file says in words: its comments (and Python docstrings)."""
    if path.suffix == ".py":
        return _python_prose(text)
    marker = "//" if path.suffix == ".go" else None
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if marker:
            if marker in line:
                out.append((number, line.split(marker, 1)[1]))
        elif m := _HASH_COMMENT.search(line):
            out.append((number, m.group(1)))
    return out


def pinned_modules(pins: Pins) -> dict[str, set[str]]:
    """Go module -> the tags pins.yaml pins it at (tools, node-image components, charts' goModule)."""
    modules: dict[str, set[str]] = {}
    for pin in [*pins.tools.values(), *pins.node_components.values()]:
        if pin.module:
            modules.setdefault(pin.module, set()).add(pin.go_module_version)
    for chart in pins.charts.values():
        if chart.get("goModule"):
            modules.setdefault(str(chart["goModule"]), set()).add(f"v{chart['version']}")
    return modules


def module_mentions(text: str, modules: Iterable[str]) -> list[tuple[int, str, str]]:
    """(line, module, tag) for `<module>@vX.Y.Z` and the literals `"<module>", "vX.Y.Z"`."""
    found = []
    for module in modules:
        name = re.escape(module)
        for pattern in (
            rf"(?<![\w./-]){name}@(v\d+\.\d+\.\d+)\b",
            rf"[\"']{name}[\"']\s*,\s*[\"'](v\d+\.\d+\.\d+)[\"']",
        ):
            for m in re.finditer(pattern, text):
                found.append((text.count("\n", 0, m.start(1)) + 1, module, m.group(1)))
    return sorted(found)


def check_code(files: list[Path] | None = None, pins: Pins | None = None) -> list[Finding]:
    """Every pinned-version finding in the comments of `files` (default: code_files()), and every
    pinned-module finding in their text."""
    pins = pins or load_pins()
    names = pinned_versions(pins)
    modules = pinned_modules(pins)
    findings: list[Finding] = []
    for path in files if files is not None else code_files():
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError):
            continue
        for number, line in prose_lines(path, text):
            for name, version in version_mentions(line, names):
                if version not in names[name]:
                    pinned = " or ".join(sorted(names[name]))
                    message = f"{name} {version}, but pins.yaml pins {pinned}"
                    findings.append(Finding.at(path, "pinned-version", message, line=number))
        for number, module, tag in module_mentions(text, modules):
            if tag not in modules[module]:
                pinned = " or ".join(sorted(modules[module]))
                message = f"{module} at {tag}, but pins.yaml pins {pinned}"
                fix = "read the version from pins.yaml (biogitops.config.pins), or correct the tag"
                findings.append(Finding.at(path, "pinned-module", message, line=number, fix=fix))
    return sorted(findings, key=str)


def main() -> int:
    """`python -m biogitops.checks.docs`: a line per finding, `file:line: rule: message`; exit 1 if any."""
    files = doc_files()
    code = code_files()
    return report(check(files) + check_code(code), "docs", f"{len(files)} pages, {len(code)} code files")


if __name__ == "__main__":
    sys.exit(main())
