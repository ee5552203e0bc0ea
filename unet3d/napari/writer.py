"""napari writer: a Labels layer saved as ``unet3d segment`` writes masks (PNG or multi-page TIFF)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io import writers
from unet3d.io.volume import Volume


def write_labels(path: str, data: Any, meta: dict) -> list[str]:
    """Write a Labels layer: ``.png`` for a single 2D mask (8-bit classes, 16-bit ids), ``.tif``
    for a 2D mask or a stack (one page per leading index), atomically (a failed write leaves
    nothing). napari's save dialog asks before replacing a file.

    Args:
        path: the file to write (``.png``, ``.tif`` or ``.tiff``).
        data: the layer's labels, ``(..., rows, columns)``, non-negative integers.
        meta: the layer's attributes (unused: the values are the mask).

    Returns:
        ``[path]``.

    Raises:
        ValueError: labels that are not non-negative integers below 65536, or a stack for PNG.
    """
    labels = np.asarray(data)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0 or labels.max() > 65535):
        raise ValueError(f"{path}: a mask holds non-negative integer labels below 65536")
    labels = labels.astype(np.uint8 if labels.size == 0 or labels.max() < 256 else np.uint16)
    target = Path(path)
    volume = Volume(image=None, kind="image2d", path=target)  # the writers name the file in errors only
    if target.suffix.lower() == ".png":
        if labels.ndim != 2:
            raise ValueError(f"{path}: PNG holds one 2D mask; save a stack as .tif")
        writers.write_png(volume, labels.T, target, True)
    else:
        pages = labels.reshape(-1, *labels.shape[-2:])  # every leading axis a page
        writers.write_tiff(volume, pages.T if len(pages) > 1 else pages[0].T, target, True)
    return [str(target)]
