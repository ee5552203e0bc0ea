"""An on-disk memo for what reading a whole data set costs, keyed by the files it read.

Building the nuclei datalist decodes every image and label (modality, content hashes for the
split, instance or binary labels), a cost paid by every training, evaluation and test process.
MONAI's ``PersistentDataset`` caches transformed items, not a datalist, so this small memo does
the latter: the result is stored as JSON under a key made of the function's name, its arguments
and every input file's path, size and modification time; a changed, added or removed file gives
another key, hence a fresh computation.

The folder is ``$UNET3D_CACHE_DIR``, else ``$XDG_CACHE_HOME/unet3d``, else ``~/.cache/unet3d``;
``UNET3D_CACHE_DIR=off`` turns the memo off. A folder that cannot be written only costs the
recomputation.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

VERSION = 1  # raise when a memoised function's result changes for the same files


def cache_dir() -> Path | None:
    """The memo's folder, or ``None`` when ``UNET3D_CACHE_DIR`` is ``off``."""
    chosen = os.environ.get("UNET3D_CACHE_DIR")
    if chosen is not None:
        return None if chosen.strip().lower() in ("", "off", "0", "none") else Path(chosen)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "unet3d"


def files_key(name: str, arguments: dict[str, Any], files: Iterable[str | os.PathLike]) -> str:
    """A key for ``name(**arguments)`` over ``files``: their paths, sizes and modification times.

    Raises:
        OSError: a file cannot be stat'ed (the caller reads it next and reports it properly).
    """
    stats = []
    for f in files:
        st = os.stat(f)
        stats.append([str(f), st.st_size, st.st_mtime_ns])
    text = json.dumps({"name": name, "version": VERSION, "arguments": arguments, "files": stats}, sort_keys=True)
    return f"{name}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def load(key: str) -> Any | None:
    """The stored value for ``key``, or ``None`` (none stored, memo off, or unreadable)."""
    folder = cache_dir()
    if folder is None:
        return None
    try:
        return json.loads((folder / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None


def store(key: str, value: Any) -> None:
    """Store ``value`` (JSON-serialisable) for ``key``, atomically: concurrent processes (DDP ranks)
    each write a whole file and the last rename wins. Failures are logged, not raised."""
    folder = cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key}.", dir=folder)
        with os.fdopen(fd, "w") as f:
            json.dump(value, f)
        os.replace(tmp, folder / f"{key}.json")
    except OSError as e:
        logger.debug(f"not cached ({folder}: {e})")
