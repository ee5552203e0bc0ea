"""Inferers: overlap-tile inference for valid-convolution networks."""

from unet3d.inferers.overlap_tile import OverlapTileInferer, mirror_pad

__all__ = ["OverlapTileInferer", "mirror_pad"]
