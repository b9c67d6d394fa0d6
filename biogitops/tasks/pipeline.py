"""`invoke pipeline.run`: start a Nextflow run in a lab's namespace and follow it."""

from __future__ import annotations

from invoke import task

from biogitops.cluster.target import Target
from biogitops.console import console
from biogitops.platform import pipeline
from biogitops.tasks.common import friendly


@task(
    help={
        "env": "environment",
        "lab": "lab name (namespace lab-LAB)",
        "pipeline": "owner/name or https URL",
        "revision": "release tag or commit (not a branch)",
        "profile": "Nextflow profile(s) besides k8s",
        "provider": "kind | kwok | existing",
        "follow": "wait until the run ends (default true)",
    }
)
@friendly
def run(c, lab, pipeline_, revision, env="dev", profile="test", provider=None, follow=True):
    """Start `nextflow run PIPELINE -r REVISION` in the lab's namespace and follow it."""
    state = pipeline.run(Target(env, provider), lab, pipeline_, revision, profile, follow)
    console.print(f"pipeline {pipeline_}@{revision} in lab-{lab}: {state}")
