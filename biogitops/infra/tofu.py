"""OpenTofu for one environment (infrastructure/envs/ENV), driven through python-terraform.

    invoke infra.plan --env dev          # init, then plan into infrastructure/envs/dev/tfplan
    invoke infra.apply --env dev         # plan, confirm (or --yes), apply that plan
    invoke infra.destroy --env dev --yes # Argo CD removes load balancers and volumes, then destroy
    invoke infra.kubeconfig --env dev    # kubeconfig context from the outputs, for `--provider existing`

The binary is the pinned `tofu` (`invoke tools.install --only tofu`). Every step checks what it
can before touching anything: a known environment, AWS credentials, the state bucket (through
`tofu init`), variables (through `tofu plan`). A failure is one line naming what is wrong.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_terraform import IsFlagged, Terraform

from biogitops.cluster.kube import Kubectl
from biogitops.config.settings import load_settings
from biogitops.errors import BioGitopsError, ConfigError
from biogitops.infra import teardown
from biogitops.infra.hcl import load_dir
from biogitops.paths import REPO_ROOT
from biogitops.toolchain import tools

ENVS_DIR = REPO_ROOT / "infrastructure" / "envs"
PLAN_FILE = "tfplan"
REQUIRED_OUTPUTS = ("region", "cluster_name", "cluster_endpoint", "cluster_certificate_authority_data")

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class InfraError(BioGitopsError):
    """OpenTofu, AWS or the cluster refused a step; nothing after it ran."""


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def known_envs(root: Path = ENVS_DIR) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir() and any(p.glob("*.tf"))) if root.is_dir() else []


def env_dir(env: str, root: Path = ENVS_DIR) -> Path:
    """infrastructure/envs/ENV, or a ConfigError listing the environments that exist."""
    directory = root / env
    if not (directory.is_dir() and any(directory.glob("*.tf"))):
        raise ConfigError(
            f"unknown infrastructure environment {env!r}: no {_show(directory)}",
            f"known: {', '.join(known_envs(root)) or 'none'}",
        )
    return directory


def check_credentials(environ: Mapping[str, str] | None = None) -> None:
    """Refuse early, with what to set, when the AWS SDK would find no credentials at all."""
    env = os.environ if environ is None else environ
    if env.get("AWS_ACCESS_KEY_ID") and not env.get("AWS_SECRET_ACCESS_KEY"):
        raise InfraError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", "export both, or unset both")
    if env.get("AWS_ACCESS_KEY_ID") or any(
        env.get(name)
        for name in (
            "AWS_PROFILE",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        )
    ):
        return
    home = Path(env.get("HOME") or Path.home())
    files = [
        Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials"),
        Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config"),
    ]
    if any(f.is_file() for f in files):
        return
    raise InfraError(
        "no AWS credentials: none of AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a web identity "
        f"token or {files[0]}",
        "sign in first, e.g. `aws sso login --profile NAME && export AWS_PROFILE=NAME`; nothing was run",
    )


def backend(env: str, root: Path = ENVS_DIR) -> tuple[Path, dict[str, Any]]:
    """(file, settings) of the environment's S3 backend block."""
    config = load_dir(env_dir(env, root))
    for path, block in config.terraform_blocks():
        for entry in block.get("backend", []):
            for _, body in entry.items():
                return path, body
    raise ConfigError(f"{config.directory}: no backend block", "add backend.tf (see infrastructure/envs/dev)")


_ERROR_LINE = re.compile(r"^\s*(?:│\s*)?Error: (.+)$", re.MULTILINE)
_WHERE_LINE = re.compile(r"^\s*(?:│\s*)?on (\S+) line (\d+)", re.MULTILINE)


def summarize(output: str) -> str:
    """tofu's first error and where it points ("Invalid value for variable (main.tf line 12)")."""
    errors = _ERROR_LINE.findall(output)
    if not errors:
        lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
        return lines[-1] if lines else "no output"
    where = _WHERE_LINE.search(output)
    detail: list[str] = []
    after = output.split(errors[0], 1)[1]
    for line in after.splitlines()[1:]:
        text = line.strip().lstrip("│╷╵").strip()
        context = text.startswith(("on ", "├", "│", "var.", "local.", "module.")) or re.match(r"^\d+:", text)
        if text and not context:
            detail.append(text)  # the message, which tofu wraps over several lines
        elif detail:
            break
    location = f" ({where.group(1)} line {where.group(2)})" if where else ""
    return f"{errors[0].strip()}{location}" + (f": {' '.join(detail)}" if detail else "")


