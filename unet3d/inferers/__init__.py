"""Inferers: overlap-tile inference for valid-convolution networks; test-time augmentation for any."""

from unet3d.inferers.fitted_window import FittedWindowInferer
from unet3d.inferers.object_size import ObjectSizeInferer
from unet3d.inferers.overlap_tile import OverlapTileInferer, TiledNetwork, mirror_pad, network_geometry
from unet3d.inferers.tta import DihedralTTAInferer, tta_inferer

__all__ = [
    "DihedralTTAInferer",
    "FittedWindowInferer",
    "ObjectSizeInferer",
    "OverlapTileInferer",
    "TiledNetwork",
    "mirror_pad",
    "network_geometry",
    "tta_inferer",
]
