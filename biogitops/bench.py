"""Benchmarks: wall-clock timings written as JSON (`nox -s bench`, or `python -m biogitops.bench`).

Every figure is measured on a throw-away kwok cluster (bio-gitops-dev-bench, ports +100), so a
running dev cluster is left alone:
  - kwok_cluster_create_s   from nothing to an API server with Ready nodes
  - argocd_ready_s          from a ready cluster to every Argo CD component answering
  - bootstrap_s             `invoke bootstrap` from nothing until every first-party Application
                            is Synced and Healthy (upstream charts: source unreachable offline)
  - scale_<N>_labs_s        bootstrap of a copy of the repository with N generated labs, until
                            every AppProject exists and every Application is settled
Output: out/bench.json (merged with earlier runs).

    python -m biogitops.bench [--labs 100] [--only startup,bootstrap,scale]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from biogitops import argocd
from biogitops.paths import REPO_ROOT
from biogitops.providers import get_provider
from biogitops.settings import load_settings

OUT = REPO_ROOT / "out" / "bench.json"
INSTANCE, OFFSET = "bench", 100


def _timed(func) -> float:
    start = time.monotonic()
    func()
    return round(time.monotonic() - start, 2)


def _provider(env: str):
    return get_provider(load_settings(env), "kwok", instance=INSTANCE, port_offset=OFFSET)


def startup(env: str) -> dict[str, float]:
    provider = _provider(env)
    provider.delete()
    try:
        create = _timed(lambda: provider.create(print))
        ready = _timed(lambda: argocd.install(provider, print))
    finally:
        provider.delete()
    return {"kwok_cluster_create_s": create, "argocd_ready_s": ready}


def _bootstrap_in(root: Path, env: str) -> float:
    """Run a full bootstrap from the code and data in `root` (a checkout); returns seconds."""
    code = (
        "from biogitops.bootstrap import Bootstrap\n"
        f"b = Bootstrap({env!r}, 'kwok', print, timeout=3600)\n"
        f"from biogitops.providers import get_provider\n"
        f"b.provider = get_provider(b.settings, 'kwok', instance={INSTANCE!r}, port_offset={OFFSET})\n"
        "b.run()\n"
    )
    env_vars = dict(os.environ, PYTHONPATH=str(root))
    start = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env_vars, check=True)
    return round(time.monotonic() - start, 2)


def _copy_checkout(dest: Path, extra_labs: int, env: str) -> Path:
    """A git checkout of the working tree (with `extra_labs` generated lab files) at `dest`."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.splitlines()
    for rel in files:
        src = REPO_ROOT / rel
        if src.is_file():
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
    labs = dest / "clusters" / env / "labs"
    for i in range(extra_labs):
        name = f"bench{i:03d}"
        (labs / f"{name}.yaml").write_text(
            yaml.safe_dump(
                {
                    "name": name,
                    "owners": f"{name}-admins",
                    "members": name,
                    "quota": {"cpu": "2", "memory": "4Gi", "storage": "10Gi"},
                    "apps": {"nextflow": {"workdir": "1Gi"}},
                }
            )
        )
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@bio-gitops.invalid"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "bench"], cwd=dest, check=True)
    return dest


def bootstrap(env: str, extra_labs: int = 0) -> float:
    provider = _provider(env)
    provider.delete()
    try:
        with tempfile.TemporaryDirectory(prefix="biogitops-bench-") as tmp:
            root = _copy_checkout(Path(tmp) / "repo", extra_labs, env)
            return _bootstrap_in(root, env)
    finally:
        provider.delete()


def write(results: dict, out: Path = OUT) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.is_file() else {}
    merged.update(results)
    merged["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    merged["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description="bio-gitops benchmarks")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--labs", type=int, default=100)
    parser.add_argument("--only", default="startup,bootstrap,scale")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    which = set(args.only.split(","))
    results: dict[str, float] = {}
    if "startup" in which:
        results.update(startup(args.env))
        write(results, args.out)
    if "bootstrap" in which:
        results["bootstrap_s"] = bootstrap(args.env)
        write(results, args.out)
    if "scale" in which:
        results[f"scale_{args.labs}_labs_s"] = bootstrap(args.env, args.labs)
    print(json.dumps(write(results, args.out), indent=2))


if __name__ == "__main__":
    main()
