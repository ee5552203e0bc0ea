"""Reading and writing: DICOM series, DICOM SEG, atomic outputs."""

from unet3d.io.atomic import atomic_write
from unet3d.io.dicom import DicomError, find_series, read_series, select_series
from unet3d.io.dicom_seg import SegmentSpec, read_dicom_seg, write_dicom_seg

__all__ = [
    "DicomError",
    "SegmentSpec",
    "atomic_write",
    "find_series",
    "read_dicom_seg",
    "read_series",
    "select_series",
    "write_dicom_seg",
]
