"""Metrics: ISBI 2012 pixel and Rand errors as MONAI metrics."""

from unet3d.metrics.em import PixelError, RandError, rand_error

__all__ = ["PixelError", "RandError", "rand_error"]
