"""`invoke tools.*`: install and list the pinned CLIs (see pins.yaml)."""

from __future__ import annotations

import time

from invoke import task

from biogitops.config.pins import load_pins
from biogitops.console import console, progress, table
from biogitops.tasks.common import friendly
from biogitops.toolchain import tools


@task(help={"only": "install just these tools, comma-separated (default: every pinned tool)"})
@friendly
def install(c, only=""):
    """Install pinned tools into the cache outside the repo; a second run is a no-op.

    `invoke tools.install` (all) or `invoke tools.install --only helm,kind`.
    """
    pins = load_pins()
    wanted = [n for n in only.replace(",", " ").split() if n]
    selected = [pins.tool(n) for n in wanted] or list(pins.tools.values())
    tools.cleanup_staging()
    started = time.monotonic()
    for pin in selected:
        with progress(f"{pin.name} {pin.version}") as update:
            result = tools.install_one(pin, pins, update)
        console.print(f"{pin.name:<24} {pin.version:<8} {result.state:<10} {result.detail}")
    console.print(
        f"{len(selected)} tool(s) ready in {time.monotonic() - started:.1f}s; put {tools.tools_bin()} first on PATH"
    )


@task(name="list")
@friendly
def list_(c):
    """Show each pinned tool: version, source, whether it is installed, and where."""
    pins = load_pins()
    rows = []
    for pin in pins.tools.values():
        st = tools.status(pin)
        origins = {"go": f"{pin.module}@{pin.go_module_version}", "pypi": f"{pin.name}=={pin.version}"}
        origin = origins.get(pin.source) or pin.render_url()
        rows.append([pin.name, pin.version, f"{pin.source}: {origin}", st.state, str(st.path or "-"), st.detail])
    table(
        f"pinned tools (go {pins.go_version}, cache {tools.tools_dir()})",
        ["tool", "version", "source", "status", "path", "note"],
        rows,
    )


@task
@friendly
def path(c):
    """Print the directory to put first on PATH, e.g. `export PATH=$(invoke tools.path):$PATH`."""
    print(tools.tools_bin())
