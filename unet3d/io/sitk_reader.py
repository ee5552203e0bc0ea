"""A MONAI ``ImageReader`` on SimpleITK: NRRD, MetaImage and NIfTI volumes in ``LoadImage(d)``.

MONAI reads these through ``ITKReader`` (the ``itk`` package) or ``NrrdReader`` (``pynrrd``),
neither a dependency here; without them MONAI 1.6 hands an ``.nrrd`` file to its DICOM reader,
which fails. The project already reads NRRD and MetaImage with SimpleITK (:func:`unet3d.io.volume.read_itk`),
so bundles that train on them (``unet3d plan`` writes such bundles) use this reader with the same
geometry: voxels in (x, y, z) order, the affine in RAS mm.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from monai.data import ImageReader
from monai.data.image_reader import _copy_compatible_dict, _stack_images
from monai.utils import ensure_tuple

from unet3d.io.geometry import sitk_affine, sitk_array

SUFFIXES = ("nrrd", "nhdr", "mha", "mhd", "nii", "nii.gz")


class SimpleITKReader(ImageReader):
    """Read volumes with SimpleITK for MONAI's ``LoadImage``; a list of files is stacked as channels.

    Args:
        dtype: the array's type (``float32`` by default, as MONAI's readers).

    Example (a bundle config)::

        - _target_: LoadImaged
          keys: [image, label]
          reader: "$unet3d.io.SimpleITKReader()"
    """

    def __init__(self, dtype: Any = np.float32) -> None:
        super().__init__()
        self.dtype = dtype

    def verify_suffix(self, filename: Sequence[str | os.PathLike] | str | os.PathLike) -> bool:
        return all(str(f).lower().endswith(tuple("." + s for s in SUFFIXES)) for f in ensure_tuple(filename))

    def read(self, data: Sequence[str | os.PathLike] | str | os.PathLike, **kwargs: Any) -> Any:
        import SimpleITK as sitk

        images = [sitk.ReadImage(str(f)) for f in ensure_tuple(data)]
        return images if len(images) > 1 else images[0]

    def get_data(self, img: Any) -> tuple[np.ndarray, dict]:
        arrays: list[np.ndarray] = []
        meta: dict[str, Any] = {}
        for image in img if isinstance(img, (list, tuple)) else [img]:  # a SimpleITK image is iterable
            array = sitk_array(image).astype(self.dtype)
            header: dict[str, Any] = {"original_affine": sitk_affine(image), "space": "RAS"}
            header["affine"] = header["original_affine"].copy()
            header["spatial_shape"] = np.asarray(array.shape[: image.GetDimension()])
            components = image.GetNumberOfComponentsPerPixel()
            header["original_channel_dim"] = -1 if components > 1 else float("nan")
            arrays.append(array)
            _copy_compatible_dict(header, meta)
        return _stack_images(arrays, meta), meta
