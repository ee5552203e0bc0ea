"""Data: datalists built from folders, with input checks."""

from unet3d.data.datalist import DatasetError, folder_datalist

__all__ = ["DatasetError", "folder_datalist"]
