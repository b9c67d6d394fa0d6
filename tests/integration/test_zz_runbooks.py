"""The lifecycle runbooks, run step by step from their own marked blocks.

    BIOGITOPS_INSTANCE=rb BIOGITOPS_PORT_OFFSET=2000 nox -s integration -- --provider kwok -k runbooks

Each `<!-- runbook: run NAME -->` block of a page runs with `bash -euo pipefail` in the
repository, as an operator would, with ENV=dev, PROVIDER=<--provider>, LAB and KEY_BACKUP set.
A failing step is reported as page:line. The file name sorts last on purpose: the rebuild
procedure deletes and recreates the cluster the other integration tests share.

Each drill must fail when the procedure does not do what its page promises: the onboarding
check fails for a lab that is not there; the rebuild drill seals a probe with a key that only the
old cluster has (not this machine's dev key, which bootstrap installs anyway), so a
`secrets.restore-key` made a no-op leaves the probe closed and the page's check fails.
"""

from __future__ import annotations

import base64
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from biogitops.checks import runbooks
from biogitops.cluster.target import Target
from biogitops.paths import REPO_ROOT
from biogitops.platform import sealkeys
from biogitops.render import sealing

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
    # the page's check would have failed for a lab that is not deployed: it does not grep a name
    check = runbooks.steps("runbooks/onboard-lab.md", "onboard")[-1]
    absent = runbooks.Step(check.path, check.line, check.script.replace("--wait 120", "--wait 0"))
    with pytest.raises(runbooks.StepFailed, match="no Application of lab runbook-absent"):
        runbooks.run_step(absent, "onboard", {**shell_env, "LAB": "runbook-absent"}, timeout=300)
    run_procedure("runbooks/offboard-lab.md", "offboard", shell_env)
    assert not (REPO_ROOT / "clusters" / "dev" / "labs" / f"{LAB}.yaml").exists()


# a lab namespace of clusters/dev/labs/ (bootstrap makes it): where sealed credentials live
PROBE_NS, PROBE, VALUE = "lab-genomics", "sealed-before-rebuild", "opened-with-the-restored-key"


class OldClusterKey:
    """A sealing key that only the cluster before the rebuild has (the dev key is this machine's
    and bootstrap installs it on any new cluster), and a SealedSecret sealed with it."""

    def __init__(self, provider: Any, directory: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.provider, self.kubectl = provider, provider.kubectl()
        self.pair = sealing.generate_key_pair("dev", directory, bits=2048)
        self.secret = f"sealed-secrets-key-before-rebuild-{sealkeys.key_secret_name(self.pair)[-10:]}"
        with monkeypatch.context() as patch:  # seal with this key's certificate, not this machine's
            patch.setattr(sealing, "env_cert", lambda env: (self.pair.cert, sealing.load_cert(self.pair.cert)))
            self.sealed = sealing.seal("dev", PROBE_NS, PROBE, {"token": VALUE})

    def install(self) -> None:
        self.kubectl.apply_text(yaml.safe_dump(sealing.key_secret(self.pair, self.secret)))
        sealkeys.restart_controller(self.provider, print)

    def apply_probe(self) -> None:
        """What Argo CD does with a SealedSecret in git: apply it (again, on a new cluster)."""
        self.kubectl.apply_text(yaml.safe_dump(self.sealed))

    def opened(self, timeout: float = 120) -> str | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.kubectl.ok("-n", PROBE_NS, "get", "secret", PROBE):
                data = self.kubectl.json("-n", PROBE_NS, "get", "secret", PROBE)["data"]
                return base64.b64decode(data["token"]).decode()
            time.sleep(3)
        return None


def _run_rebuild(shell_env: dict[str, str], old: OldClusterKey) -> None:
    """The page's rebuild steps in order; after bootstrap, the probe is applied as Argo CD would from git."""
    for step in runbooks.steps("runbooks/rebuild-cluster.md", "rebuild"):
        runbooks.run_step(step, "rebuild", shell_env)
        if "invoke bootstrap" in step.script:
            old.apply_probe()


def test_rebuild_the_dev_cluster_with_its_sealing_key(
    shell_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider = Target("dev", shell_env["PROVIDER"]).provider
    if provider.local_sealed_secrets() is None:
        pytest.skip(
            f"{provider.name}: the Sealed Secrets chart is unreachable here, so no controller runs in the cluster "
            "and no SealedSecret can open; the rebuild drill's promise is proven on kwok (local controller)"
        )
    run_procedure("runbooks/resume-bootstrap.md", "resume", shell_env)  # a platform to rebuild
    old = OldClusterKey(provider, tmp_path / "old-key", monkeypatch)
    old.install()
    old.apply_probe()
    assert old.opened() == VALUE, "the probe did not open before the rebuild"

    try:
        _run_rebuild(shell_env, old)
    except runbooks.StepFailed as failed:
        pytest.fail(str(failed))
    assert Path(shell_env["KEY_BACKUP"]).is_file()
    assert old.opened() == VALUE  # sealed before the rebuild with the old key, opened after it

    # the same drill with restore-key a no-op must fail: the rebuilt cluster without the old key
    # (what bootstrap leaves: only this machine's dev key), the probe closed again
    kubectl = provider.kubectl()
    kubectl.run("-n", "sealed-secrets", "delete", "secret", old.secret)
    kubectl.run("-n", PROBE_NS, "delete", "sealedsecret", PROBE)
    kubectl.run("-n", PROBE_NS, "delete", "secret", PROBE, "--ignore-not-found")
    sealkeys.restart_controller(provider, print)
    old.apply_probe()
    steps = runbooks.steps("runbooks/rebuild-cluster.md", "rebuild")
    restore = next(s for s in steps if "secrets.restore-key" in s.script)
    check = steps[-1]
    runbooks.run_step(
        runbooks.Step(restore.path, restore.line, "true  # restore-key made a no-op"), "rebuild", shell_env
    )
    with pytest.raises(runbooks.StepFailed, match=f"SealedSecret {PROBE_NS}/{PROBE}"):
        runbooks.run_step(
            runbooks.Step(check.path, check.line, check.script.replace("--wait 180", "--wait 20")), "rebuild", shell_env
        )
    assert old.opened(timeout=5) is None
    # and the real step opens it again
    runbooks.run_step(restore, "rebuild", shell_env)
    runbooks.run_step(check, "rebuild", shell_env)
    assert old.opened() == VALUE
    kubectl.run("-n", PROBE_NS, "delete", "sealedsecret", PROBE, "--ignore-not-found")
