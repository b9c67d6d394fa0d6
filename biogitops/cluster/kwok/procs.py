"""Local background processes with pid files and logs: the primitive under local.py's LocalProcess.

proc = Managed("redis", state_dir)
proc.start(["miniredis", "-addr", "127.0.0.1:26410"], env)   # detached, logs in state_dir/logs/redis.log
proc.alive(); proc.stop()
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import psutil


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((host, port)) == 0


def listener(port: int, host: str = "127.0.0.1") -> str:
    """Who listens on host:port, as 'pid N (name)', or '' when that cannot be seen (another
    user's process, without privileges). psutil reads /proc: no iproute2 `ss` needed."""
    try:
        conns = psutil.net_connections(kind="tcp")
    except (psutil.Error, OSError):
        return ""
    for conn in conns:
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.laddr.ip in (host, "0.0.0.0", "::"):
            if conn.pid is None:
                return ""
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.Error:
                return f"pid {conn.pid}"
    return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child still answers kill(0); treat it as dead
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


def http_ok(url: str, timeout: float = 2) -> bool:
    """True when `url` answers with a 2xx status."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except OSError:
        return False


def last_log_line(log: Path) -> str:
    """The last non-empty line of a log file, or '' (for one-line errors about a dead process)."""
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()] if log.is_file() else []
    return lines[-1][:200] if lines else ""


@dataclass
class Managed:
    """A detached process known by a pid file under `state_dir/pids/`."""

    name: str
    state_dir: Path

    @property
    def pidfile(self) -> Path:
        return self.state_dir / "pids" / f"{self.name}.pid"

    @property
    def logfile(self) -> Path:
        return self.state_dir / "logs" / f"{self.name}.log"

    def pid(self) -> int | None:
        try:
            return int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None

    def alive(self) -> bool:
        pid = self.pid()
        return pid is not None and pid_alive(pid)

    def _read(self, name: str) -> bytes:
        """/proc/<pid>/<name> of the running process (b"" when it is not running). The kernel
        reads cmdline and environ from the process's memory and can answer nothing for a moment
        (a busy machine, a process just started): a running process is asked a few times before
        an empty answer counts."""
        for _ in range(5):
            pid = self.pid()
            if pid is None or not pid_alive(pid):
                return b""
            try:
                raw = Path(f"/proc/{pid}/{name}").read_bytes()
            except OSError:
                return b""
            if raw:
                return raw
            time.sleep(0.05)
        return b""

    def cmdline(self) -> list[str]:
        """The running process's command line ([] when it is not running)."""
        return self._read("cmdline").decode(errors="replace").split("\0")[:-1]

    def environ(self) -> dict[str, str]:
        """The running process's environment ({} when it is not running or not readable)."""
        raw = self._read("environ").decode(errors="replace")
        return dict(item.split("=", 1) for item in raw.split("\0") if "=" in item)

    def start(self, argv: list[str], env: dict[str, str], cwd: Path | None = None) -> int:
        """Start `argv` in its own session (survives this Python process); returns the pid."""
        if self.alive():
            return self.pid() or 0
        self.pidfile.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.logfile.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self.logfile.open("ab") as log:
            log.write(f"--- {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd or self.state_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.pidfile.write_text(str(proc.pid))
        return proc.pid

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM the process group, then SIGKILL after `timeout`; forget the pid."""
        pid = self.pid()
        if pid is not None and pid_alive(pid):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pid, sig)
                except (ProcessLookupError, PermissionError):
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        break
                deadline = time.monotonic() + timeout
                while time.monotonic() < deadline and pid_alive(pid):
                    time.sleep(0.1)
                if not pid_alive(pid):
                    break
        self.pidfile.unlink(missing_ok=True)
