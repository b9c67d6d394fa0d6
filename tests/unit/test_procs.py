"""biogitops/cluster/kwok/procs.py: the command line of a managed process (how a restart after a flag change
is detected), and the helpers for logs and HTTP probes."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from biogitops.cluster.kwok.procs import Managed, http_ok, last_log_line


def test_cmdline_is_what_was_started_and_empty_once_stopped(tmp_path: Path) -> None:
    proc = Managed("sleeper", tmp_path)
    argv = [sys.executable, "-c", "import time; time.sleep(30)", "--flag"]
    proc.start(argv, {})
    try:
        deadline = time.monotonic() + 10  # until the child has exec'd
        while proc.cmdline() != argv and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.cmdline() == argv
    finally:
        proc.stop()
    assert proc.cmdline() == []


def test_last_log_line_skips_blank_lines(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("first\nlast words\n\n  \n")
    assert last_log_line(log) == "last words"
    assert last_log_line(tmp_path / "missing.log") == ""


def test_http_ok_is_false_when_nothing_listens() -> None:
    assert http_ok("http://127.0.0.1:9/", timeout=0.5) is False
