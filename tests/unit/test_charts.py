"""The chart cache takes only archives of pinned charts at their pinned digest."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from biogitops.config.pins import Pins, load_pins
from biogitops.errors import ConfigError
from biogitops.toolchain import chartarchives
from biogitops.toolchain.tools import sha256_file


def _archive(path: Path, name: str = "demo", version: str = "1.0.0") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        data = f"apiVersion: v2\nname: {name}\nversion: {version}\n".encode()
        info = tarfile.TarInfo(f"{name}/Chart.yaml")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


def _pins(**chart: str) -> Pins:
    spec = {"repoURL": "https://charts.example.invalid", "chart": "demo", "version": "1.0.0", **chart}
    base = load_pins()
    return Pins(base.go_version, base.kubernetes_version, base.tools, base.images, {"demo": spec})


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("BIOGITOPS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_archive_at_the_pinned_digest_is_cached(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "demo-1.0.0.tgz")
    pins = _pins(digest=sha256_file(archive))
    name, dest = chartarchives.import_archive(archive, pins)
    assert name == "demo"
    assert chartarchives.cached("demo", pins) == dest


@pytest.mark.parametrize(
    ("chart", "version", "digest", "message"),
    [
        pytest.param("demo", "1.0.0", "0" * 64, "is not the pinned charts.demo.digest", id="corrupt-or-tampered"),
        pytest.param("demo", "2.0.0", "", "chart demo 2.0.0 is not pinned", id="unpinned-version"),
        pytest.param("other", "1.0.0", "", "chart other 1.0.0 is not pinned", id="unpinned-chart"),
        pytest.param("demo", "1.0.0", None, "charts.demo.digest: not set", id="no-digest-pinned"),
    ],
)
def test_archive_that_cannot_be_verified_is_refused(
    tmp_path: Path, chart: str, version: str, digest: str | None, message: str
) -> None:
    archive = _archive(tmp_path / "x.tgz", chart, version)
    pins = _pins(**({"digest": digest} if digest else {}))
    with pytest.raises(ConfigError, match=message):
        chartarchives.import_archive(archive, pins)
    assert chartarchives.cached("demo", pins) is None


def test_a_file_that_is_not_a_chart_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.tgz"
    bogus.write_text("hello")
    with pytest.raises(ConfigError, match="not a Helm chart archive"):
        chartarchives.import_archive(bogus, _pins())


def test_cached_archive_changed_on_disk_is_ignored(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "demo-1.0.0.tgz")
    pins = _pins(digest=sha256_file(archive))
    _, dest = chartarchives.import_archive(archive, pins)
    dest.write_bytes(dest.read_bytes() + b"x")
    assert chartarchives.cached("demo", pins) is None
