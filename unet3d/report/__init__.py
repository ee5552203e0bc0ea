"""QC report: per-input figures, thumbnails and flags of a segmentation run (``--report``)."""

from unet3d.report.html import build_report, mask_files
from unet3d.report.records import QC_DIR, read_runs, write_record, write_run
from unet3d.report.reference import flags, reference_from_records
from unet3d.report.stats import confidence, label_statistics, mask_statistics, reported_labels
from unet3d.report.thumbnails import encoded, thumbnail

__all__ = [
    "QC_DIR",
    "build_report",
    "confidence",
    "encoded",
    "flags",
    "label_statistics",
    "mask_files",
    "mask_statistics",
    "read_runs",
    "reference_from_records",
    "reported_labels",
    "thumbnail",
    "write_record",
    "write_run",
]
