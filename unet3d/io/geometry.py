"""Voxel geometry shared by the readers: ITK's LPS world to RAS, SimpleITK images as (x, y, z) arrays."""

from __future__ import annotations

from typing import Any

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])  # ITK and DICOM describe the world in LPS, NIfTI and MONAI in RAS


def sitk_affine(image: Any) -> np.ndarray:
    """The voxel-to-world matrix of a SimpleITK image in RAS mm (ITK's world is LPS), 3x3 for a
    2D image, 4x4 for a 3D one."""
    dims = image.GetDimension()
    lps = np.eye(dims + 1)
    lps[:dims, :dims] = np.asarray(image.GetDirection()).reshape(dims, dims) * np.asarray(image.GetSpacing())
    lps[:dims, dims] = image.GetOrigin()
    flip = LPS_TO_RAS if dims == 3 else np.diag([-1.0, -1.0, 1.0])
    return flip @ lps


def sitk_array(image: Any) -> np.ndarray:
    """The voxels of a SimpleITK image in (x, y[, z]) order (SimpleITK's arrays are (z, y, x)),
    components per voxel last."""
    import SimpleITK as sitk

    array = sitk.GetArrayFromImage(image)
    spatial = image.GetDimension()
    order = tuple(reversed(range(spatial))) + tuple(range(spatial, array.ndim))
    return np.ascontiguousarray(array.transpose(order))
