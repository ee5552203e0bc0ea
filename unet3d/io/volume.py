"""Read any supported input as a MONAI ``MetaTensor`` with its geometry; write masks in its geometry.

Axis convention: MONAI's. Arrays are ``(x, y[, z])`` (``LoadImage`` order) and ``affine`` maps
voxel indices to RAS millimetres. NIfTI is read through MONAI (nibabel); DICOM series, NRRD and
MetaImage through SimpleITK, whose LPS geometry is converted to RAS as MONAI's ITK reader does.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

NIFTI_SUFFIXES = (".nii", ".nii.gz")
ITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
IMAGE_2D_SUFFIXES = (".png", ".tif", ".tiff")
_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


class InputError(ValueError):
    """A bad input; the message names the file or folder and the problem."""


@dataclass
class Volume:
    """An input read for segmentation.

    Attributes:
        image: ``MetaTensor`` without channel axis, ``(x, y[, z])``, float32, with ``affine``.
        kind: ``"nifti"``, ``"dicom"``, ``"itk"`` or ``"image2d"``.
        path: the file or series folder.
        dicom_headers: for DICOM input, the series' headers in slice order (``z``).
        nifti_header: for NIfTI input, the original nibabel header (written back with the mask).
    """

    image: Any
    kind: str
    path: Path
    dicom_headers: list = field(default_factory=list)
    nifti_header: Any = None


def input_kind(path: str | os.PathLike) -> str:
    """``dicom`` (a folder), ``nifti``, ``itk`` or ``image2d``, from the path.

    Raises:
        InputError: a file of another type, or a path that does not exist.
    """
    p = Path(path)
    if p.is_dir():
        return "dicom"
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    name = p.name.lower()
    for kind, suffixes in (("nifti", NIFTI_SUFFIXES), ("itk", ITK_SUFFIXES), ("image2d", IMAGE_2D_SUFFIXES)):
        if name.endswith(suffixes):
            return kind
    supported = ", ".join((*NIFTI_SUFFIXES, *ITK_SUFFIXES, *IMAGE_2D_SUFFIXES))
    raise InputError(f"{p}: unsupported input type (supported: a DICOM series folder, {supported})")


def _from_sitk(image, path: Path):
    import SimpleITK as sitk
    import torch
    from monai.data import MetaTensor

    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"{path}: {image.GetNumberOfComponentsPerPixel()} components per voxel; expected 1")
    array = sitk.GetArrayFromImage(image).astype(np.float32)  # (z, y, x)
    array = np.ascontiguousarray(array.transpose(tuple(reversed(range(array.ndim)))))  # (x, y, z)
    dims = image.GetDimension()
    lps = np.eye(dims + 1)
    lps[:dims, :dims] = np.asarray(image.GetDirection()).reshape(dims, dims) * np.asarray(image.GetSpacing())
    lps[:dims, dims] = image.GetOrigin()
    if dims == 3:
        affine = _LPS_TO_RAS @ lps
    else:
        affine = np.diag([-1.0, -1.0, 1.0]) @ lps
    meta = {"filename_or_obj": str(path), "original_affine": affine, "spatial_shape": array.shape}
    meta["original_channel_dim"] = "no_channel"
    return MetaTensor(array, affine=torch.as_tensor(affine, dtype=torch.float64), meta=meta)


def read_volume(path: str | os.PathLike, series_uid: str | None = None) -> Volume:
    """Read a NIfTI/NRRD/MetaImage file, a DICOM series folder or a 2D image.

    Raises:
        InputError: unreadable or truncated file, more than one channel or a 4D volume, NaN or
            infinite intensities, an empty DICOM folder or several series without ``series_uid``.
    """
    import torch

    p = Path(path)
    kind = input_kind(p)
    headers: list = []
    nifti_header = None
    try:
        if kind == "dicom":
            from unet3d.io.dicom import DicomError, read_series, select_series

            try:
                headers = select_series(p, series_uid)
                image = _from_sitk(read_series(headers), p)
            except DicomError as e:
                raise InputError(str(e)) from e
        elif kind == "itk":
            import SimpleITK as sitk

            image = _from_sitk(sitk.ReadImage(str(p)), p)
        else:
            from monai.transforms import LoadImage

            image = LoadImage(image_only=True, dtype=np.float32)(str(p))
            if kind == "nifti":
                import nibabel as nib

                nifti_header = nib.load(str(p)).header
    except InputError:
        raise
    except Exception as e:  # readers raise many types for damaged files
        raise InputError(f"{p}: cannot read ({type(e).__name__}: {e})") from e
    expected = 2 if kind == "image2d" else 3
    if image.ndim != expected:
        what = "channels or time points" if image.ndim > expected else "dimensions"
        raise InputError(
            f"{p}: shape {tuple(image.shape)} has extra {what}; expected a single-channel {expected}D image"
        )
    if not torch.isfinite(image).all():
        raise InputError(f"{p}: image contains NaN or infinite values")
    return Volume(image=image, kind=kind, path=p, dicom_headers=headers, nifti_header=nifti_header)
