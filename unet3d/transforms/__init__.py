"""Dictionary transforms that MONAI lacks: the paper's weight map, closed membrane masks."""

from unet3d.transforms.membrane import MembraneLabeld, MembraneMaskd, membrane_mask
from unet3d.transforms.weight_map import PaperWeightMapd, paper_weight_map

__all__ = ["MembraneLabeld", "MembraneMaskd", "PaperWeightMapd", "membrane_mask", "paper_weight_map"]
