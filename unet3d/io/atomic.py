"""Atomic, non-clobbering output: a crash leaves no half-written file, nothing is overwritten unasked."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], overwrite: bool = False) -> Path:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` to ``path``.

    The temporary file lies in the destination folder (so the rename is atomic on one file
    system) and keeps the destination's suffixes, for writers that choose the format from them
    (``.nii.gz``). On any error the temporary file is removed and ``path`` is untouched.

    Args:
        path: destination file.
        write: writes the complete file to the path it is given.
        overwrite: replace an existing ``path``; otherwise an existing file raises.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is false.
        PermissionError: the folder is not writable.
    """
    dest = Path(path)
    if dest.exists() and not overwrite:
        raise FileExistsError(f"{dest}: output exists; pass --overwrite to replace it")
    folder = dest.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{folder}: output folder is not writable")
    suffix = "".join(dest.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".part{suffix}", dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest
