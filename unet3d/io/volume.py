"""Read any supported input as a MONAI ``MetaTensor`` with its geometry; write masks in its geometry.

Axis convention: MONAI's. Arrays are ``(x, y[, z])`` (``LoadImage`` order) and ``affine`` maps
voxel indices to RAS millimetres. NIfTI is read through MONAI (nibabel); DICOM series, NRRD and
MetaImage through SimpleITK, whose LPS geometry is converted to RAS as MONAI's ITK reader does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io.errors import InputError, read_error_reason


@dataclass
class Volume:
    """An input read for segmentation.

    Attributes:
        image: ``MetaTensor`` without channel axis, ``(x, y[, z])``, float32, with ``affine``; a
            colour 2D image read with ``color=True`` keeps its channels last, ``(x, y, 3 or 4)``.
        kind: ``"nifti"``, ``"dicom"``, ``"itk"`` or ``"image2d"``.
        path: the file or series folder.
        dicom_headers: for DICOM input, the series' headers in slice order (``z``), or the one
            multi-frame object's.
        nifti_header: for NIfTI input, the original nibabel header (written back with the mask).
        frame_order: for a multi-frame DICOM object, the source frame (0-based) at each ``z``.
        channels: channels of a multi-channel volume (a 4D NIfTI or a vector NRRD/MHA, or
            nnU-Net's channel files stacked), kept last: ``image`` is ``(x, y, z, channels)``.
    """

    image: Any
    kind: str
    path: Path
    dicom_headers: list = field(default_factory=list)
    nifti_header: Any = None
    frame_order: list[int] | None = None
    channels: int = 1

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """The image's spatial shape, ``(x, y[, z])`` (channels of a colour image or a
        multi-channel volume left out)."""
        shape = tuple(self.image.shape)
        if self.kind == "image2d":
            return shape[:2]
        return shape[:-1] if self.channels > 1 else shape

    @property
    def first_channel(self) -> np.ndarray:
        """The voxels of the first channel, ``(x, y[, z])`` (what the QC report pictures)."""
        image = np.asarray(self.image)
        return image[..., 0] if self.channels > 1 else image


def _from_sitk(image, path: Path, channels: int = 1):
    import torch
    from monai.data import MetaTensor

    from unet3d.io.geometry import sitk_affine, sitk_array

    components = image.GetNumberOfComponentsPerPixel()
    if components != channels:
        raise InputError(f"{path}: {components} components per voxel; this bundle takes {channels}")
    array = sitk_array(image).astype(np.float32)  # (x, y, z[, components])
    affine = sitk_affine(image)
    meta: dict[str, Any] = {"filename_or_obj": str(path), "original_affine": affine, "spatial_shape": array.shape[:3]}
    meta["original_channel_dim"] = -1 if components > 1 else "no_channel"
    return MetaTensor(array, affine=torch.as_tensor(affine, dtype=torch.float64), meta=meta)


# PIL modes of 2D images: one channel, and colour ones (read with ``color=True``)
GRAY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
COLOR_MODES = ("LA", "RGB", "RGBA")


def palette_to_colours(image: Any) -> Any:
    """A converter for MONAI's ``PILReader``: a palette ("P") image becomes the colours it shows.

    PIL reads a palette image as its palette indices, which are not intensities (ImageJ, for
    one, saves 8-bit images with a colour lookup table this way), so the image is converted: to
    gray ("L", or "LA" with transparency) when every pixel's colour is a gray, else to RGB(A).
    Other modes pass through. Only for images: a label map stored with a palette holds its ids
    in the indices.
    """
    if image.mode != "P":
        return image
    alpha = "transparency" in image.info
    colour = image.convert("RGBA" if alpha else "RGB")
    rgb = np.asarray(colour)[..., :3]
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return colour.convert("LA" if alpha else "L")
    return colour


def _check_image2d(path: Path, color: bool) -> None:
    """Refuse stacks and channel layouts that a 2D bundle cannot read, naming them."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            frames, mode = getattr(im, "n_frames", 1), im.mode  # headers only: LoadImage decodes
            if mode == "P":
                mode = palette_to_colours(im).mode  # what the reader will make of it
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise InputError(f"{path}: cannot read ({read_error_reason(e)})") from e
    if frames > 1:
        raise InputError(f"{path}: a stack of {frames} images; this bundle segments single 2D images")
    if mode in GRAY_MODES or (color and mode in COLOR_MODES):
        return
    accepted = "gray, gray+alpha, RGB or RGBA" if color else "single-channel (gray)"
    raise InputError(f"{path}: {mode} image; this bundle takes {accepted} images")


