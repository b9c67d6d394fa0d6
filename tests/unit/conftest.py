"""Fixtures for unit tests: an isolated tool cache and a loopback HTTP server."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _main_instance(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see the default cluster names and ports, even from a shell that moved its
    clusters aside (BIOGITOPS_INSTANCE / BIOGITOPS_PORT_OFFSET)."""
    monkeypatch.delenv("BIOGITOPS_INSTANCE", raising=False)
    monkeypatch.delenv("BIOGITOPS_PORT_OFFSET", raising=False)


@pytest.fixture(autouse=True)
def _no_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests ask no container registry: each one seems silent (tests that need an answer
    pass their own `ping` or `resolver`)."""
    from biogitops.cluster.kind import registry

    monkeypatch.setattr(registry, "ping", lambda api, timeout=5: (False, f"{api} (unit tests ask no registry)"))

    def resolve(ref, timeout=15):
        raise AssertionError(f"a unit test asked a registry about {ref}")

    monkeypatch.setattr(registry, "resolve", resolve)


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`fake_docker(script)` puts a `docker` shell script with that body first on PATH."""

    def install(script: str) -> Path:
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir(exist_ok=True)
        docker = bin_dir / "docker"
        docker.write_text("#!/bin/sh\n" + script)
        docker.chmod(0o755)
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
        return docker

    return install


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the bio-gitops cache at a temporary directory."""
    root = tmp_path / "cache"
    monkeypatch.setenv("BIOGITOPS_CACHE", str(root))
    return root


@pytest.fixture
def http_dir(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """Serve a temporary directory on 127.0.0.1; yields (directory, base URL)."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
