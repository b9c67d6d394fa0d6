"""The lifecycle runbooks, run step by step from their own marked blocks.

    BIOGITOPS_INSTANCE=rb BIOGITOPS_PORT_OFFSET=2000 nox -s integration -- --provider kwok -k runbooks

Each `<!-- runbook: run NAME -->` block of a page runs with `bash -euo pipefail` in the
repository, as an operator would, with ENV=dev, PROVIDER=<--provider>, LAB and KEY_BACKUP set.
A failing step is reported as page:line. The file name sorts last on purpose: the rebuild
procedure deletes and recreates the cluster the other integration tests share.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from biogitops.checks import runbooks
from biogitops.paths import REPO_ROOT

LAB = "runbook-drill"


@pytest.fixture(scope="module")
def shell_env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    provider = request.config.getoption("--provider")
    if provider == "existing":
        pytest.skip("the runbook drills create and delete clusters; --provider existing is never deleted")
    env = dict(os.environ)
    env.update(
        ENV="dev",
        PROVIDER=provider,
        LAB=LAB,
        KEY_BACKUP=str(tmp_path_factory.mktemp("keys") / "sealing-keys.yaml"),
        COLUMNS="250",  # status tables unwrapped, so a grep sees whole rows
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


@pytest.fixture(scope="module", autouse=True)
def no_lab_file_left_behind() -> object:
    """The onboarding drill writes clusters/dev/labs/<LAB>.yaml into this checkout; never keep it."""
    lab_file = REPO_ROOT / "clusters" / "dev" / "labs" / f"{LAB}.yaml"
    yield
    lab_file.unlink(missing_ok=True)


def run_procedure(page: str, procedure: str, env: dict[str, str]) -> None:
    try:
        runbooks.run_steps(page, procedure, env)
    except runbooks.StepFailed as failed:
        pytest.fail(str(failed))


def test_resume_a_failed_bootstrap(shell_env: dict[str, str]) -> None:
    run_procedure("runbooks/resume-bootstrap.md", "resume", shell_env)


def test_onboard_then_offboard_a_lab(shell_env: dict[str, str]) -> None:
    run_procedure("runbooks/onboard-lab.md", "onboard", shell_env)
    assert (REPO_ROOT / "clusters" / "dev" / "labs" / f"{LAB}.yaml").is_file()
    run_procedure("runbooks/offboard-lab.md", "offboard", shell_env)
    assert not (REPO_ROOT / "clusters" / "dev" / "labs" / f"{LAB}.yaml").exists()


def test_rebuild_the_dev_cluster_with_its_sealing_key(shell_env: dict[str, str]) -> None:
    run_procedure("runbooks/rebuild-cluster.md", "rebuild", shell_env)
    assert Path(shell_env["KEY_BACKUP"]).is_file()
