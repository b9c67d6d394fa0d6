"""`nox -s render`: render every overlay and chart for every environment, then validate every
object strictly (kubeconform, schemas from biogitops/checks/kubeschemas.py, no download).

    python -m biogitops.checks.conformance          # renders into out/render/, validates, prints a summary

First-party manifests always render. Upstream sources (charts, remote CRD URLs) render when
their repository answers, and are skipped with the reason otherwise.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from biogitops.checks import kubeschemas
from biogitops.config.settings import known_envs
from biogitops.errors import BioGitopsError
from biogitops.paths import REPO_ROOT
from biogitops.render.policies import constraint_schemas
from biogitops.render.targets import Report, targets, upstream_targets
from biogitops.toolchain import tools

OUT = REPO_ROOT / "out" / "render"


def kubeconform(files: list[Path], schema_dir: Path, extra: Path | None = None) -> subprocess.CompletedProcess:
    """Validate strictly; `extra` is a second schema directory (constraint kinds of our templates)."""
    locations = [schema_dir] + ([extra] if extra else [])
    cmd = [
        str(tools.which("kubeconform")),
        "-strict",
        "-summary",
        "-output",
        "text",
        *[arg for d in locations for arg in ("-schema-location", kubeschemas.location(d))],
        *map(str, files),
    ]
    return subprocess.run(cmd, capture_output=True, text=True)


def run(out: Path = OUT, envs: list[str] | None = None) -> Report:
    report = Report()
    schema_dir = kubeschemas.ensure()
    if out.exists():
        for old in out.glob("**/*.yaml"):
            old.unlink()
    rendered: dict[str, list[dict]] = {}
    envs = envs or known_envs()
    for env in envs:
        rendered.update(targets(env))
    rendered.update(upstream_targets(report, envs))
    files = []
    for name, objs in rendered.items():
        path = out / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump_all(objs, sort_keys=False))
        report.rendered[name] = len(objs)
        files.append(path)
    constraint_dir = out / ".constraint-schemas"
    shutil.rmtree(constraint_dir, ignore_errors=True)
    constraint_schemas([o for objs in rendered.values() for o in objs], constraint_dir)
    proc = kubeconform(files, schema_dir, constraint_dir)
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
