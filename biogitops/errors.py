"""Errors that reach the user as one line: what failed and how to fix it."""

from __future__ import annotations


class BioGitopsError(Exception):
    """A failure the user can act on.

    `str(err)` is the single line printed by the task runner; `hint` says how to fix it.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.line())

    def line(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ToolError(BioGitopsError):
    """A pinned tool is unknown, cannot be installed, or is at the wrong version."""


class ConfigError(BioGitopsError):
    """A data file in the repository (pins, settings, lab) is invalid."""


class Fatal(BioGitopsError):
    """A failure that waiting will not fix (a process exited): stop polling at once."""
