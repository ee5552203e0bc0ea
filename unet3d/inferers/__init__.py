"""Inferers: overlap-tile inference for valid-convolution networks; test-time augmentation for any."""

from unet3d.inferers.overlap_tile import OverlapTileInferer, mirror_pad
from unet3d.inferers.tta import DihedralTTAInferer

__all__ = ["DihedralTTAInferer", "OverlapTileInferer", "mirror_pad"]
