"""Validate repository data files against JSON Schemas, with errors that name file and field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

from biogitops.errors import ConfigError


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


def parse_yaml(text: str, path: Path | str) -> Any:
    """Parse one YAML document; errors name `path` (a file, or `REV:file` from git)."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(err, 'problem', err)}") from None


def _refuse(path: Path | str, mark: Any, rule: str, problem: str, fix: str) -> ConfigError:
    return ConfigError(f"{path}:{mark.line + 1}: {problem} (rule {rule})", fix)


def _check_plain_events(text: str, path: Path | str) -> None:
    """Refuse anchors, aliases, explicit tags and a second document: constructs PyYAML and Go YAML
    (what Argo CD reads a file with) resolve differently, or that hide one value behind another."""
    documents = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.DocumentStartEvent):
            documents += 1
            if documents > 1:
                raise _refuse(
                    path, event.start_mark, "yaml-documents", "more than one YAML document", "one lab per file"
                )
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _refuse(
                path, event.start_mark, "yaml-anchor", "an anchor (&) or alias (*)", "write every value out in full"
            )
        tag = getattr(event, "tag", None)
        if tag is not None:  # the parser reports a tag only when the file writes one
            raise _refuse(
                path, event.start_mark, "yaml-tag", f"an explicit tag ({tag})", "remove the tag; quote strings"
            )


def _check_keys(node: yaml.Node, path: Path | str) -> None:
    """Refuse `<<:` merge keys and keys given twice, anywhere in the document."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or (isinstance(key, yaml.ScalarNode) and key.value == "<<"):
                raise _refuse(
                    path,
                    key.start_mark,
                    "yaml-merge-key",
                    "a `<<:` merge key; Go YAML and PyYAML resolve it differently",
                    "write the keys out in full",
                )
            name = key.value if isinstance(key, yaml.ScalarNode) else repr(key)
            if name in seen:
                raise _refuse(path, key.start_mark, "yaml-duplicate-key", f"`{name}` is given twice", "keep one")
            seen.add(name)
            _check_keys(value, path)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_keys(item, path)


def parse_plain_yaml(text: str, path: Path | str) -> Any:
    """Parse one YAML document that every YAML reader reads alike: no anchors or aliases, merge
    keys, duplicate keys, explicit tags or second documents (each refused naming its line and rule).

        parse_plain_yaml(Path("clusters/dev/labs/genomics.yaml").read_text(), "genomics.yaml")
    """
    try:
        _check_plain_events(text, path)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    if node is not None:
        _check_keys(node, path)
    return parse_yaml(text, path)


def validate(data: Any, schema: dict[str, Any], source: Path | str) -> None:
    """Raise ConfigError for the first (most specific) schema violation in `data`."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    if errors:
        err = jsonschema.exceptions.best_match(errors)
        raise ConfigError(f"{source}: {field_path(err.absolute_path)}: {err.message}")
