"""Reading and writing: NIfTI, NRRD/MetaImage, DICOM series, DICOM SEG, PNG; atomic outputs."""

from unet3d.io.atomic import atomic_write
from unet3d.io.dicom import DicomError, find_series, read_series, select_series
from unet3d.io.dicom_seg import SegmentSpec, read_dicom_seg, write_dicom_seg
from unet3d.io.volume import InputError, Volume, input_kind, read_volume
from unet3d.io.writers import DEFAULT_FORMAT, SUFFIXES, write_mask

__all__ = [
    "DEFAULT_FORMAT",
    "SUFFIXES",
    "DicomError",
    "InputError",
    "Volume",
    "input_kind",
    "read_volume",
    "write_mask",
    "SegmentSpec",
    "atomic_write",
    "find_series",
    "read_dicom_seg",
    "read_series",
    "select_series",
    "write_dicom_seg",
]
