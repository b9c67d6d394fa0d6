"""`invoke pipeline.run|logs|build-images`: Nextflow runs in a lab's namespace (biogitops/platform/pipeline.py)."""

from __future__ import annotations

import sys

from invoke import task

from biogitops.cluster.target import Target
from biogitops.console import console
from biogitops.platform import pipeline
from biogitops.tasks.common import friendly

HELP = {"env": "environment", "lab": "lab name (namespace lab-LAB)", "provider": "kind | kwok | existing"}


@task(
    help={
        **HELP,
        "pipeline": "a first-party pipeline (pipelines/NAME), owner/name or https URL",
        "revision": "release tag or commit (not a branch); GitHub pipelines only",
        "profile": "Nextflow profile(s) besides k8s (GitHub pipelines)",
        "follow": "wait until the run ends (default true)",
    }
)
@friendly
def run(c, lab, pipeline_, revision="", env="dev", profile="test", provider=None, follow=True):
    """Run a pipeline in the lab's namespace, print its status and report; non-zero when it fails."""
    result = pipeline.run(Target(env, provider), lab, pipeline_, revision, profile, follow)
    for line in pipeline.report_lines(result, lab):
        console.print(line)
    if result.state == "failed":
        sys.exit(1)


@task(help={**HELP, "run": "the run's name (printed by pipeline.run; none: list the lab's runs)"})
@friendly
def logs(c, lab, run="", env="dev", provider=None):
    """The launcher's log of a run (kept a day; its work dir stays on the lab's claim), or the lab's runs."""
    target = Target(env, provider)
    if not run:
        for item in pipeline.runs(target, lab):
            console.print(f"{item['name']}  {item['state']}")
        return
    console.print(pipeline.logs(target, lab, run), markup=False, highlight=False)


@task(name="build-images")
@friendly
def build_images(c):
    """Build (or find) the lab workload images of pins.yaml (recipe.lab), cached by their inputs."""
    from biogitops.cluster.kind import workloads
    from biogitops.config.pins import load_pins

    pins = load_pins()
    for name, ref in workloads.build_lab(pins, [pin.name for pin in workloads.lab_pins(pins)], print).items():
        console.print(f"{name}: {ref}")
