"""Per-input figures of a segmentation: label sizes from the mask, confidence from the softmax.

Sizes are recomputed from the mask files as written (:func:`mask_statistics`), so the report's
numbers are those of the masks a user receives, whatever produced them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io.formats import mask_format_of

LabelStats = dict[str, dict[str, Any]]


def reported_labels(names: Mapping[int, str], present: Sequence[int], instances: bool) -> dict[int, str]:
    """The labels a report lists: label value -> name.

    Every named label but one called ``background``; values in the mask without a name get
    ``label N``. An instance bundle (ids per object) has one entry, its foreground, named after
    label 1 (``object`` without a name).
    """
    if instances:
        return {1: names.get(1, "object")}
    labels = {v: n for v, n in names.items() if n.lower() != "background"}
    for value in present:
        if value != 0 and value not in labels:
            labels[int(value)] = f"label {int(value)}"
    return dict(sorted(labels.items()))


def label_statistics(
    mask: np.ndarray, spacing: Sequence[float], names: Mapping[int, str], instances: bool = False
) -> LabelStats:
    """Size of each reported label (:func:`reported_labels`) of a mask.

    Args:
        mask: integer labels (class values, or instance ids for ``instances``), ``(x, y[, z])``.
        spacing: voxel size along the mask's axes in mm (3D); ignored for 2D.
        names: label value -> name (the bundle's ``channel_def``).
        instances: the mask holds one id per object (an instance bundle).

    Returns:
        name -> ``{"value", "voxels"}`` plus ``volume_mm3`` and ``volume_ml`` for 3D masks, or
        ``area_px`` and ``objects`` (connected components, 8-connected; for an instance mask the
        number of ids) for 2D masks.
    """
    from scipy import ndimage

    mask = np.asarray(mask)
    present = [int(v) for v in np.unique(mask)]
    stats: LabelStats = {}
    for value, name in reported_labels(names, present, instances).items():
        region = mask > 0 if instances else mask == value
        entry: dict[str, Any] = {"value": value, "voxels": int(region.sum())}
        if mask.ndim == 3:
            entry["volume_mm3"] = entry["voxels"] * float(np.prod(np.asarray(spacing[:3], dtype=np.float64)))
            entry["volume_ml"] = entry["volume_mm3"] / 1000.0
        else:
            entry["area_px"] = entry["voxels"]
            if instances:
                entry["objects"] = len([v for v in present if v != 0])
            else:
                entry["objects"] = int(ndimage.label(region, structure=np.ones((3,) * mask.ndim))[1])
        stats[name] = entry
    return stats


def confidence(probabilities: np.ndarray, mask: np.ndarray, labels: Mapping[int, str], instances: bool = False) -> dict:
    """Mean maximum softmax probability inside each label's region: name -> value in ``[0, 1]``,
    ``None`` where the label is absent.

    Args:
        probabilities: softmax ``(C, *spatial)`` on the mask's grid.
        mask: labels ``(*spatial)``.
        labels: label value -> name (:func:`reported_labels`).
        instances: the mask holds instance ids (the region is every id).
    """
    top = np.asarray(probabilities).max(axis=0)
    result: dict[str, float | None] = {}
    for value, name in labels.items():
        region = mask > 0 if instances else mask == value
        result[name] = float(top[region].mean()) if region.any() else None
    return result


def mask_statistics(
    path: str | os.PathLike, names: Mapping[int, str], instances: bool = False
) -> tuple[LabelStats, tuple[float, ...]]:
    """:func:`label_statistics` of a mask file as written by ``unet3d segment``.

    NIfTI masks take their voxel size from the header, DICOM SEG from its pixel measures (one
    binary segment per label: the segment's label is looked up in ``names``), PNG masks are 2D,
    TIFF masks are pages of 2D masks (figures summed over the pages).

    Returns:
        ``(stats, spacing)``, spacing in mm per axis (``(1, 1)`` for PNG).

    Raises:
        ValueError: a file that is not a readable mask.
    """
    path = Path(path)
    kind = mask_format_of(path).name  # the format registry's, so a format added there is known here
    try:
        if kind == "nifti":
            import nibabel as nib

            image: Any = nib.load(path)
            spacing = tuple(float(z) for z in image.header.get_zooms()[:3])
            return label_statistics(np.asarray(image.dataobj), spacing, names, instances), spacing
        if kind == "png":
            from PIL import Image

            with Image.open(path) as png:
                mask = np.asarray(png).T
            return label_statistics(mask, (1.0, 1.0), names, instances), (1.0, 1.0)
        if kind == "dicom-seg":
            return _seg_statistics(path, names)
        if kind == "tiff":
            return _pages_statistics(path, names, instances), (1.0, 1.0)
    except (OSError, ValueError, KeyError, AttributeError) as e:
        raise ValueError(f"{path}: not a readable mask ({e})") from e
    raise ValueError(f"{path}: a {kind} mask, which the report does not read")


def _pages_statistics(path: Path, names: Mapping[int, str], instances: bool) -> LabelStats:
    """:func:`label_statistics` of a multi-page TIFF mask, one page at a time: ``voxels`` over all
    pages, ``area_px`` and ``objects`` per page on average (what a single image's figures, and
    the QC reference, compare with), ``pages``."""
    import tifffile

    total: LabelStats = {}
    with tifffile.TiffFile(path) as tif:
        count = len(tif.pages)
        for page in tif.pages:
            for label, entry in label_statistics(np.asarray(page.asarray()).T, (1.0, 1.0), names, instances).items():
                into = total.setdefault(label, {"value": entry["value"], "voxels": 0, "area_px": 0.0, "objects": 0.0})
                into["voxels"] += entry["voxels"]
                into["area_px"] += entry["area_px"] / count
                into["objects"] += entry["objects"] / count
    for entry in total.values():
        entry["pages"] = count
    return total


def _seg_statistics(path: Path, names: Mapping[int, str]) -> tuple[LabelStats, tuple[float, ...]]:
    """Voxel counts per segment of a binary DICOM SEG, from its frames (no resampling)."""
    import pydicom

    ds = pydicom.dcmread(str(path))
    measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0]
    rows, cols = (float(v) for v in measures.PixelSpacing)
    step = float(getattr(measures, "SpacingBetweenSlices", None) or measures.SliceThickness)
    spacing = (cols, rows, step)
    frames = ds.pixel_array.reshape(int(ds.NumberOfFrames), int(ds.Rows), int(ds.Columns))
    counts: dict[int, int] = {}
    for frame, group in zip(frames, ds.PerFrameFunctionalGroupsSequence, strict=True):
        number = int(group.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
        counts[number] = counts.get(number, 0) + int(np.count_nonzero(frame))
    by_name = {n.lower(): v for v, n in names.items()}
    stats: LabelStats = {}
    for segment in ds.SegmentSequence:
        label = str(segment.SegmentLabel)
        voxels = counts.get(int(segment.SegmentNumber), 0)
        volume = voxels * cols * rows * step
        value = by_name.get(label.lower(), int(segment.SegmentNumber))
        stats[label] = {"value": value, "voxels": voxels, "volume_mm3": volume, "volume_ml": volume / 1000.0}
    return stats, spacing
