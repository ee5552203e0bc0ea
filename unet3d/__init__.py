"""unet3d: the U-Net of Ronneberger et al. (2015) as MONAI software for 2D microscopy and 3D CT/MRI.

Importing the package is cheap: submodules (which import torch and MONAI) load on first use,
so ``unet3d --help`` answers quickly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBMODULES = ("bundle", "data", "inference", "inferers", "io", "losses", "metrics", "networks", "plan", "transforms")


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"unet3d.{name}")
    if name == "segment":  # unet3d.segment(inputs, bundle, output_dir, ...)
        return importlib.import_module("unet3d.inference.segmentation").segment
    raise AttributeError(f"module 'unet3d' has no attribute {name!r}")
