"""Small overlay pictures of an input with its mask outlined in colour per label.

Drawn with NumPy and Pillow rather than matplotlib: a thumbnail costs a few milliseconds, so a
report adds little to a run of thousands of inputs (``benchmarks/report.py``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np

# matplotlib's "tab10" palette (RGB), label value v takes colour (v - 1) % 10
PALETTE = np.array(
    [[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
     [140, 86, 75], [227, 119, 194], [127, 127, 127], [188, 189, 34], [23, 190, 207]],
    dtype=np.uint8,
)  # fmt: skip


def label_colour(value: int) -> str:
    """The outline colour of a label value as ``#rrggbb`` (the report's legend uses it)."""
    r, g, b = PALETTE[(int(value) - 1) % len(PALETTE)]
    return f"#{r:02x}{g:02x}{b:02x}"


def to_ras(image: np.ndarray, mask: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image and mask ``(x, y, z)`` turned to the closest RAS+ voxel order (axes permuted and
    flipped, no resampling), with the voxel size in mm along the new axes.

    A volume stored LPS, or with flipped axes, gives the same arrays as the same volume stored
    RAS: the thumbnails show the anatomy the same way whatever the file's orientation.
    """
    import nibabel as nib
    from monai.data.utils import affine_to_spacing

    affine = np.asarray(affine, dtype=np.float64)
    ornt = nib.orientations.io_orientation(affine)
    image = nib.orientations.apply_orientation(np.asarray(image), ornt)
    mask = nib.orientations.apply_orientation(np.asarray(mask), ornt)
    sizes = affine_to_spacing(affine, r=3)
    spacing = np.empty(3)
    spacing[ornt[:, 0].astype(int)] = sizes
    return image, mask, spacing


def mid_planes(
    image: np.ndarray, mask: np.ndarray, spacing: Sequence[float]
) -> list[tuple[np.ndarray, np.ndarray, tuple[float, float]]]:
    """The axial, coronal and sagittal planes of a RAS volume through the centre of the mask's
    foreground (the volume's centre when it is empty), each as ``(image, mask, (row mm, column
    mm))`` arrays oriented for display: superior (axial: anterior) up, the patient's right on the
    right (neurological convention), sagittal with anterior to the right.
    """
    fg = np.argwhere(mask > 0)
    centre = fg.mean(axis=0).round().astype(int) if len(fg) else np.array(mask.shape) // 2
    x, y, z = (int(c) for c in centre)
    sx, sy, sz = (float(s) for s in spacing)

    def up(a: np.ndarray) -> np.ndarray:  # (cols, rows) -> rows top-down
        return np.ascontiguousarray(a.T[::-1])

    return [
        (up(image[:, :, z]), up(mask[:, :, z]), (sy, sx)),
        (up(image[:, y, :]), up(mask[:, y, :]), (sz, sx)),
        (up(image[x, :, :]), up(mask[x, :, :]), (sz, sy)),
    ]


def window(image: np.ndarray, low: float | None = None, high: float | None = None) -> np.ndarray:
    """Grey values 0..255 (uint8) from the 1st to the 99th percentile (or ``low``..``high``)."""
    image = np.asarray(image, dtype=np.float32)
    if low is None or high is None:
        finite = image[np.isfinite(image)]
        low, high = (float(v) for v in np.percentile(finite, (1, 99))) if finite.size else (0.0, 1.0)
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((np.nan_to_num(image) - low) * scale, 0, 255).astype(np.uint8)


def outlined(grey: np.ndarray, mask: np.ndarray, instances: bool = False) -> np.ndarray:
    """RGB ``(rows, cols, 3)``: the grey (or RGB) picture with each label's boundary pixels (those
    with a 4-neighbour of another value) in its colour; instance ids all take label 1's colour."""
    rgb = np.repeat(grey[..., None], 3, axis=-1) if grey.ndim == 2 else grey[..., :3].copy()
    padded = np.pad(mask, 1, mode="edge")
    edge = np.zeros(mask.shape, dtype=bool)
    for shifted in (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
        edge |= shifted != mask
    edge &= mask > 0
    colours = np.ones_like(mask) if instances else mask
    rgb[edge] = PALETTE[(colours[edge].astype(np.int64) - 1) % len(PALETTE)]
    return rgb


def _resized(grey: np.ndarray, mask: np.ndarray, mm: tuple[float, float], height: int) -> tuple[np.ndarray, np.ndarray]:
    """Resample a plane to ``height`` rows and the width that keeps its physical aspect ratio."""
    from PIL import Image

    rows, cols = mask.shape
    width = max(1, round(height * (cols * mm[1]) / (rows * mm[0])))
    size = (width, height)
    grey = np.asarray(Image.fromarray(grey).resize(size, Image.Resampling.BILINEAR))
    mask = np.asarray(Image.fromarray(mask.astype(np.int32)).resize(size, Image.Resampling.NEAREST))
    return grey, mask


def thumbnail(
    image: np.ndarray,
    mask: np.ndarray,
    affine: np.ndarray | None = None,
    instances: bool = False,
    size: int | None = None,
) -> np.ndarray:
    """An RGB overlay picture ``(rows, cols, 3)`` uint8 of one input and its mask.

    Args:
        image: the input, ``(x, y, z)``, or 2D ``(x, y)`` / colour ``(x, y, 3 or 4)`` (MONAI axis order).
        mask: labels on the image's grid, ``(x, y[, z])``.
        affine: the 3D voxel-to-world matrix (4x4, mm); the voxel size gives each plane's aspect.
        instances: the mask holds instance ids.
        size: the planes' height in pixels (3D; default 96), or the longer side (2D; default 160).

    Returns:
        3D: the axial, coronal and sagittal mid-planes (:func:`mid_planes`) side by side, each
        ``size`` pixels high with its true aspect ratio. 2D: the image, the longer side ``size``.
    """
    mask = np.asarray(mask)
    image = np.asarray(image)
    size = size or (96 if mask.ndim == 3 else 160)
    if mask.ndim == 3:
        ras_image, ras_mask, spacing = to_ras(image, mask, np.eye(4) if affine is None else affine)
        grey_volume = window(ras_image)
        panels = []
        for grey, plane, mm in mid_planes(grey_volume, ras_mask, spacing.tolist()):
            grey, plane = _resized(grey, plane, mm, size)
            panels.append(outlined(grey, plane, instances))
            panels.append(np.full((size, 2, 3), 255, np.uint8))
        return np.concatenate(panels[:-1], axis=1)
    if image.ndim == 3:  # colour (x, y, c): per channel to display, rows first
        grey = np.stack([window(image[..., c].T) for c in range(min(3, image.shape[-1]))], axis=-1)
    else:
        grey = window(image.T)
    plane = mask.T
    scale = size / max(plane.shape)
    height = max(1, round(plane.shape[0] * scale))
    if grey.ndim == 3:
        from PIL import Image

        width = max(1, round(plane.shape[1] * scale))
        grey = np.asarray(Image.fromarray(grey).resize((width, height), Image.Resampling.BILINEAR))
        plane = np.asarray(Image.fromarray(plane.astype(np.int32)).resize((width, height), Image.Resampling.NEAREST))
        return outlined(grey, plane, instances)
    grey, plane = _resized(grey, plane, (1.0, 1.0), height)
    return outlined(grey, plane, instances)


def encoded(rgb: np.ndarray, quality: int = 85) -> bytes:
    """An RGB picture as WebP file content (lossy at ``quality``; a fraction of a PNG's size, so
    that a report of thousands of inputs stays small enough to open fast: ``benchmarks/README.md``)."""
    from PIL import Image

    buffer = io.BytesIO()
    # method 2 rather than the default 4: faster at nearly the same size (benchmarks/README.md, report)
    Image.fromarray(rgb).save(buffer, format="WEBP", quality=quality, method=2)
    return buffer.getvalue()
