"""kind benchmarks: the node image build (cold and warm), cluster creation, bootstrap to healthy.

    python -m biogitops.bench.kind [--cold]      # `nox -s bench` runs it when Docker answers

Figures go into out/bench.json under "kind" (merged with the kwok figures):
  - node_image_cold_s      node image from an empty node-image cache (debootstrap, images, node);
                           the Go builds come from the tool cache: their own one-time compile
                           times are listed in go_builds_s (from the tool cache's records, the
                           lab images' Go binaries too: the Spark operator)
  - node_image_warm_s      the same command again: the cached image is found
  - cluster_create_s       `kind create cluster` of clusters/dev/kind.yaml (1 + 4 nodes) until
                           the API server answers
  - bootstrap_s            `invoke bootstrap` on that cluster until every first-party Application
                           is settled (upstream charts: source unreachable here)
  - lab_images             per lab workload image (pins.yaml images, recipe.lab): cold_s (its
                           image removed; the downloaded jars and wheels stay in the artifact
                           cache), warm_s (found by its key) and size_mb
A throw-away cluster (bio-gitops-dev-bench) is used and deleted; a dev cluster is left alone.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from pathlib import Path

from biogitops.bench.kwok import OUT, write
from biogitops.cluster import engine_answer
from biogitops.cluster.kind import nodeimage, workloads
from biogitops.cluster.target import Target
from biogitops.config.pins import load_pins
from biogitops.platform.bootstrap import Bootstrap
from biogitops.toolchain.tools import MARKER, install_dir

INSTANCE = "bench"


def _timed(func) -> float:
    start = time.monotonic()
    func()
    return round(time.monotonic() - start, 1)


def clear_node_image_cache() -> None:
    """Remove every built image and cached tarball of the node image (not the Go builds)."""
    pins = load_pins()
    docker = shutil.which("docker") or "docker"
    refs = [nodeimage.node_image_ref(pins), *workloads.refs(pins).values()]
    subprocess.run([docker, "image", "rm", "-f", *refs], capture_output=True, check=False)
    shutil.rmtree(nodeimage.cache(), ignore_errors=True)


def go_build_seconds() -> dict[str, float]:
    """The one-time compile time of each Go-built part of the node image and of the lab images
    (recipe.go: the Spark operator), as the tool cache recorded it."""
    from biogitops.cluster.kind import recipe

    pins = load_pins()
    out = {}
    lab_go = [tool for pin in workloads.lab_pins(pins) for tool in recipe.go_pins(pin).values()]
    for pin in [*pins.node_components.values(), *lab_go]:
        marker = install_dir(pin) / MARKER
        if marker.is_file():
            out[pin.name] = json.loads(marker.read_text()).get("seconds", 0.0)
    return out


def lab_images(cold: bool) -> dict[str, dict[str, float]]:
    """Build time (cold, warm) and size of every lab workload image."""
    pins = load_pins()
    docker = shutil.which("docker") or "docker"
    out = {}
    for pin in workloads.lab_pins(pins):
        ref = workloads.image_ref(pin, pins)
        entry: dict[str, float] = {}
        if cold:
            subprocess.run([docker, "image", "rm", "-f", ref], capture_output=True, check=False)
            entry["cold_s"] = _timed(lambda pin=pin: workloads.build(pin, pins, print))
        else:
            workloads.build(pin, pins, print)
        entry["warm_s"] = _timed(lambda pin=pin: workloads.build(pin, pins, print))
        size = subprocess.run(
            [docker, "image", "inspect", "--format", "{{.Size}}", ref], capture_output=True, text=True, check=False
        ).stdout.strip()
        entry["size_mb"] = round(int(size or 0) / 1e6, 1)
        out[pin.name] = entry
    return out


def run(env: str, cold: bool) -> dict:
    results: dict = {"lab_images": lab_images(cold)}
    if cold:
        clear_node_image_cache()
        results["node_image_cold_s"] = _timed(lambda: nodeimage.build(print))
    else:
        nodeimage.build(print)
    results["node_image_warm_s"] = _timed(lambda: nodeimage.build(print))
    results["go_builds_s"] = go_build_seconds()
    target = Target(env, "kind", instance=INSTANCE)
    target.provider.delete()
    try:
        if (idp := target.provider.identity()) is not None:  # before the cluster, as bootstrap starts it
            results["identity_provider_start_s"] = _timed(lambda: idp.start(print))
        results["cluster_create_s"] = _timed(lambda: target.provider.create(print))
        results["bootstrap_s"] = _timed(Bootstrap(target, print, timeout=1800).run)
    finally:
        target.provider.delete()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description="bio-gitops kind benchmarks")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--cold", action="store_true", help="also time a node image build from an empty cache")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    answers, detail = engine_answer()
    if not answers:
        print(f"kind benchmarks skipped: no container engine ({detail})")
        return
    print(json.dumps(write({"kind": run(args.env, args.cold)}, args.out)["kind"], indent=2))


if __name__ == "__main__":
    main()
