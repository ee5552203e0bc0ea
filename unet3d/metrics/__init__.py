"""Metrics: ISBI 2012 pixel and Rand errors; instance AP, F1, SEG and foreground IoU; as MONAI metrics."""

from unet3d.metrics.em import PixelError, RandError, rand_error
from unet3d.metrics.instances import InstanceMetric, average_precision, instance_scores

__all__ = ["InstanceMetric", "PixelError", "RandError", "average_precision", "instance_scores", "rand_error"]
