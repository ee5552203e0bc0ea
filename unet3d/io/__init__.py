"""Reading and writing: NIfTI, NRRD/MetaImage, DICOM series, DICOM SEG, PNG; atomic outputs.

Every format is one entry of :data:`unet3d.io.formats.FORMATS`.
"""

from unet3d.io.atomic import atomic_write, atomic_write_text
from unet3d.io.dicom import DicomError, find_series, read_series, select_series
from unet3d.io.dicom_seg import SegmentSpec, read_dicom_seg, write_dicom_seg
from unet3d.io.errors import InputError
from unet3d.io.formats import (
    FORMATS,
    Format,
    header_shape,
    input_format,
    input_kind,
    input_suffixes,
    output_format,
    read_volume,
    stem,
    write_mask,
)
from unet3d.io.volume import Volume
from unet3d.io.writers import read_probabilities, write_probabilities

__all__ = [
    "FORMATS",
    "DicomError",
    "Format",
    "InputError",
    "SegmentSpec",
    "Volume",
    "atomic_write",
    "atomic_write_text",
    "find_series",
    "header_shape",
    "input_format",
    "input_kind",
    "input_suffixes",
    "output_format",
    "read_dicom_seg",
    "read_probabilities",
    "read_series",
    "read_volume",
    "select_series",
    "stem",
    "write_dicom_seg",
    "write_mask",
    "write_probabilities",
]


def __getattr__(name: str) -> object:
    # the MONAI reader imports monai.data: loaded when a bundle config asks for it, not with unet3d.io
    if name == "SimpleITKReader":
        from unet3d.io.sitk_reader import SimpleITKReader

        return SimpleITKReader
    raise AttributeError(f"module 'unet3d.io' has no attribute {name!r}")
