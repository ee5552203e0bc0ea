"""Data: datalists built from folders, with input checks."""

from unet3d.data.datalist import DatasetError, folder_datalist, split_of
from unet3d.data.msd import msd_datalist
from unet3d.data.nuclei import nuclei_datalist
from unet3d.data.sampling import appearance, appearance_weights

__all__ = [
    "DatasetError",
    "appearance",
    "appearance_weights",
    "folder_datalist",
    "msd_datalist",
    "nuclei_datalist",
    "split_of",
]