@dataclass
class PlanResult:
    changes: bool
    plan_file: Path


class Infra:
    """One environment's OpenTofu root, run with the pinned tofu."""

    def __init__(self, env: str, root: Path = ENVS_DIR, tofu: Path | None = None) -> None:
        self.env = env
        self.directory = env_dir(env, root)
        self.root = root
        binary = tofu or tools.which("tofu")
        self.tf = Terraform(working_dir=str(self.directory), terraform_bin_path=str(binary))

    @property
    def where(self) -> str:
        return _show(self.directory)

    def _cmd(self, command: str, *args: str, stream: bool = False, ok: tuple[int, ...] = (0,), **options: Any) -> str:
        code, out, err = self.tf.cmd(command, *args, no_color=IsFlagged, capture_output=not stream, **options)
        if code not in ok:
            if stream:
                raise InfraError(f"tofu {command} failed in {self.where} (exit {code})", "see tofu's output above")
            raise InfraError(f"tofu {command} failed in {self.where}: {summarize((err or '') + (out or ''))}")
        if out and command not in ("output",):
            print(out, end="", flush=True)
        return out or ""

    def init(self) -> None:
        """`tofu init` with the environment's backend; a missing state bucket is named, with its file."""
        code, out, err = self.tf.cmd("init", no_color=IsFlagged, input=False)
        if code == 0:
            return
        text = (err or "") + (out or "")
        if re.search(r"NoSuchBucket|bucket does not exist|S3 bucket .* does not exist", text):
            path, settings = backend(self.env, self.root)
            raise InfraError(
                f"state bucket {settings.get('bucket')!r} of {self.env} ({_show(path)}) does not exist",
                "create it (versioned, encrypted, public access blocked) or fix `bucket` there; nothing was applied",
            )
        if re.search(r"No valid credential sources|NoCredentialProviders|ExpiredToken|InvalidClientTokenId", text):
            raise InfraError(
                f"AWS refused the credentials for {self.env}'s state: {summarize(text)}",
                "sign in again (`aws sso login`) or export the right AWS_PROFILE",
            )
        raise InfraError(f"tofu init failed in {self.where}: {summarize(text)}")

    def plan(self) -> PlanResult:
        """Plan into tfplan; changes is False when there is nothing to do."""
        out = self._cmd("plan", ok=(0, 2), input=False, out=PLAN_FILE, detailed_exitcode=IsFlagged)
        changes = "No changes." not in out
        return PlanResult(changes, self.directory / PLAN_FILE)

    def apply(self) -> None:
        """Apply the saved plan (no second plan, no prompt: what was shown is what happens)."""
        self._cmd("apply", PLAN_FILE, stream=True, input=False)

    def destroy(self) -> None:
        self._cmd("destroy", stream=True, input=False, auto_approve=IsFlagged)

    def outputs(self) -> dict[str, Any]:
        out = self._cmd("output", json=IsFlagged)
        try:
            return {name: spec.get("value") for name, spec in json.loads(out or "{}").items()}
        except ValueError:
            raise InfraError(f"tofu output -json in {self.where} did not print JSON") from None


def confirm(question: str, yes: bool, what: str) -> None:
    """Go on with --yes, or when a person at a terminal answers y; otherwise stop, nothing changed."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise InfraError(f"{what} needs confirmation and there is no terminal", "rerun with --yes; nothing was changed")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer != "y":
        raise InfraError(f"{what}: not confirmed; nothing was changed")


def plan(env: str, progress: Progress = _quiet) -> PlanResult:
    env_dir(env)
    check_credentials()
    infra = Infra(env)
    progress("tofu init")
    infra.init()
    progress("tofu plan")
    return infra.plan()


def apply(env: str, yes: bool = False, progress: Progress = _quiet) -> bool:
    """Plan, confirm, apply that plan. Returns False when there was nothing to apply."""
    env_dir(env)
    check_credentials()
    infra = Infra(env)
    infra.init()
    result = infra.plan()
    if not result.changes:
        return False
    confirm(f"apply this plan to {env}?", yes, f"infra.apply --env {env}")
    progress("tofu apply")
    infra.apply()
    return True


def context_name(env: str) -> str:
    """The kubeconfig context of env's cluster: existing.context in its settings, else bio-gitops-ENV."""
    return load_settings(env).context or f"bio-gitops-{env}"


