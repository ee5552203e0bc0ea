"""Helpers the bundles' configs call: bundle root, checkpoints, resume, evaluation report, clean errors."""

from unet3d.bundle.checks import or_exit
from unet3d.bundle.handlers import EvaluationReport, ResumeFromLatest
from unet3d.bundle.paths import bundle_root, latest_checkpoint

__all__ = ["EvaluationReport", "ResumeFromLatest", "bundle_root", "latest_checkpoint", "or_exit"]
