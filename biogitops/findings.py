"""What a check found, and the one way every check reports it: a line per finding, an exit code.

    from biogitops.findings import Finding, report
    found = [Finding("runbooks/README.md", 6, "link", "link 'gone.md': no file gone.md")]
    raise SystemExit(report(found, "runbooks", "12 pages"))

prints

    runbooks/README.md:6: link: link 'gone.md': no file gone.md
    runbooks: 1 finding(s), rules: link (12 pages)

and exits 1 (0, after `runbooks: no findings (12 pages)`, when nothing was found). The checks
that use it: `python -m biogitops.checks.runbooks`, `.checks.docs`, `.checks.repo_rules`, `.checks.alert_rules`,
`.checks.policy_suites` and `python -m biogitops.infra.rules`. It lives at the top of the package,
beside errors.py, so that infra/ and checks/ both import it without importing each other.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from biogitops.paths import REPO_ROOT


def shown(path: Path, root: Path = REPO_ROOT) -> str:
    """`path` as a finding names it: relative to `root` when inside it, else as given."""
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


@dataclass(frozen=True)
class Finding:
    """One broken rule: where (file, and line when known), which rule, what is wrong, how to fix it.

    `file` is relative to the repository (or to the tree a check was pointed at) when inside
    it; `line` is 1-based, None when the check reads data without lines (rendered objects, HCL).
    """

    file: str
    line: int | None
    rule: str
    message: str
    fix: str = ""

    @classmethod
    def at(
        cls, path: Path, rule: str, message: str, *, line: int | None = None, fix: str = "", root: Path = REPO_ROOT
    ) -> Finding:
        """A finding in the file at `path`, named relative to `root` (see `shown`)."""
        return cls(shown(path, root), line, rule, message, fix)

    def __str__(self) -> str:
        """`file:line: rule: message (fix)`; without a line, `file: rule: message (fix)`."""
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        fix = f" ({self.fix})" if self.fix else ""
        return f"{where}: {self.rule}: {self.message}{fix}"


def report(findings: Iterable[Finding], check: str, checked: str = "", out: TextIO | None = None) -> int:
    """Print every finding on a line of its own, then one closing line; return the exit code.

    The closing line is `CHECK: N finding(s), rules: A, B (CHECKED)`, or `CHECK: no findings (CHECKED)`;
    `checked` says what was looked at ("7 rules", "40 pages"). 1 when anything was found, else 0.
    """
    found = list(findings)
    stream = out or sys.stdout
    scope = f" ({checked})" if checked else ""
    for finding in found:
        print(finding, file=stream)
    if not found:
        print(f"{check}: no findings{scope}", file=stream)
        return 0
    rules = ", ".join(sorted({f.rule for f in found}))
    print(f"{check}: {len(found)} finding(s), rules: {rules}{scope}", file=stream)
    return 1
