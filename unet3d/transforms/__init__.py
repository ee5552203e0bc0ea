"""Dictionary transforms that MONAI lacks (the paper's weight map)."""

from unet3d.transforms.weight_map import PaperWeightMapd, paper_weight_map

__all__ = ["PaperWeightMapd", "paper_weight_map"]
