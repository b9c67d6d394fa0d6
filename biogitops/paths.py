"""Where bio-gitops keeps things: the repository root and the cache outside it."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def cache_dir() -> Path:
    """The cache root: $BIOGITOPS_CACHE, else $XDG_CACHE_HOME/bio-gitops, else ~/.cache/bio-gitops."""
    if env := os.environ.get("BIOGITOPS_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bio-gitops"


def tools_dir() -> Path:
    """Installed tools: tools/<name>-<version>/<name>, with links in tools/bin/."""
    return cache_dir() / "tools"


def tools_bin() -> Path:
    """The directory to put first on PATH; every pinned tool is linked here."""
    return tools_dir() / "bin"
