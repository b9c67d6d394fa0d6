"""Which Applications a new dev snapshot concerns, so that onboarding one lab waits for that lab.

A new commit moves every Application's target revision, yet at a thousand labs almost none of
them render anything new: Argo CD itself skips regeneration for an Application whose
`argocd.argoproj.io/manifest-generate-paths` saw no change, and moves it to the new revision at
its next poll. Bootstrap does the same reckoning: an Application healthy at an older revision
is settled when none of its inputs changed between that revision and the snapshot, and it is
not asked to refresh. Its inputs are

  - the paths of its manifest-generate-paths annotation (relative to its source path, or to
    the repository root when they start with "/");
  - for a lab's Applications, its lab file (the file's fields reach them through the `labs`
    ApplicationSet, not through a path) and the lab-tenant chart, which writes their specs;
  - global_inputs(), for every Application: what the root's values, the ApplicationSets and
    Argo CD's own configuration (health checks, build options) come from.

An Application without the annotation, or with several sources, depends on everything; so does
one whose live spec is not the one the snapshot defines (what generated it changed outside git,
such as the API server's address that bootstrap reads from the cluster).

    changed = changed_files(bare_repo, old_commit, new_commit)     # None: cannot tell
    concerned(expected_app, changed, "dev", lab_file="clusters/dev/labs/genomics.yaml", live=live_app)
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path
from typing import Any

PATHS = "argocd.argoproj.io/manifest-generate-paths"


def global_inputs(env: str) -> list[str]:
    """Files and folders every Application depends on: the root's values, the ApplicationSets and
    Argo CD's configuration."""
    return ["pins.yaml", f"clusters/{env}/settings.yaml", "clusters/argocd/bootstrap/", "clusters/argocd/config/"]


LAB_TENANT = "clusters/argocd/lab-tenant/"  # writes the spec of every Application of a lab
SPEC_FIELDS = ("project", "source", "sources", "destination")  # what a generator decides


def changed_files(repo: Path, old: str, new: str) -> set[str] | None:
    """Paths that differ between two commits of `repo`; None when either commit is unknown there."""
    proc = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", old, new], cwd=repo, capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split()) if proc.returncode == 0 else None


def _glob(pattern: str) -> re.Pattern[str]:
    """A manifest-generate-paths glob as Argo CD reads it: `*` and `?` stay inside one folder, `**` crosses them."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    wild = {"**": ".*", "*": "[^/]*", "?": "[^/]"}
    return re.compile("".join(wild.get(p, re.escape(p)) for p in parts) + "(/.*)?")


def _under(file: str, path: str) -> bool:
    path = path.rstrip("/")
    if any(c in path for c in "*?"):
        return bool(_glob(path).fullmatch(file))
    return path in ("", ".") or file == path or file.startswith(path + "/")


def inputs(app: dict[str, Any], lab_file: str | None = None) -> list[str] | None:
    """The repository paths `app` renders from, or None when they cannot be told (no annotation,
    several sources)."""
    spec = app.get("spec") or {}
    annotation = ((app.get("metadata") or {}).get("annotations") or {}).get(PATHS)
    if not annotation or "sources" in spec:
        return None
    base = (spec.get("source") or {}).get("path", "")
    paths = []
    for path in (p.strip() for p in annotation.split(";") if p.strip()):
        paths.append(path.lstrip("/") if path.startswith("/") else posixpath.normpath(posixpath.join(base, path)))
    return [*paths, *([lab_file, LAB_TENANT] if lab_file else [])]


def _subset(expected: Any, live: Any) -> bool:
    """Whether `live` holds everything `expected` says; fields Argo CD fills in are ignored, and an
    empty, false or zero expected field matches a missing one (Argo CD omits them, as Go's omitempty)."""
    if isinstance(expected, dict):
        return isinstance(live, dict) and all(
            _subset(v, live.get(k)) if k in live else v in ({}, [], "", None, False) for k, v in expected.items()
        )
    if isinstance(expected, list):
        return isinstance(live, list) and len(expected) == len(live) and all(map(_subset, expected, live))
    return expected == live


def spec_matches(expected: dict[str, Any], live: dict[str, Any]) -> bool:
    """Whether the live Application's sources, destination and project are the ones `expected` defines."""
    want = expected.get("spec") or {}
    return _subset({f: want[f] for f in SPEC_FIELDS if f in want}, live.get("spec") or {})


def concerned(
    app: dict[str, Any],
    changed: set[str] | None,
    env: str,
    lab_file: str | None = None,
    live: dict[str, Any] | None = None,
) -> bool:
    """Whether the change `changed` (files) may change what `app` (as the snapshot defines it)
    renders; `live`, when given, is the Application as it is in the cluster."""
    if changed is None or (live is not None and not spec_matches(app, live)):
        return True
    paths = inputs(app, lab_file)
    if paths is None:
        return bool(changed)
    paths += global_inputs(env)
    return any(_under(file, path) for file in changed for path in paths)
