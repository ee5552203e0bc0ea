"""Dictionary transforms that MONAI lacks (the paper's weight map, closed membrane masks, nuclei
instances) and fast
versions of two MONAI transforms for CT-sized volumes."""

from unet3d.transforms.large_volume import ArgmaxChannelsd, ZScored, argmax_channels, zscore
from unet3d.transforms.membrane import MembraneLabeld, MembraneMaskd, membrane_mask
from unet3d.transforms.modality import BrightNucleid, bright_nuclei, nuclei_modality
from unet3d.transforms.nuclei import InstanceLabelsd, InstanceTargetd, instance_labels, instance_target
from unet3d.transforms.object_size import RescaleToObjectSized, median_diameter, size_scale
from unet3d.transforms.weight_map import PaperWeightMapd, paper_weight_map

__all__ = [
    "BrightNucleid",
    "InstanceLabelsd",
    "InstanceTargetd",
    "bright_nuclei",
    "instance_labels",
    "instance_target",
    "nuclei_modality",
    "ArgmaxChannelsd",
    "MembraneLabeld",
    "MembraneMaskd",
    "PaperWeightMapd",
    "RescaleToObjectSized",
    "ZScored",
    "argmax_channels",
    "median_diameter",
    "membrane_mask",
    "paper_weight_map",
    "size_scale",
    "zscore",
]
