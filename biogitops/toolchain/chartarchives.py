"""Upstream chart archives, cached outside the repository and checked against pins.yaml.

Argo CD pulls upstream charts itself; this cache only lets `nox -s render` render them with our
values where the chart repository cannot be reached (an archive brought in by hand).

    invoke charts.import --file galaxy-6.8.2.tgz    # refused unless its sha256 is the pinned digest
    invoke charts.list                              # which pinned charts are cached
"""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import yaml

from biogitops.config.pins import Pins, load_pins
from biogitops.errors import ConfigError
from biogitops.paths import cache_dir
from biogitops.toolchain.tools import sha256_file


def charts_dir() -> Path:
    return cache_dir() / "charts"


def archive_path(name: str, pins: Pins | None = None) -> Path:
    chart = (pins or load_pins()).charts[name]
    return charts_dir() / f"{chart['chart']}-{chart['version']}.tgz"


def _chart_yaml(path: Path) -> dict:
    try:
        with tarfile.open(path, "r:gz") as tar:
            member = next(m for m in tar.getmembers() if m.name.count("/") == 1 and m.name.endswith("/Chart.yaml"))
            return yaml.safe_load(tar.extractfile(member).read()) or {}  # type: ignore[union-attr]
    except (tarfile.TarError, StopIteration, OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: not a Helm chart archive ({err or 'no Chart.yaml'})") from None


def import_archive(path: Path, pins: Pins | None = None) -> tuple[str, Path]:
    """Copy a chart archive into the cache if it is a pinned chart at its pinned digest."""
    pins = pins or load_pins()
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    meta = _chart_yaml(path)
    name = next(
        (
            n
            for n, c in pins.charts.items()
            if c["chart"] == meta.get("name") and c["version"] == str(meta.get("version"))
        ),
        None,
    )
    if name is None:
        raise ConfigError(
            f"{path}: chart {meta.get('name')} {meta.get('version')} is not pinned",
            "pins.yaml charts: lists the chart versions this repository uses",
        )
    pinned = pins.charts[name].get("digest")
    if not pinned:
        raise ConfigError(f"pins.yaml: charts.{name}.digest: not set, so {path.name} cannot be verified")
    actual = sha256_file(path)
    if actual != pinned:
        raise ConfigError(f"{path}: sha256 {actual} is not the pinned charts.{name}.digest {pinned}")
    dest = archive_path(name, pins)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    shutil.copyfile(path, tmp)
    tmp.rename(dest)
    return name, dest


def cached(name: str, pins: Pins | None = None) -> Path | None:
    """The cached archive of a pinned chart, if present and still at the pinned digest."""
    pins = pins or load_pins()
    path = archive_path(name, pins)
    pinned = pins.charts[name].get("digest")
    if pinned and path.is_file() and sha256_file(path) == pinned:
        return path
    return None
