"""Turn input errors into one clear message and a non-zero exit when a bundle runs from the shell."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def or_exit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``fn(*args, **kwargs)``; a ``ValueError`` (e.g. a bad dataset file) ends the program.

    ``python -m monai.bundle run`` wraps every failing config expression in a long traceback; a
    user who pointed ``--dataset_dir`` at the wrong folder needs one line naming the file. The
    error is raised as ``SystemExit("error: ...")``, which MONAI's config evaluation does not wrap:
    the program prints the message and exits with status 1 before anything is trained or written.
    """
    try:
        return fn(*args, **kwargs)
    except ValueError as e:
        raise SystemExit(f"error: {e}") from e
