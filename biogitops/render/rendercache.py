"""Rendered charts, kept under the hash of everything that went into them.

`helm template` costs about 0.1 s a lab, and bootstrap renders every lab's tenancy twice (the
preflight check and the expected graph): at a thousand labs that is minutes, on every bootstrap.
With this cache a bootstrap renders only what changed (the new lab, a lab file edited, a chart
edited): the key covers the chart's files, the value files, the values, the arguments and the
helm binary, so a hit is exactly what helm would print.

    key = render_key(argv, files=[chart_dir, *value_files], binary=helm)
    objs = load(key)            # None on a miss
    store(key, objs)

Entries live in <cache>/render/ (paths.cache_dir); beyond MAX_ENTRIES the oldest half goes.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from biogitops.paths import cache_dir

MAX_ENTRIES = 20000  # about 20 KB each: a few hundred MB at most


def _dir() -> Path:
    return cache_dir() / "render"


def _feed_tree(digest: Any, path: Path) -> None:
    """Every file under `path` (or `path` itself): its relative name and content."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode() + b"\0")
        digest.update(file.read_bytes() + b"\0")


def render_key(argv: list[str], files: list[Path], binary: Path, texts: list[str] | None = None) -> str:
    """The hash of one render's inputs: arguments, file trees (content), texts (inline values),
    and the binary's identity (size and mtime: it is pinned, rebuilt only on a pin change)."""
    digest = hashlib.sha256()
    stat = binary.stat()
    digest.update(f"{binary}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    for arg in argv:
        digest.update(arg.encode() + b"\0")
    for path in files:
        _feed_tree(digest, path)
    for text in texts or []:
        digest.update(text.encode() + b"\0")
    return digest.hexdigest()


def load(key: str) -> list[dict[str, Any]] | None:
    try:
        return json.loads((_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None


def store(key: str, objs: list[dict[str, Any]]) -> None:
    """Write one entry atomically (a concurrent reader sees all of it or nothing)."""
    folder = _dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(objs, default=str))  # an unquoted YAML date is text in a manifest anyway
    tmp.replace(folder / f"{key}.json")
    entries = list(folder.glob("*.json"))
    if len(entries) > MAX_ENTRIES:
        for old in sorted(entries, key=lambda p: p.stat().st_mtime)[: len(entries) // 2]:
            old.unlink(missing_ok=True)