def destroy(
    env: str,
    yes: bool = False,
    skip_drain: bool = False,
    progress: Progress = _quiet,
    delete_retained: bool = False,
) -> teardown.Drained:
    """Argo CD removes load balancers and volumes first (teardown.drain), then `tofu destroy`.

    Returns what the drain deleted before the destroy. Objects kept on purpose (a lab's work dir,
    `Delete=false`) stop it before anything is deleted, unless `delete_retained` (exported first).
    """
    env_dir(env)
    check_credentials()
    infra = Infra(env)
    context = context_name(env)
    confirm(f"destroy every resource of {env} (cluster {context})?", yes, f"infra.destroy --env {env}")
    infra.init()
    removed = teardown.Drained()
    if not skip_drain:
        kubectl = Kubectl(None, context)
        if not kubectl.reachable():
            raise InfraError(
                f"cluster behind kubeconfig context {context!r} is unreachable, so Argo CD cannot remove its "
                "load balancers and volumes first",
                f"connect to it (VPN) after `invoke infra.kubeconfig --env {env}`, or pass --skip-drain if the "
                "cluster is already gone; nothing was destroyed",
            )
        removed = teardown.drain(kubectl, progress, env=env, delete_retained=delete_retained)
    progress("tofu destroy")
    infra.destroy()
    return removed


def kubeconfig(env: str, path: Path | None = None) -> tuple[str, Path]:
    """Write a context for env's EKS cluster (token from `aws eks get-token`) and make it current.

    Returns (context, kubeconfig file). The file is $KUBECONFIG's first entry or ~/.kube/config.
    """
    infra = Infra(env)
    infra.init()
    outputs = infra.outputs()
    missing = [name for name in REQUIRED_OUTPUTS if not outputs.get(name)]
    if missing:
        raise InfraError(
            f"{env} has no outputs {', '.join(missing)} in its state",
            f"run `invoke infra.apply --env {env}` first",
        )
    context = context_name(env)
    if path is None:
        first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
        path = Path(first) if first else Path.home() / ".kube" / "config"
    path.parent.mkdir(parents=True, exist_ok=True)
    kubectl = Kubectl(path)
    kubectl.run("config", "set-cluster", context, f"--server={outputs['cluster_endpoint']}")
    ca = outputs["cluster_certificate_authority_data"]
    kubectl.run("config", "set", f"clusters.{context}.certificate-authority-data", ca)
    token_args = ["eks", "get-token", "--cluster-name", outputs["cluster_name"], "--region", outputs["region"]]
    kubectl.run(
        "config",
        "set-credentials",
        context,
        "--exec-api-version=client.authentication.k8s.io/v1beta1",
        "--exec-command=aws",
        *[f"--exec-arg={arg}" for arg in token_args],
    )
    kubectl.run("config", "set-context", context, f"--cluster={context}", f"--user={context}")
    kubectl.run("config", "use-context", context)
    return context, path


MODULES_DIR = REPO_ROOT / "infrastructure" / "modules"


def validate_all(progress: Progress = _quiet, tofu: Path | None = None) -> list[str]:
    """`tofu init -backend=false`, `validate`, and `test` where tests/ exists, in every module and env.

    Needs the providers and registry modules to download (CI: ci/actions/terraform-validate.yml);
    returns what ran, one line per directory.
    """
    binary = str(tofu or tools.which("tofu"))
    done = []
    dirs = [d for d in sorted(MODULES_DIR.iterdir()) if any(d.glob("*.tf"))] + [env_dir(e) for e in known_envs()]
    for directory in dirs:
        where = _show(directory)
        tf = Terraform(working_dir=str(directory), terraform_bin_path=binary)
        steps = [("init", {"backend": False, "input": False}), ("validate", {})]
        if (directory / "tests").is_dir():
            steps.append(("test", {}))
        for command, options in steps:
            progress(f"tofu {command} in {where}")
            code, out, err = tf.cmd(command, no_color=IsFlagged, **options)
            if code != 0:
                hint = (
                    "providers and modules download from their registries; offline, CI runs this"
                    if command == "init"
                    else ""
                )
                raise InfraError(f"tofu {command} failed in {where}: {summarize((err or '') + (out or ''))}", hint)
        done.append(f"{where}: {', '.join(c for c, _ in steps)}")
    return done
