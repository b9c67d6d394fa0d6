"""Argo CD's cache on kwok: the pinned `miniredis` tool (biogitops/cluster/kwok/redis/main.go),
never a host redis-server, with a password per cluster state dir that every component gets as
REDIS_PASSWORD; and the built server speaks what Argo CD's go-redis client sends (RESP over a
raw socket: HELLO 3 with AUTH, SET with EX, GET, AUTH), then stops on SIGTERM.

    python -m pytest tests/unit/test_kwok_redis.py -q    # the server tests need the built tool:
    invoke tools.install --only miniredis
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from biogitops.cluster.kwok import argocd
from biogitops.config.pins import load_pins
from biogitops.toolchain import tools

BASE = 26400


def _argocd(state: Path) -> argocd.LocalArgoCD:
    return argocd.LocalArgoCD(state, state / "kubeconfig", BASE)


def test_redis_is_the_pinned_tool_and_no_host_redis_server_is_looked_up(tmp_path: Path, monkeypatch) -> None:
    looked_up: list[str] = []
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: looked_up.append(name) or real_which(name, *a, **k))
    monkeypatch.setattr(tools, "which", lambda name, pins=None: Path(f"/cache/bin/{name}"))
    assert _argocd(tmp_path).component("redis").binary() == Path("/cache/bin/miniredis")
    assert "redis-server" not in looked_up


def test_redis_listens_on_its_loopback_port_with_the_password_from_a_file(tmp_path: Path) -> None:
    redis = _argocd(tmp_path / "state").component("redis")
    argv = redis.argv(Path("/cache/bin/miniredis"))
    password_file = tmp_path / "state" / "argocd" / "redis-password"
    assert argv == ["/cache/bin/miniredis", "-addr", f"127.0.0.1:{BASE + 10}", "-password-file", str(password_file)]
    password = password_file.read_text().strip()
    assert len(password) >= 32 and password not in " ".join(argv)  # never on a command line
    assert oct(password_file.stat().st_mode & 0o777) == "0o600"
    assert redis.restart_on_new_argv  # ours keeps its command line: a changed one restarts it


def test_every_component_gets_the_password_of_its_own_cluster(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(argocd, "cmd_param_env", lambda workload, configmap="": {})  # no manifests rendered
    one, other = _argocd(tmp_path / "one"), _argocd(tmp_path / "other")
    password = argocd.redis_password(one.home)
    assert argocd.redis_password(one.home) == password, "made once per state dir"
    assert argocd.redis_password(other.home) != password, "each cluster has its own"
    for name in argocd.COMPONENTS:
        assert one.component(name).env()["REDIS_PASSWORD"] == password, name


def test_no_redis_password_is_in_the_repository() -> None:
    """The password lives in the cluster's state dir only (outside the repository)."""
    from biogitops.paths import REPO_ROOT

    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True).stdout
    assert "redis-password" not in tracked


# ---------------------------------------------------------------- the built server


def _built() -> Path:
    pin = load_pins().tool("miniredis")
    binary = tools.installed_binary(pin)
    if binary is None:
        pytest.skip("the miniredis binary is not built for this main.go: run `invoke tools.install --only miniredis`")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Resp:
    """A minimal RESP2/RESP3 client over one socket: send a command, read one reply."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = self.sock.makefile("rb")

    def close(self) -> None:
        self.buf.close()
        self.sock.close()

    def __call__(self, *args: str | bytes) -> Any:
        parts = [a.encode() if isinstance(a, str) else a for a in args]
        frame = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        self.sock.sendall(frame)
        return self.read()

    def read(self) -> Any:
        line = self.buf.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-"):
            return ("err:" if kind == b"-" else "") + rest.decode()
        if kind in (b":", b","):
            return int(rest)
        if kind == b"_":
            return None
        if kind == b"$":
            size = int(rest)
            if size < 0:
                return None
            data = self.buf.read(size + 2)[:-2]
            return data
        if kind in (b"*", b"~", b">"):
            size = int(rest)
            return None if size < 0 else [self.read() for _ in range(size)]
        if kind == b"%":
            return {self._key(self.read()): self.read() for _ in range(int(rest))}
        raise AssertionError(f"unexpected RESP reply {line!r}")

    @staticmethod
    def _key(value: Any) -> Any:
        return value.decode() if isinstance(value, bytes) else value


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, str, subprocess.Popen]]:
    binary = _built()
    password = "s3cret-" + "x" * 30
    (tmp_path / "pw").write_text(password + "\n")
    port = _free_port()
    proc = subprocess.Popen(
        [str(binary), "-addr", f"127.0.0.1:{port}", "-password-file", str(tmp_path / "pw")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "miniredis did not start"
            time.sleep(0.05)
    try:
        yield port, password, proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_built_server_speaks_what_argo_cds_go_redis_client_sends(server: tuple[int, str, subprocess.Popen]) -> None:
    port, password, _ = server
    client = Resp(port)
    try:
        assert client("GET", "k").startswith("err:NOAUTH")
        assert client("HELLO", "3", "AUTH", "default", "wrong").startswith("err:WRONGPASS")
        hello = client("HELLO", "3", "AUTH", "default", password)  # go-redis v9 with a password
        assert hello["proto"] == 3
        assert client("CLIENT", "SETNAME", "argocd") == "OK"
        value = b"\x1f\x8b" + bytes(range(256))  # Argo CD stores gzip-compressed, binary values
        assert client("SET", "app|managed-resources", value, "EX", "2") == "OK"
        assert client("GET", "app|managed-resources") == value
        assert client("TTL", "app|managed-resources") in (1, 2)
        time.sleep(2.2)
        assert client("GET", "app|managed-resources") is None, "keys expire with the clock"
        assert client("PING") == "PONG"
    finally:
        client.close()
    legacy = Resp(port)  # AUTH as a command of its own (RESP2 clients)
    try:
        assert legacy("AUTH", password) == "OK"
        assert legacy("SET", "k", "v") == "OK" and legacy("GET", "k") == b"v"
    finally:
        legacy.close()


def test_built_server_stops_on_sigterm(server: tuple[int, str, subprocess.Popen]) -> None:
    _, _, proc = server
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert proc.stdout is not None and "stopped" in proc.stdout.read()
