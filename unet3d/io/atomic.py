"""Atomic, non-clobbering output: a crash leaves no half-written file, nothing is overwritten unasked."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path

# temporary files: ".<name>.<pid>.<random>.part<suffixes>"; later runs recognise and remove them
PART_PATTERN = re.compile(r"^\..+\.(\d+)\.[^.]+\.part(\.[^.]+)*$")


def is_partial(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of :func:`atomic_write`'s temporary files."""
    return PART_PATTERN.match(Path(path).name) is not None


def remove_stale_parts(folder: str | os.PathLike) -> list[Path]:
    """Remove temporary files that an interrupted run (a process no longer alive) left in ``folder``."""
    removed: list[Path] = []
    root = Path(folder)
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        m = PART_PATTERN.match(p.name)
        if m is None or not p.is_file():
            continue
        pid = int(m.group(1))
        try:
            os.kill(pid, 0)
            alive = pid != os.getpid()
        except ProcessLookupError:
            alive = False
        except PermissionError:  # a live process of another user
            alive = True
        if not alive:
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def writable_dir(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """Create ``folder`` if needed and check that it is a folder this process can write to.

    Args:
        folder: the folder.
        what: what the folder is, for the message (e.g. ``"output folder"``).

    Raises:
        InputError: the path (or a folder above it) is a file, cannot be created, or is not writable
            (e.g. on a read-only file system).
    """
    from unet3d.io.errors import InputError

    path = Path(folder)
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: {what} is an existing file")
    for parent in path.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{path}: cannot create the {what}, {parent} is a file")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"{path}: cannot create the {what} ({e.strerror})") from e
    if not os.access(path, os.W_OK):
        raise InputError(f"{path}: {what} is not writable")
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[str], None], overwrite: bool = False) -> Path:
    """Call ``write(tmp_path)`` then rename ``tmp_path`` to ``path``.

    The temporary file lies in the destination folder (so the rename is atomic on one file
    system) and keeps the destination's suffixes, for writers that choose the format from them
    (``.nii.gz``). On any error the temporary file is removed and ``path`` is untouched. The
    result gets the usual mode of a new file (``0o666`` less the umask), or the mode of the file it
    replaces. A temporary file that a killed process left behind is recognised by
    :func:`is_partial` and removed by :func:`remove_stale_parts`.

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
        raise FileExistsError(f"{dest}: output exists")
    folder = dest.parent
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK):
        raise PermissionError(f"{folder}: output folder is not writable")
    suffix = "".join(dest.suffixes)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.{os.getpid()}.", suffix=f".part{suffix}", dir=folder)
    os.close(fd)
    mode = dest.stat().st_mode & 0o7777 if dest.exists() else 0o666 & ~_umask()
    try:
        write(tmp)
        os.chmod(tmp, mode)
        os.replace(tmp, dest)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return dest


def atomic_write_text(path: str | os.PathLike, text: str, overwrite: bool = True) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (:func:`atomic_write`); replaces an existing
    file unless ``overwrite`` is false."""

    def write(tmp: str) -> None:
        Path(tmp).write_text(text, encoding="utf-8")

    return atomic_write(path, write, overwrite=overwrite)
