"""Terraform/OpenTofu configuration read as data (python-hcl2), for rules and generated docs.

    from biogitops.infra.hcl import load_dir
    config = load_dir(Path("infrastructure/modules/vpc"))
    config.blocks("variable")      # [(path, name, body), ...]

Strings come back without quotes; expressions as "${...}". No provider is needed: nothing is
evaluated, so this runs where `tofu validate` cannot (no AWS provider on our machines).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

from biogitops.errors import ConfigError

_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def parse_file(path: Path) -> dict[str, Any]:
    """One .tf file as a dict; ConfigError naming the file when it does not parse."""
    try:
        return hcl2.loads(path.read_text(), serialization_options=_OPTIONS)
    except Exception as err:  # python-hcl2 raises lark errors of several kinds
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ConfigError(f"{path}: not valid HCL: {first}", "run `tofu fmt` on it to see where") from None


def is_expression(value: Any) -> bool:
    """True for an unevaluated expression ("${var.x}"), false for a literal."""
    return isinstance(value, str) and "${" in value


def unwrap(value: Any) -> str:
    """An expression or literal as HCL source text: "${map(string)}" -> "map(string)"."""
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return value[2:-1]
    return str(value)


@dataclass
class Config:
    """The .tf files of one directory (a module or an environment), parsed."""

    directory: Path
    files: dict[Path, dict[str, Any]] = field(default_factory=dict)

    def blocks(self, kind: str) -> list[tuple[Path, str, dict[str, Any]]]:
        """Every labelled block of `kind` (variable, output, module, resource TYPE.NAME, ...)."""
        found: list[tuple[Path, str, dict[str, Any]]] = []
        for path, data in self.files.items():
            for entry in data.get(kind, []):
                for name, body in entry.items():
                    if kind in ("resource", "data"):
                        for rname, rbody in body.items():
                            found.append((path, f"{name}.{rname}", rbody))
                    else:
                        found.append((path, name, body))
        return found

    def terraform_blocks(self) -> list[tuple[Path, dict[str, Any]]]:
        return [(path, block) for path, data in self.files.items() for block in data.get("terraform", [])]

    def locals(self) -> list[tuple[Path, dict[str, Any]]]:
        return [(path, block) for path, data in self.files.items() for block in data.get("locals", [])]


def load_dir(directory: Path) -> Config:
    """Parse every *.tf file directly in `directory` (not its subdirectories)."""
    config = Config(directory)
    for path in sorted(directory.glob("*.tf")):
        config.files[path] = parse_file(path)
    return config
