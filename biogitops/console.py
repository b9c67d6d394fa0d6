"""Terminal output: tables, and progress on long waits (spinner on a TTY, periodic lines in CI)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table as RichTable

console = Console(highlight=False)
if not console.is_terminal:  # CI logs: do not wrap tables at 80 columns
    console = Console(highlight=False, width=200)
err_console = Console(stderr=True, highlight=False)


def table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    """Print a simple table."""
    tbl = RichTable(title=title, title_justify="left")
    for col in columns:
        tbl.add_column(col, overflow="fold")
    for row in rows:
        tbl.add_row(*row)
    console.print(tbl)


@dataclass
class Table:
    """A table to print: `table(t.title, t.columns, t.rows)`."""

    title: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class Report:
    """What a command has to say, in order: tables and lines. A library function builds it, the
    task prints it with `show(report)`."""

    items: list[Table | str] = field(default_factory=list)

    def add(self, item: Table | str) -> None:
        self.items.append(item)


def show(report: Report) -> None:
    """Print a report: each table, each line, in order."""
    for item in report.items:
        if isinstance(item, Table):
            table(item.title, item.columns, item.rows)
        else:
            console.print(item)


@contextmanager
def progress(label: str, every: float = 20.0) -> Iterator[Callable[[str], None]]:
    """Yield an `update(text)` callback that shows what a long step is doing.

    On a terminal it drives a spinner with elapsed time; elsewhere (CI logs) it prints a
    line at most every `every` seconds, so a 20-minute build is visibly alive but not noisy.
    """
    start = time.monotonic()
    if console.is_terminal:
        with console.status(label) as status:

            def update(text: str) -> None:
                status.update(f"{label} [{time.monotonic() - start:.0f}s] {text[:100]}")

            yield update
        return
    last = 0.0

    def update_plain(text: str) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= every:
            last = now
            print(f"  {label} [{now - start:.0f}s] {text[:120]}", file=sys.stdout, flush=True)

    yield update_plain
