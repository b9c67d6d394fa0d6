"""`invoke infra.*`: the environment's AWS infrastructure (infrastructure/envs/ENV) with the pinned tofu."""

from __future__ import annotations

from invoke import task

from biogitops.console import console, progress
from biogitops.infra import readmes, tofu
from biogitops.paths import REPO_ROOT
from biogitops.tasks.common import friendly

HELP = {"env": "environment: a folder under infrastructure/envs/ (dev, staging, prod)"}


@task(help=HELP)
@friendly
def plan(c, env="dev"):
    """tofu init and plan for ENV; the plan is saved as infrastructure/envs/ENV/tfplan."""
    with progress(f"plan {env}") as update:
        result = tofu.plan(env, update)
    console.print(f"{env}: {'changes planned' if result.changes else 'no changes'} ({result.plan_file})")


@task(help={**HELP, "yes": "apply without asking (CI)"})
@friendly
def apply(c, env="dev", yes=False):
    """Plan ENV, confirm, then apply exactly that plan."""
    applied = tofu.apply(env, yes, console.print)
    if applied:
        console.print(f"{env} applied; next: `invoke infra.kubeconfig --env {env}`")
    else:
        console.print(f"{env}: no changes; nothing applied")


@task(
    help={
        **HELP,
        "yes": "destroy without asking",
        "skip_drain": "the cluster is already gone: skip Argo CD",
        "delete_retained": "export, then delete what the platform keeps on purpose (labs' work dirs) instead of "
        "refusing; prefer `invoke lab.offboard` per lab",
    }
)
@friendly
def destroy(c, env="dev", yes=False, skip_drain=False, delete_retained=False):
    """Remove the Argo CD Applications owning load balancers or volumes, then destroy ENV."""
    drained = tofu.destroy(env, yes, skip_drain, console.print, delete_retained=delete_retained)
    if not skip_drain:
        for line in drained.lines():
            console.print(line)
    console.print(f"{env} destroyed (tofu destroy)")


@task(help=HELP)
@friendly
def kubeconfig(c, env="dev"):
    """Write and select a kubeconfig context for ENV's EKS cluster (needs the aws CLI for tokens)."""
    context, path = tofu.kubeconfig(env)
    console.print(f"context {context} written to {path} and selected")
    console.print(f"next: `invoke bootstrap --env {env} --provider existing`")


@task
@friendly
def validate(c):
    """tofu init (no backend), validate and test in every module and env; needs provider downloads (CI)."""
    for line in tofu.validate_all(console.print):
        console.print(f"ok {line}")


@task
@friendly
def docs(c):
    """Regenerate the inputs/outputs tables of every infrastructure/modules/*/README.md."""
    written = readmes.write()
    for path in written:
        console.print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not written:
        console.print("module READMEs are up to date")
