"""Checks that keep runbooks/ and handbook/ true to the code.

Run: `python -m biogitops.checks.runbooks` (also part of `nox -s unit` through tests/unit/test_runbooks.py).

Each finding is one line, `file:line: rule: message`; the rules:

- command: every `invoke TASK --flag` and `nox -s SESSION` quoted in a code span or fenced block
  names a task/session that exists and flags the task accepts;
- link: every relative markdown link resolves, file and `#anchor`;
- alert-page: every alert in observability/prometheus/alert-rules/ has runbooks/alerts/<Alert>.md,
  and every page there an alert.

Executable procedures: a fenced ```sh block directly after `<!-- runbook: run NAME -->` is a
step of procedure NAME; `steps(page, NAME)` returns them in page order (with their line) for
the kwok integration tests, which run them one by one.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from invoke import Collection, Config
from invoke.loader import FilesystemLoader

from biogitops.findings import Finding, report
from biogitops.paths import REPO_ROOT

DOC_DIRS = ("runbooks", "handbook")
ALERT_RULES = Path("observability/prometheus/alert-rules")
ALERT_PAGES = Path("runbooks/alerts")
FENCE = re.compile(r"^(\s*)(```|~~~)(.*)$")
MARKER = re.compile(r"^<!--\s*runbook:\s*run\s+([a-z0-9-]+)\s*-->\s*$")
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
SPAN = re.compile(r"`([^`\n]+)`")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


@dataclass(frozen=True)
class Step:
    """A marked command block: the commands to run and where they are written."""

    path: str
    line: int
    script: str


def doc_files(root: Path = REPO_ROOT) -> list[Path]:
    """Markdown files under runbooks/ and handbook/."""
    return sorted(p for d in DOC_DIRS for p in (root / d).rglob("*.md"))


def _blocks(text: str) -> tuple[list[tuple[int, str, str, str | None]], set[int]]:
    """Fenced blocks as (first content line, info string, body, marker name) and fenced line numbers."""
    lines = text.splitlines()
    blocks, fenced = [], set()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        marker = None
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0 and (mm := MARKER.match(lines[j].strip())):
            marker = mm.group(1)
        start, body = i + 1, []
        fenced.add(i + 1)
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(m.group(2)):
            body.append(lines[i][len(m.group(1)) :] if lines[i].startswith(m.group(1)) else lines[i])
            fenced.add(i + 1)
            i += 1
        fenced.add(i + 1)
        blocks.append((start + 1, m.group(3).strip(), "\n".join(body), marker))
        i += 1
    return blocks, fenced


def commands(text: str) -> list[tuple[int, str]]:
    """(line, command) for every `invoke ...`/`nox ...` in code spans and shell blocks."""
    found: list[tuple[int, str]] = []
    blocks, fenced = _blocks(text)
    for start, info, body, _ in blocks:
        if info not in ("sh", "bash", "console", "shell", ""):
            continue
        for offset, line in enumerate(body.splitlines()):
            for part in re.split(r"&&|\|\||;|\|", line.split(" #")[0]):
                part = part.strip().removeprefix("$ ")
                if re.match(r"^(\S+=\S+\s+)*(invoke|nox)\b", part):
                    found.append((start + offset, part))
    for number, line in enumerate(text.splitlines(), 1):
        if number in fenced:
            continue
        for span in SPAN.findall(line):
            if re.match(r"^(invoke|nox)(\s|$)", span):
                found.append((number, span))
    return found


def _words(command: str) -> list[str]:
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    while words and re.match(r"^\w+=", words[0]):
        words.pop(0)
    return words


@functools.cache
def _tasks() -> dict[str, set[str]]:
    """Task name -> accepted flags (long and short, with dashes), from the collection Invoke's own
    loader finds at the repository root (as `invoke` does), not from an import of tasks.py."""
    module, _ = FilesystemLoader(start=str(REPO_ROOT), config=Config()).load("tasks")
    ns = Collection.from_module(module)
    known: dict[str, set[str]] = {}
    for name in ns.task_names:
        flags = {"--help", "-h"}
        for arg in ns[name].get_arguments():
            for n in arg.names:
                flags.add(("--" if len(n) > 1 else "-") + n)
            if arg.kind is bool:
                flags.add(f"--no-{arg.names[0]}")
        known[name] = flags
    return known


@functools.cache
def _sessions() -> set[str]:
    """Session names from noxfile.py."""
    import runpy

    import nox.registry

    runpy.run_path(str(REPO_ROOT / "noxfile.py"))
    return set(nox.registry.get())


def planned_sessions(root: Path = REPO_ROOT) -> set[str]:
    """Sessions the test-tier table of handbook/CONTRIBUTING.md marks "planned" (may be quoted)."""
    table = (root / "handbook" / "CONTRIBUTING.md").read_text()
    return set(re.findall(r"^\| `(\w+)` \|.*\| planned[^|]*\|\s*$", table, flags=re.M))


def check_command(command: str, tasks_: dict[str, set[str]], sessions: set[str]) -> str | None:
    """Why this command would fail to parse, or None."""
    words = _words(command)
    if not words:
        return None
    tool, args = words[0], words[1:]
    if tool == "nox":
        if "--" in args:
            args = args[: args.index("--")]
        i = 0
        while i < len(args):
            if args[i] in ("-s", "--session", "--sessions"):
                i += 1
                while i < len(args) and not args[i].startswith("-"):
                    if args[i] not in sessions and not args[i].isupper():
                        return f"`{command}`: no nox session {args[i]!r} (noxfile.py has {', '.join(sorted(sessions))})"
                    i += 1
                continue
            i += 1
        return None
    if not args or args[0].startswith("-") or args[0] == "...":
        return None  # `invoke --list`, `invoke --help`
    task, rest = args[0], args[1:]
    if task.endswith(".*"):
        if not any(name.startswith(task[:-1]) for name in tasks_):
            return f"`{command}`: no invoke collection {task[:-2]!r} (see `invoke --list`)"
        return None
    if task not in tasks_:
        return f"`{command}`: no invoke task {task!r} (see `invoke --list`)"
    for word in rest:
        flag = word.split("=")[0]
        if flag.startswith("-") and flag not in tasks_[task]:
            return f"`{command}`: invoke {task} has no flag {flag} (it takes {', '.join(sorted(tasks_[task]))})"
    return None


def anchors(text: str) -> set[str]:
    """GitHub-style anchors of the headings in a markdown text."""
    seen: dict[str, int] = {}
    result = set()
    _, fenced = _blocks(text)
    for number, line in enumerate(text.splitlines(), 1):
        m = HEADING.match(line)
        if not m or number in fenced:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(2).strip().lower().replace("`", "")).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def check_links(path: Path, text: str, root: Path) -> list[Finding]:
    """Every relative link in `text` resolves to a file (and a heading, when it has #anchor)."""
    problems = []
    rel = str(path.relative_to(root))
    _, fenced = _blocks(text)
    for number, line in enumerate(text.splitlines(), 1):
        if number in fenced:
            continue
        for target in LINK.findall(SPAN.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                continue
            file_part, _, anchor = target.partition("#")
            dest = (path.parent / file_part).resolve() if file_part else path
            if not dest.exists():
                problems.append(Finding(rel, number, "link", f"link {target!r}: no file {file_part}"))
                continue
            if anchor and dest.suffix == ".md" and anchor not in anchors(dest.read_text()):
                problems.append(
                    Finding(rel, number, "link", f"link {target!r}: no heading #{anchor} in {file_part or rel}")
                )
    return problems


def alert_names(root: Path = REPO_ROOT) -> dict[str, str]:
    """Alert name -> the rule file that defines it."""
    names: dict[str, str] = {}
    for rule_file in sorted((root / ALERT_RULES).glob("*.yaml")):
        for doc in yaml.safe_load_all(rule_file.read_text()):
            for group in ((doc or {}).get("spec") or {}).get("groups") or []:
                for rule in group.get("rules") or []:
                    if "alert" in rule:
                        names[rule["alert"]] = str(rule_file.relative_to(root))
    return names


def check_alert_pages(root: Path = REPO_ROOT) -> list[Finding]:
    """Every alert has a page and every page an alert."""
    alerts = alert_names(root)
    pages = {p.stem: p for p in (root / ALERT_PAGES).glob("*.md") if p.name != "README.md"}
    problems = [
        Finding(file, 1, "alert-page", f"alert {name} has no page {ALERT_PAGES}/{name}.md")
        for name, file in sorted(alerts.items())
        if name not in pages
    ]
    problems += [
        Finding(
            str(p.relative_to(root)), 1, "alert-page", f"page for alert {name}, which no rule in {ALERT_RULES}/ defines"
        )
        for name, p in sorted(pages.items())
        if name not in alerts
    ]
    return problems


def check(root: Path = REPO_ROOT) -> list[Finding]:
    """All checks over runbooks/ and handbook/."""
    tasks_, sessions = _tasks(), _sessions() | planned_sessions(root)
    problems: list[Finding] = []
    for path in doc_files(root):
        text = path.read_text()
        for line, command in commands(text):
            if why := check_command(command, tasks_, sessions):
                problems.append(Finding(str(path.relative_to(root)), line, "command", why))
        problems += check_links(path, text, root)
    return problems + check_alert_pages(root)


def steps(page: str, procedure: str, root: Path = REPO_ROOT) -> list[Step]:
    """The marked blocks of `procedure` in `page` (relative to the repository), in order."""
    path = root / page
    blocks, _ = _blocks(path.read_text())
    found = [Step(page, start, body) for start, _, body, marker in blocks if marker == procedure]
    if not found:
        raise LookupError(f"{page}: no block marked `<!-- runbook: run {procedure} -->`")
    return found


class StepFailed(Exception):
    """A marked block exited non-zero; the message starts with page:line."""


def run_steps(page: str, procedure: str, env: dict[str, str], root: Path = REPO_ROOT, timeout: float = 1800) -> int:
    """Run the marked blocks of `procedure` one by one with `bash -euo pipefail` in `root`.

    Raises StepFailed naming the page and line of the first block that fails; returns how many ran.
    """
    found = steps(page, procedure, root)
    for step in found:
        run_step(step, procedure, env, root, timeout)
    return len(found)


def run_step(step: Step, procedure: str, env: dict[str, str], root: Path = REPO_ROOT, timeout: float = 1800) -> None:
    """Run one marked block with `bash -euo pipefail` in `root`; raise StepFailed (page:line) if it fails."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step.script],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        where = f"{step.path}:{step.line}"
        raise StepFailed(f"{where}: step of `{procedure}` exited {result.returncode}\n{step.script}\n{tail}")


def main() -> int:
    """`python -m biogitops.checks.runbooks`: every finding as `file:line: rule: message`; exit 1 if any."""
    checked = f"{len(doc_files())} pages, {len(alert_names())} alerts with pages"
    return report(check(), "runbooks", checked)


if __name__ == "__main__":
    raise SystemExit(main())
