"""`invoke charts.*`: the cache of upstream chart archives that `nox -s render` can use offline."""

from __future__ import annotations

from pathlib import Path

from invoke import task

from biogitops.config.pins import load_pins
from biogitops.console import console, table
from biogitops.tasks.common import friendly
from biogitops.toolchain import chartarchives


@task(name="import", help={"file": "a chart archive (.tgz) of a chart pinned in pins.yaml"})
@friendly
def import_(c, file):
    """Cache a chart archive brought in by hand, after checking it against the pinned digest.

    `invoke charts.import --file ~/Downloads/galaxy-6.8.2.tgz`
    """
    name, dest = chartarchives.import_archive(Path(file).expanduser())
    console.print(f"{name}: verified and cached at {dest}")


@task(name="list")
@friendly
def list_(c):
    """Show each pinned upstream chart, its digest and whether an archive is cached."""
    pins = load_pins()
    rows = []
    for name, chart in pins.charts.items():
        path = chartarchives.cached(name, pins)
        rows.append([name, chart["version"], chart.get("digest", "-")[:12], str(path or "-")])
    table(f"pinned charts (cache {chartarchives.charts_dir()})", ["chart", "version", "digest", "cached"], rows)
