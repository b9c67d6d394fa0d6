"""The git source Argo CD reconciles from.

dev reconciles from the local checkout, uncommitted changes included, without pushing to any
remote: the working tree (tracked and untracked files, minus .gitignore'd ones) is written as
a commit to the branch `snapshot` of a bare repository in the cluster's state directory.
  - kwok: Argo CD runs on this host and reads it as file:///…/bio-gitops.git
  - kind: a git daemon on the Docker network's gateway serves it as git://<gateway>:<port>/
staging and prod use the remote URL and pinned revision from their settings file.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from biogitops.cluster.base import Provider
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT

BRANCH = "snapshot"
# gitignored, yet Argo CD must see them: dev's credentials, sealed with this machine's key
# (biogitops/render/sealing.py), so that no other machine's checkout carries them
GENERATED = ["applications/*/extras/sealed/dev/*/*.yaml"]
GIT_ID = ["-c", "user.name=bio-gitops", "-c", "user.email=bootstrap@bio-gitops.invalid"]


@dataclass(frozen=True)
class RepoSource:
    url: str
    revision: str
    commit: str = ""


def _git(*args: str, cwd: Path = REPO_ROOT, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(["git", *GIT_ID, *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"git {args[0]} failed: {last}", f"in {cwd}")
    return proc.stdout.strip()


def snapshot(bare: Path, source: Path = REPO_ROOT) -> str:
    """Commit the working tree of `source` to `bare`'s snapshot branch; returns the commit.

    The same tree gives the same commit as last time (no new revision for Argo CD to sync).
    """
    if not (source / ".git").exists():
        raise BioGitopsError(f"{source} is not a git checkout", "clone the repository with git to bootstrap dev")
    if not (bare / "HEAD").is_file():
        bare.parent.mkdir(parents=True, exist_ok=True)
        _git("init", "-q", "--bare", str(bare), cwd=bare.parent)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, GIT_INDEX_FILE=str(Path(tmp) / "index"))
        _git("add", "-A", ".", env=env, cwd=source)
        generated = [str(p.relative_to(source)) for pattern in GENERATED for p in sorted(source.glob(pattern))]
        if generated:
            _git("add", "-f", "--", *generated, env=env, cwd=source)
        tree = _git("write-tree", env=env, cwd=source)
    previous = subprocess.run(
        ["git", "rev-parse", "-q", "--verify", f"{BRANCH}^{{commit}}"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if previous and _git("rev-parse", f"{previous}^{{tree}}", cwd=bare) == tree:
        return previous
    # the commit is made in `source` (where the tree objects are), then fetched into `bare`
    commit = _git("commit-tree", tree, "-m", "bio-gitops dev snapshot of the working tree", cwd=source)
    _git("fetch", "-q", str(source), f"+{commit}:refs/heads/{BRANCH}", cwd=bare)
    return commit


def bare_repo(provider: Provider) -> Path:
    return provider.state_dir / "git" / "bio-gitops.git"


def source_for(provider: Provider, progress=lambda _: None) -> RepoSource:
    """Where Argo CD reads this environment from (creating the dev snapshot when needed).

    kwok's local Argo CD reads the bare repository as a file; an in-cluster Argo CD (kind)
    reads it from the git server bootstrap runs in the cluster and pushes the snapshot to."""
    settings = provider.settings
    if settings.repo_url != "local":
        return RepoSource(settings.repo_url, settings.repo_revision)
    bare = bare_repo(provider)
    commit = snapshot(bare)
    if provider.argocd_mode == "local":
        return RepoSource(f"file://{bare}", BRANCH, commit)
    from biogitops.cluster.kind import gitserver

    url = gitserver.serve(provider.kubectl(), bare, BRANCH, provider.git_server_image(), progress)
    return RepoSource(url, BRANCH, commit)
