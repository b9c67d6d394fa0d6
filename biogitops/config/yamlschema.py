"""Validate repository data files against JSON Schemas, with errors that name file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema

from biogitops.config.plainyaml import parse_plain_yaml, parse_yaml
from biogitops.errors import ConfigError

__all__ = ["field_path", "load_yaml", "parse_plain_yaml", "parse_yaml", "validate"]


def field_path(parts: Any) -> str:
    """Render a jsonschema error path as `a.b[0].c` ('<top>' when empty)."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top>"


def load_yaml(path: Path) -> Any:
    """Read one YAML document, turning parse errors into a ConfigError naming the file."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    return parse_yaml(text, path)


def validate(data: Any, schema: dict[str, Any], source: Path | str) -> None:
    """Raise ConfigError for the first (most specific) schema violation in `data`."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"{source}: {field_path(err.absolute_path)}: {err.message}")
