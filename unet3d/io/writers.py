"""Write a mask in its input's geometry: NIfTI, DICOM SEG, PNG or TIFF, always atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io.atomic import atomic_write
from unet3d.io.errors import InputError
from unet3d.io.volume import Volume

SegmentNames = Mapping[int, str]
SegmentCodes = Mapping[int, Mapping[str, list[str]]]


def write_nifti(volume: Volume, labels: np.ndarray, path: Path, overwrite: bool, *_: object) -> Path:
    """NIfTI with exactly the input's affine; for NIfTI input its header, qform and sform with
    their codes as they were, even where the two disagree."""
    import nibabel as nib

    if labels.ndim != 3:
        raise InputError(f"{volume.path}: NIfTI output needs a 3D input")
    affine = np.asarray(volume.image.affine, dtype=np.float64)
    header = volume.nifti_header.copy() if volume.nifti_header is not None else None
    image = nib.Nifti1Image(labels, affine, header=header)
    image.set_data_dtype(labels.dtype)
    image.header.set_slope_inter(1.0, 0.0)
    if header is not None:
        image.set_qform(header.get_qform(), int(header["qform_code"]))
        image.set_sform(header.get_sform(), int(header["sform_code"]))
    return atomic_write(path, lambda tmp: nib.save(image, tmp), overwrite=overwrite)


def _dicom_only(volume: Volume, what: str) -> None:
    if volume.kind != "dicom":
        raise InputError(f"{volume.path}: {what} output needs a DICOM series as input")


def check_seg_source(volume: Volume) -> None:
    """Refuse, before any work, an input a DICOM SEG cannot reference: not a DICOM series."""
    _dicom_only(volume, "DICOM SEG")


def check_rtstruct_source(volume: Volume) -> None:
    """Refuse, before any work, an input a structure set cannot be written for: not a DICOM
    series, or one without the UIDs it must reference (:func:`unet3d.io.rtstruct.check_source`)."""
    from unet3d.io.rtstruct import check_source

    _dicom_only(volume, "RTSTRUCT")
    check_source(volume.dicom_headers)


def write_seg(
    volume: Volume, labels: np.ndarray, path: Path, overwrite: bool, names: SegmentNames, codes: SegmentCodes
) -> Path:
    """DICOM SEG referencing the source series, slice for slice on it (one binary segment per label)."""
    from unet3d.io.dicom_seg import SegmentSpec, write_dicom_seg

    check_seg_source(volume)
    specs = []
    for value, name in sorted(names.items()):
        if value == 0:
            continue
        extra = {k: tuple(v) for k, v in codes.get(value, {}).items() if k in ("category", "type")}
        specs.append(SegmentSpec(value, name, **extra))  # type: ignore[arg-type]
    if not specs:
        specs = [SegmentSpec(int(v), f"label {int(v)}") for v in np.unique(labels) if v]
    planes = labels.transpose(2, 1, 0)  # (z, rows, columns)
    if volume.frame_order is not None:  # a multi-frame source: its frames in file order
        frames = np.empty_like(planes)
        frames[np.asarray(volume.frame_order)] = planes
        planes = frames
    return write_dicom_seg(planes, volume.dicom_headers, specs, path, overwrite=overwrite)


def write_rtstruct(
    volume: Volume, labels: np.ndarray, path: Path, overwrite: bool, names: SegmentNames, codes: SegmentCodes
) -> Path:
    """RT Structure Set referencing the source series: one ROI per named label, its colour from
    ``codes`` (``"color"``) when given (:func:`unet3d.io.rtstruct.write_rtstruct`)."""
    from unet3d.io.rtstruct import RoiSpec
    from unet3d.io.rtstruct import write_rtstruct as write

    _dicom_only(volume, "RTSTRUCT")  # the UIDs: checked by write_rtstruct
    values = {v: n for v, n in names.items() if v != 0} or {int(v): f"label {int(v)}" for v in np.unique(labels) if v}
    rois = []
    for value, name in sorted(values.items()):
        colour = codes.get(value, {}).get("color")
        rois.append(RoiSpec(value, name, tuple(int(c) for c in colour) if colour else None))  # type: ignore[arg-type]
    affine = np.asarray(volume.image.affine, dtype=np.float64)
    return write(labels, affine, volume.dicom_headers, rois, path, volume.frame_order, overwrite=overwrite)


def write_png(volume: Volume, labels: np.ndarray, path: Path, overwrite: bool, *_: object) -> Path:
    """PNG, 2D only: 8-bit for uint8 labels, 16-bit (``I;16``) for uint16 instance ids."""
    from PIL import Image

    if labels.ndim != 2:
        raise InputError(f"{volume.path}: PNG output needs a 2D input")
    array = np.ascontiguousarray(labels.T)  # MONAI's (x, y) back to the file's (rows, columns)
    return atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"), overwrite=overwrite)


def write_tiff(volume: Volume, labels: np.ndarray, path: Path, overwrite: bool, *_: object) -> Path:
    """TIFF: a 2D mask as one page, a 3D mask as one page per ``z`` (each page rows x columns)."""
    import tifffile

    if labels.ndim not in (2, 3):
        raise InputError(f"{volume.path}: TIFF output needs a 2D or 3D input")
    pages = np.ascontiguousarray(labels.T if labels.ndim == 3 else labels.T[None])  # (z, rows, columns)

    def write(tmp: str) -> None:
        tifffile.imwrite(tmp, pages, photometric="minisblack")

    return atomic_write(path, write, overwrite)


def write_probabilities(
    volume: Volume, probabilities: np.ndarray, path: str | os.PathLike, overwrite: bool = False
) -> Path:
    """Write a softmax ``(C, *spatial)`` on the input's grid (MONAI axis order), atomically.

    - 3D: NIfTI ``(x, y, z, C)``, uint8 with ``scl_slope = 1/255`` (readers that apply the
      slope, nibabel, ITK, MONAI, get probabilities 0..1 in steps of 1/255) and the input's affine.
    - 2D: multi-page TIFF, one 16-bit page per label in label order, value ``round(p * 65535)``.

    The argmax of the stored values equals the mask except where two labels' probabilities round to
    the same step (ties).

    Raises:
        ValueError: the shape is not the input's with a channel axis in front.
    """
    probs = np.clip(np.asarray(probabilities, dtype=np.float32), 0.0, 1.0)
    if probs.shape[1:] != volume.spatial_shape:
        raise ValueError(f"probabilities of shape {probs.shape[1:]} for an input of shape {volume.spatial_shape}")
    path = Path(path)
    if probs.ndim == 4:
        import nibabel as nib

        data = np.moveaxis(np.rint(probs * 255), 0, -1).astype(np.uint8)
        image = nib.Nifti1Image(data, np.asarray(volume.image.affine, dtype=np.float64))
        image.header.set_xyzt_units("mm")
        image.header.set_intent("estimate", name="softmax")
        image.header.set_slope_inter(1.0 / 255.0, 0.0)
        return atomic_write(path, lambda tmp: nib.save(image, tmp), overwrite=overwrite)
    if probs.ndim == 3:
        from PIL import Image

        pages = [Image.fromarray(np.ascontiguousarray(np.rint(p.T * 65535).astype(np.uint16))) for p in probs]

        def save(tmp: str) -> None:
            pages[0].save(tmp, format="TIFF", save_all=True, append_images=pages[1:])

        return atomic_write(path, save, overwrite=overwrite)
    raise ValueError(f"probabilities of {probs.ndim - 1} spatial dimensions: 2D or 3D only")


def read_probabilities(path: str | os.PathLike) -> np.ndarray:
    """Read what :func:`write_probabilities` wrote: ``(C, *spatial)`` float32, 0..1, MONAI axis order."""
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        from PIL import Image, ImageSequence

        with Image.open(path) as image:
            pages = [np.asarray(page, dtype=np.float32).T / 65535.0 for page in ImageSequence.Iterator(image)]
        return np.stack(pages)
    import nibabel as nib

    nifti: Any = nib.load(path)
    return np.moveaxis(np.asarray(nifti.get_fdata(dtype=np.float32)), -1, 0)
