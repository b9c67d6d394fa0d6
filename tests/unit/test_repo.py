"""The dev snapshot: uncommitted and untracked work reaches Argo CD, ignored files do not,
and an unchanged tree does not make a new revision."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from biogitops.errors import BioGitopsError
from biogitops.platform.gitsource import BRANCH, snapshot


def _git(cwd: Path, *args: str) -> str:
    cmd = ["git", "-c", "user.name=t", "-c", "user.email=t@t.invalid", *args]
    return subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    repo = tmp_path / "checkout"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    (repo / "committed.txt").write_text("v1\n")
    (repo / ".gitignore").write_text("secret.txt\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "init")
    return repo


def _show(bare: Path, path: str) -> str:
    return _git(bare, "show", f"{BRANCH}:{path}")


def test_snapshot_carries_uncommitted_and_untracked_work(checkout: Path, tmp_path: Path) -> None:
    (checkout / "committed.txt").write_text("v2, not committed\n")
    (checkout / "new.txt").write_text("untracked\n")
    (checkout / "secret.txt").write_text("ignored\n")
    bare = tmp_path / "state" / "bio-gitops.git"
    snapshot(bare, checkout)
    assert _show(bare, "committed.txt") == "v2, not committed"
    assert _show(bare, "new.txt") == "untracked"
    with pytest.raises(subprocess.CalledProcessError):
        _show(bare, "secret.txt")
    assert _git(checkout, "status", "--porcelain")  # the checkout itself is left as it was
    assert _git(checkout, "log", "--oneline").count("\n") == 0  # no commit added to the user's branch


def test_unchanged_tree_reuses_the_snapshot(checkout: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bio-gitops.git"
    first = snapshot(bare, checkout)
    assert snapshot(bare, checkout) == first
    (checkout / "committed.txt").write_text("changed\n")
    assert snapshot(bare, checkout) != first


def test_not_a_git_checkout_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BioGitopsError, match="is not a git checkout"):
        snapshot(tmp_path / "bare.git", tmp_path)
