"""Which Applications a new dev snapshot concerns, so that onboarding one lab waits for that lab.

A new commit moves every Application's target revision, yet at a thousand labs almost none of
them render anything new: Argo CD itself skips regeneration for an Application whose
`argocd.argoproj.io/manifest-generate-paths` saw no change, and moves it to the new revision at
its next poll. Bootstrap does the same reckoning: an Application healthy at an older revision
is settled when none of its inputs changed between that revision and the snapshot, and it is
not asked to refresh. Its inputs are

  - the paths of its manifest-generate-paths annotation (relative to its source path, or to
    the repository root when they start with "/");
  - its lab file, for a lab's Applications (the file's fields reach them through the `labs`
    ApplicationSet, not through a path);
  - GLOBAL_INPUTS, for every Application: what the root's values and the ApplicationSets
    come from.

An Application without the annotation, or with several sources, depends on everything.

    changed = changed_files(bare_repo, old_commit, new_commit)     # None: cannot tell
    concerned(app, changed, lab_file="clusters/dev/labs/genomics.yaml")
"""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path
from typing import Any

PATHS = "argocd.argoproj.io/manifest-generate-paths"


def global_inputs(env: str) -> list[str]:
    """Files and folders every Application depends on: the root's values and the ApplicationSets."""
    return ["pins.yaml", f"clusters/{env}/settings.yaml", "clusters/argocd/bootstrap/"]


def changed_files(repo: Path, old: str, new: str) -> set[str] | None:
    """Paths that differ between two commits of `repo`; None when either commit is unknown there."""
    proc = subprocess.run(
        ["git", "diff", "--name-only", "--no-renames", old, new], cwd=repo, capture_output=True, text=True, check=False
    )
    return set(proc.stdout.split()) if proc.returncode == 0 else None


def _under(file: str, path: str) -> bool:
    path = path.rstrip("/")
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
    return [*paths, *([lab_file] if lab_file else [])]


def concerned(app: dict[str, Any], changed: set[str] | None, env: str, lab_file: str | None = None) -> bool:
    """Whether the change `changed` (files) may change what `app` renders."""
    if changed is None:
        return True
    paths = inputs(app, lab_file)
    if paths is None:
        return bool(changed)
    paths += global_inputs(env)
    return any(_under(file, path) for file in changed for path in paths)
