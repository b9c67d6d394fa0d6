"""Each Terraform module's README lists its inputs and outputs, generated from variables.tf and outputs.tf.

    invoke infra.docs                       # rewrite the generated part of every module README
    python -m biogitops.infra.readmes      # the same

Only the text between the BEGIN/END markers is generated; the prose above and below is kept.
The `readme-fresh` rule of `nox -s terraform` fails when a README differs from what this writes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from biogitops.infra.hcl import Config, is_expression, load_dir, unwrap
from biogitops.paths import REPO_ROOT

MODULES_DIR = REPO_ROOT / "infrastructure" / "modules"
BEGIN = "<!-- BEGIN GENERATED: invoke infra.docs -->"
END = "<!-- END GENERATED -->"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _default(body: dict[str, Any]) -> str:
    if "default" not in body:
        return ""
    value = body["default"]
    shown = unwrap(value) if is_expression(value) else json.dumps(value)
    return f"`{_cell(shown)}`"


def tables(config: Config) -> str:
    """The generated Markdown: an Inputs and an Outputs table, in file order."""
    lines = ["## Inputs", "", "| name | type | default | required | description |", "| --- | --- | --- | --- | --- |"]
    for _, name, body in config.blocks("variable"):
        required = "no" if "default" in body else "yes"
        kind = _cell(unwrap(body.get("type", "any")))
        lines.append(f"| `{name}` | `{kind}` | {_default(body)} | {required} | {_cell(body.get('description', ''))} |")
    lines += ["", "## Outputs", "", "| name | sensitive | description |", "| --- | --- | --- |"]
    for _, name, body in config.blocks("output"):
        sensitive = "yes" if body.get("sensitive") is True else "no"
        lines.append(f"| `{name}` | {sensitive} | {_cell(body.get('description', ''))} |")
    return "\n".join(lines)


def render(directory: Path) -> str:
    """The README of the module in `directory` with its generated part brought up to date."""
    readme = directory / "README.md"
    generated = f"{BEGIN}\n{tables(load_dir(directory))}\n{END}"
    if not readme.is_file():
        return f"# {directory.name}\n\n{generated}\n"
    text = readme.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        return f"{head}{generated}{tail}"
    return f"{text.rstrip()}\n\n{generated}\n"


def modules(root: Path = MODULES_DIR) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and any(p.glob("*.tf"))) if root.is_dir() else []


def write(root: Path = MODULES_DIR) -> list[Path]:
    """Rewrite every module README whose generated part is stale; returns the files written."""
    written = []
    for directory in modules(root):
        readme, text = directory / "README.md", render(directory)
        if not readme.is_file() or readme.read_text() != text:
            readme.write_text(text)
            written.append(readme)
    return written


if __name__ == "__main__":
    for path in write():
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    sys.exit(0)
