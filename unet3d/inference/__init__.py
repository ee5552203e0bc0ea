"""Everything that runs a bundle on data: its layout, the predictor, the fast network copy, ``segment``."""

from unet3d.inference.layout import BundleLayout, find_bundles
from unet3d.inference.predictor import BundlePredictor
from unet3d.inference.segmentation import (
    SegmentationFailures,
    SegmentationInterrupted,
    expand_inputs,
    output_path,
    segment,
)

__all__ = ["BundleLayout", "BundlePredictor", "SegmentationFailures", "SegmentationInterrupted", "expand_inputs",
           "find_bundles", "output_path", "segment"]  # fmt: skip
