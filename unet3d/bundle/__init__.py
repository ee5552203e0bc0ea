"""Helpers the bundles' configs call: bundle root, checkpoints, resume, the evaluated pipeline and its
report, clean errors."""

from unet3d.bundle import distributed
from unet3d.bundle.checks import check_output_dir, flag, or_exit, run_or_exit
from unet3d.bundle.evaluation import ShippedPipeline
from unet3d.bundle.handlers import EvaluationReport, PublishBestModel, ResumeFromLatest
from unet3d.bundle.paths import bundle_root, latest_checkpoint
from unet3d.bundle.progress import TrainingProgress
from unet3d.bundle.qc import store_qc_reference

__all__ = [
    "EvaluationReport",
    "PublishBestModel",
    "ResumeFromLatest",
    "ShippedPipeline",
    "TrainingProgress",
    "bundle_root",
    "check_output_dir",
    "distributed",
    "flag",
    "latest_checkpoint",
    "or_exit",
    "run_or_exit",
    "store_qc_reference",
]
