"""`nox -s render`: render every overlay and chart for every environment, then validate every
object strictly (kubeconform, schemas from biogitops/schemas.py, no download).

    python -m biogitops.validate          # renders into out/render/, validates, prints a summary

First-party manifests always render. Upstream sources (charts, remote CRD URLs) render when
their repository answers, and are skipped with the reason otherwise.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from biogitops import schemas, tools
from biogitops.errors import BioGitopsError
from biogitops.labs import load_labs
from biogitops.paths import REPO_ROOT
from biogitops.pins import load_pins
from biogitops.render import ARGOCD, STATIC_PROJECTS, bootstrap_values, helm_template, render_bootstrap
from biogitops.settings import known_envs, load_settings

OUT = REPO_ROOT / "out" / "render"
APP_CHARTS = {"nextflow": REPO_ROOT / "applications" / "nextflow"}
PLACEHOLDER_REPO = "https://git.example.invalid/bio-gitops.git"


@dataclass
class Report:
    rendered: dict[str, int] = field(default_factory=dict)  # target -> object count
    skipped: dict[str, str] = field(default_factory=dict)  # target -> reason


def kustomize(path: Path) -> list[dict]:
    proc = subprocess.run([str(tools.which("kustomize")), "build", str(path)], capture_output=True, text=True)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise BioGitopsError(f"kustomize build {path.relative_to(REPO_ROOT)} failed: {last}")
    return [o for o in yaml.safe_load_all(proc.stdout) if o]


def reachable(url: str, timeout: float = 5) -> str:
    """'' when `url` answers, else the reason it does not."""
    try:
        with urllib.request.urlopen(url, timeout=timeout):
            return ""
    except (urllib.error.URLError, OSError, ValueError) as err:
        return str(getattr(err, "reason", err))


def targets(env: str) -> dict[str, list[dict]]:
    """Every first-party render target of one environment: name -> objects."""
    settings = load_settings(env)
    labs = load_labs(env)
    pins = load_pins()
    values = bootstrap_values(settings, pins, PLACEHOLDER_REPO, settings.repo_revision)
    out: dict[str, list[dict]] = {
        f"{env}/overlay": kustomize(REPO_ROOT / "clusters" / env),
        f"{env}/bootstrap": render_bootstrap(values),
    }
    for name in STATIC_PROJECTS:
        out[f"{env}/project-{name}"] = helm_template(ARGOCD / "projects", [{"name": name, "repoURL": PLACEHOLDER_REPO}])
    for lab in labs:
        out[f"{env}/project-lab-{lab.name}"] = helm_template(
            ARGOCD / "projects", [{"kind": "lab", "repoURL": PLACEHOLDER_REPO}], value_files=[lab.path]
        )
        tenant = {
            "env": env,
            "repoURL": PLACEHOLDER_REPO,
            "revision": settings.repo_revision,
            "galaxyChart": {"version": pins.charts["galaxy"]["version"]},
        }
        out[f"{env}/lab-tenant-{lab.name}"] = helm_template(ARGOCD / "lab-tenant", [tenant], value_files=[lab.path])
    for app, chart in APP_CHARTS.items():
        env_values = chart / f"values.{env}.yaml"
        if not env_values.is_file():
            raise BioGitopsError(f"{chart}: no values.{env}.yaml", "every app chart needs one file per environment")
        out[f"{env}/{app}"] = helm_template(
            chart, [{"lab": "example"}], value_files=[chart / "values.yaml", env_values]
        )
    out[f"{env}/spark-lab"] = helm_template(REPO_ROOT / "applications/spark-operator/lab", [{"lab": "example"}])
    return out


def upstream_targets(report: Report) -> dict[str, list[dict]]:
    """Upstream charts and remote CRDs: rendered when reachable, otherwise skipped with the reason."""
    out: dict[str, list[dict]] = {}
    for name, chart in load_pins().charts.items():
        index = chart["repoURL"].rstrip("/") + "/index.yaml"
        why = reachable(index)
        if why:
            report.skipped[f"chart {name} {chart['version']}"] = f"chart repository unreachable ({why})"
            continue
        cmd = [
            str(tools.which("helm")),
            "template",
            name,
            chart["chart"],
            "--repo",
            chart["repoURL"],
            "--version",
            chart["version"],
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BioGitopsError(f"helm template {name} {chart['version']} failed: {proc.stderr.strip()[-200:]}")
        out[f"upstream/{name}"] = [o for o in yaml.safe_load_all(proc.stdout) if o]
    crds = REPO_ROOT / "clusters" / "base" / "crds"
    urls = yaml.safe_load((crds / "kustomization.yaml").read_text())["resources"]
    why = reachable(urls[0])
    if why:
        report.skipped["clusters/base/crds"] = f"remote CRD URLs unreachable ({why})"
    else:
        out["upstream/crds"] = kustomize(crds)
    return out


def kubeconform(files: list[Path], schema_dir: Path) -> subprocess.CompletedProcess:
    cmd = [
        str(tools.which("kubeconform")),
        "-strict",
        "-summary",
        "-output",
        "text",
        "-schema-location",
        schemas.location(schema_dir),
        *map(str, files),
    ]
    return subprocess.run(cmd, capture_output=True, text=True)


def run(out: Path = OUT, envs: list[str] | None = None) -> Report:
    report = Report()
    schema_dir = schemas.ensure()
    if out.exists():
        for old in out.glob("**/*.yaml"):
            old.unlink()
    rendered: dict[str, list[dict]] = {}
    for env in envs or known_envs():
        rendered.update(targets(env))
    rendered.update(upstream_targets(report))
    files = []
    for name, objs in rendered.items():
        path = out / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(objs, sort_keys=False))
        report.rendered[name] = len(objs)
        files.append(path)
    proc = kubeconform(files, schema_dir)
    if proc.returncode != 0:
        problems = [ln for ln in proc.stdout.splitlines() if " - " in ln and "is valid" not in ln]
        raise BioGitopsError(
            f"schema validation failed ({len(problems)} problem(s)): " + " | ".join(problems[:5]),
            f"rendered files are in {out}",
        )
    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "kubeconform: no output")
    return report


def main() -> None:
    try:
        report = run()
    except BioGitopsError as err:
        print(f"error: {err.line()}", file=sys.stderr)
        sys.exit(1)
    for name, count in sorted(report.rendered.items()):
        print(f"rendered {name}: {count} objects")
    for name, why in sorted(report.skipped.items()):
        print(f"skipped {name}: {why}")


if __name__ == "__main__":
    main()
