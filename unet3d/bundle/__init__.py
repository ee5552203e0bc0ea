"""Helpers the bundles' configs call: bundle root, checkpoints, resume, evaluation report, clean errors."""

from unet3d.bundle import distributed
from unet3d.bundle.checks import or_exit
from unet3d.bundle.handlers import EvaluationReport, PublishBestModel, ResumeFromLatest
from unet3d.bundle.paths import bundle_root, latest_checkpoint

__all__ = [
    "EvaluationReport",
    "PublishBestModel",
    "ResumeFromLatest",
    "bundle_root",
    "distributed",
    "latest_checkpoint",
    "or_exit",
]
