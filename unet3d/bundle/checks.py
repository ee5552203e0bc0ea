"""Turn input and disk errors into one clear message and a non-zero exit when a bundle runs from the shell."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def or_exit(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return ``fn(*args, **kwargs)``; a ``ValueError`` (e.g. a bad dataset file) or a missing
    file (``FileNotFoundError``, e.g. a bundle without trained weights) ends the program.

    ``python -m monai.bundle run`` wraps every failing config expression in a long traceback; a
    user who pointed ``--dataset_dir`` at the wrong folder needs one line naming the file. The
    error is raised as ``SystemExit("error: ...")``, which MONAI's config evaluation does not wrap:
    the program prints the message and exits with status 1 before anything is trained or written.
    """
    try:
        return fn(*args, **kwargs)
    except (ValueError, FileNotFoundError) as e:
        raise SystemExit(f"error: {e}") from e


TRUE_WORDS, FALSE_WORDS = ("true", "yes", "on", "1"), ("false", "no", "off", "0", "none", "")


def flag(value: Any, name: str = "flag") -> bool:
    """A config switch as a bool, whatever way it came in.

    ``python -m monai.bundle run ... --tta false`` hands the config the *string* ``"false"``
    (MONAI's command line parses only ``True``/``False`` as booleans), and a non-empty string is
    true in Python: every boolean key a config tests must go through this.

    Raises:
        SystemExit: a value that is not a recognisable switch (one line naming it).
    """
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS or text in FALSE_WORDS:
        return text in TRUE_WORDS
    raise SystemExit(f"error: --{name} {value!r}: expected true or false")


def check_output_dir(output_dir: str | os.PathLike, min_free_mb: float = 100.0) -> None:
    """Check before training that ``output_dir`` can be created and written and has room.

    Checkpoints and TensorBoard logs go there; without this, a read-only or full disk shows up as
    a long traceback from whichever writer fails first.

    Args:
        output_dir: the training run's folder (created if missing).
        min_free_mb: the free space required, in MB (10^6 bytes); a checkpoint holds the model and
            its optimizer state, about three times the weights.

    Raises:
        ValueError: the folder cannot be created or written, or has less free space.
    """
    from unet3d.io.atomic import writable_dir

    folder = writable_dir(output_dir, what="training output folder")
    free = shutil.disk_usage(folder).free / 1e6
    if free < min_free_mb:
        raise ValueError(f"{folder}: {free:.1f} MB free; training needs at least {min_free_mb:g} MB for checkpoints")


def run_or_exit(run: Callable[[], T], output_dir: str | os.PathLike, min_free_mb: float = 1.0) -> T:
    """Return ``run()``; a disk that fills up or fails during training ends the program in one line.

    ``torch.save`` reports a full disk as an ``OSError`` or as a ``RuntimeError`` about stream
    positions; when the output folder's disk then has less than ``min_free_mb`` MB free, either
    is reported as "no space left". The last complete checkpoint stays usable for resuming (see
    :func:`unet3d.bundle.paths.latest_checkpoint`). Other errors propagate unchanged.
    """
    try:
        return run()
    except (OSError, RuntimeError) as e:
        try:
            free = shutil.disk_usage(output_dir).free / 1e6
        except OSError:
            free = float("inf")
        if getattr(e, "errno", None) == errno.ENOSPC or free < min_free_mb:
            raise SystemExit(
                f"error: {output_dir}: no space left on device while training ({free:.1f} MB free); "
                "free some space and run the same command to resume from the last complete checkpoint"
            ) from e
        if isinstance(e, OSError):
            raise SystemExit(f"error: {e.filename or output_dir}: {e.strerror or e}") from e
        raise