def read_nifti(path: Path, color: bool = False, **_: Any) -> Volume:
    """A NIfTI file through MONAI (nibabel), with its original header kept for the mask."""
    import nibabel as nib
    from monai.transforms import LoadImage

    header = nib.load(str(path)).header
    dtype = np.dtype(header.get_data_dtype())  # type: ignore[attr-defined]  # a NIfTI header has it
    if dtype.kind == "c" or dtype.names:  # LoadImage would drop the imaginary part or fail to cast
        kind = "complex" if dtype.kind == "c" else "RGB"
        raise InputError(f"{path}: {kind} voxels ({dtype}); expected one real intensity per voxel")
    image = LoadImage(image_only=True, dtype=np.float32)(str(path))  # a 4D file: channels last
    channels = int(image.shape[3]) if image.ndim == 4 else 1
    return Volume(image=image, kind="nifti", path=path, nifti_header=header, channels=channels)


def read_itk(path: Path, channels: int = 1, **_: Any) -> Volume:
    """An NRRD or MetaImage file through SimpleITK, LPS converted to RAS; ``channels`` components
    per voxel (kept last)."""
    import SimpleITK as sitk

    image = _from_sitk(sitk.ReadImage(str(path)), path, channels)
    return Volume(image=image, kind="itk", path=path, channels=channels)


def read_dicom(
    path: Path, series_uid: str | None = None, allow_gaps: bool = False, skip_suffixes: tuple = (), **_: Any
) -> Volume:
    """A DICOM series folder (one series, or the one ``series_uid`` names) through SimpleITK, or
    an enhanced multi-frame CT/MR object (a file, or a folder holding one) through
    :func:`unet3d.io.enhanced.read_multiframe`."""
    import pydicom

    from unet3d.io.dicom import read_series, select_series
    from unet3d.io.enhanced import is_multiframe, read_multiframe

    headers: list[Any]
    if path.is_file():
        headers = [pydicom.dcmread(path, stop_before_pixels=True)]
        if not is_multiframe(headers[0]):
            raise InputError(f"{path}: a single DICOM image; give the folder of its series")
    else:
        headers = select_series(path, series_uid, allow_gaps, skip_suffixes)  # DicomError is an InputError
    if is_multiframe(headers[0]):
        image, header, order = read_multiframe(str(headers[0].filename), headers[0])
        return Volume(image=image, kind="dicom", path=path, dicom_headers=[header], frame_order=order)
    image = _from_sitk(read_series(headers), path)
    return Volume(image=image, kind="dicom", path=path, dicom_headers=headers)


def read_image2d(path: Path, color: bool = False, **_: Any) -> Volume:
    """A PNG/TIFF/JPEG/BMP image through MONAI's ``PILReader`` (MONAI's default choice hands TIFF
    to pydicom); stacks and channel layouts the bundle cannot take are refused first."""
    from monai.transforms import LoadImage

    _check_image2d(path, color)
    from monai.data import PILReader

    reader = PILReader(converter=palette_to_colours)
    image = LoadImage(image_only=True, dtype=np.float32, reader=reader)(str(path))
    return Volume(image=image, kind="image2d", path=path)


def nifti_shape(path: Path) -> tuple[int, ...]:
    """Shape from the NIfTI header, in the file's axis order (no voxel data read)."""
    import nibabel as nib

    return tuple(int(s) for s in nib.load(path).shape)  # type: ignore[attr-defined]


def itk_shape(path: Path) -> tuple[int, ...]:
    """Size from an ITK-readable file's header, ``(x, y[, z])`` (no voxel data read)."""
    import SimpleITK as sitk

    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    return tuple(int(s) for s in reader.GetSize())


def image2d_shape(path: Path) -> tuple[int, ...]:
    """``(rows, columns)`` of a 2D image; the whole file is checked (truncated files fail here)."""
    from PIL import Image

    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return (im.height, im.width)
