"""Start a Nextflow pipeline run in a lab's namespace and follow it.

    invoke pipeline.run --env dev --lab genomics --pipeline nf-core/demo --revision 1.0.1 [--profile test]

The launcher Job comes from the lab's own chart (applications/nextflow, `launcher.enabled`),
so it runs with the lab's service account, work dir and `k8s` profile.
"""

from __future__ import annotations

import re
import time

import yaml

from biogitops.cluster.target import Target
from biogitops.config.labs import load_labs
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.paths import REPO_ROOT
from biogitops.render.manifests import helm_template

CHART = REPO_ROOT / "applications" / "nextflow"
_TAG = re.compile(r"^v?\d+(\.\d+){0,3}([-+][0-9A-Za-z.-]+)?$")
_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")
_PIPELINE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$|^https://[\w./-]+$")


def check_revision(revision: str) -> str:
    """A pipeline revision must be a release tag or a commit: a branch moves under you."""
    if _TAG.match(revision) or _COMMIT.match(revision):
        return revision
    raise ConfigError(f"--revision {revision!r} looks like a branch", "pin a release tag (e.g. 1.0.1) or a commit SHA")


def launcher_job(env: str, lab: str, pipeline: str, revision: str, profile: str, name: str) -> dict:
    labs = {item.name: item for item in load_labs(env)}
    if lab not in labs:
        raise ConfigError(f"unknown lab {lab!r} in {env}", f"labs: {', '.join(sorted(labs)) or 'none'}")
    if "nextflow" not in labs[lab].apps:
        raise ConfigError(f"{labs[lab].path}: apps: nextflow is not enabled for lab {lab}")
    if not _PIPELINE.match(pipeline):
        raise ConfigError(f"--pipeline {pipeline!r} is not owner/name or an https URL")
    values = {
        "lab": lab,
        "launcher": {
            "enabled": True,
            "name": name,
            "pipeline": pipeline,
            "revision": check_revision(revision),
            "profile": profile,
        },
    }
    files = [CHART / "values.yaml", CHART / f"values.{env}.yaml"]
    [job] = helm_template(CHART, [values], value_files=files, show_only="templates/launcher-job.yaml")
    return job


def run(
    target: Target,
    lab: str,
    pipeline: str,
    revision: str,
    profile: str = "test",
    follow: bool = True,
    timeout: float = 3600,
    progress=print,
) -> str:
    """Create the launcher Job and (optionally) wait for it; returns its final state."""
    slug = re.sub(r"[^a-z0-9]+", "-", pipeline.lower().split("/")[-1]).strip("-")[:30]
    name = f"nf-{slug}-{time.strftime('%Y%m%d%H%M%S')}"
    job = launcher_job(target.env, lab, pipeline, revision, profile, name)
    kubectl = target.kubectl
    kubectl.run("-n", f"lab-{lab}", "create", "-f", "-", stdin=yaml.safe_dump(job))
    progress(f"started job {name} in lab-{lab}")
    if not follow:
        return "started"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = kubectl.json("-n", f"lab-{lab}", "get", "job", name).get("status", {})
        if status.get("succeeded"):
            return "succeeded"
        if status.get("failed"):
            raise BioGitopsError(f"pipeline run {name} failed", f"kubectl -n lab-{lab} logs job/{name}")
        progress(f"{name}: active={status.get('active', 0)}")
        time.sleep(5)
    raise BioGitopsError(
        f"pipeline run {name} still running after {timeout:.0f}s", f"kubectl -n lab-{lab} get job {name}"
    )
