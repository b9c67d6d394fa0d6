"""Benchmarks: wall-clock timings written as JSON (`nox -s bench`, or `python -m biogitops.bench`).

Measured on a throw-away kwok cluster named bio-gitops-<env>-bench (ports offset by +100),
so a running dev cluster is left alone:
  - kwok_cluster_create_s: from nothing to an API server with Ready nodes
  - argocd_ready_s: from a ready cluster to every Argo CD component answering
Output: out/bench.json (merged with what other benchmarks wrote there).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from biogitops import argocd
from biogitops.paths import REPO_ROOT
from biogitops.providers import get_provider
from biogitops.settings import load_settings

OUT = REPO_ROOT / "out" / "bench.json"


def _timed(func) -> float:
    start = time.monotonic()
    func()
    return round(time.monotonic() - start, 2)


def kwok_startup(env: str) -> dict[str, float]:
    provider = get_provider(load_settings(env), "kwok", instance="bench", port_offset=100)
    provider.delete()
    try:
        create = _timed(lambda: provider.create(print))
        ready = _timed(lambda: argocd.install(provider, print))
    finally:
        provider.delete()
    return {"kwok_cluster_create_s": create, "argocd_ready_s": ready}


def write(results: dict, out: Path = OUT) -> dict:
    out.parent.mkdir(parents=True, exist_ok=True)
    merged = json.loads(out.read_text()) if out.is_file() else {}
    merged.update(results)
    merged["machine"] = {"cpus": __import__("os").cpu_count(), "python": platform.python_version()}
    merged["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    return merged


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="dev")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    print(json.dumps(write(kwok_startup(args.env), args.out), indent=2))


if __name__ == "__main__":
    main()
