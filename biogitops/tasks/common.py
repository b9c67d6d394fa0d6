"""Shared glue for Invoke tasks: turn project errors into one line and a non-zero exit."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from invoke.exceptions import Exit

from biogitops.errors import BioGitopsError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(func: F) -> F:
    """Wrap a task body so that a BioGitopsError prints `error: <line>` and exits 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except BioGitopsError as err:
            raise Exit(f"error: {err.line()}", code=1) from None
        except KeyboardInterrupt:
            raise Exit("interrupted", code=130) from None

    return wrapper  # type: ignore[return-value]
