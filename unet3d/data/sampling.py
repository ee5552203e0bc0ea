"""Sampling weights that balance a training set across image appearances.

Nuclei data sets mix microscopes: in DSB2018 about four in five images are fluorescence, and
brightfield and stained (H&E) images are rare, so uniform sampling hardly shows the network the
rare kinds (which is where a nuclei model fails). PyTorch's ``WeightedRandomSampler`` does the
drawing; what is missing is the weight of each image, computed here from its pixels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

APPEARANCES = ("fluorescence", "brightfield", "stained")


def appearance(path: str | Path, colour_tolerance: float = 8.0) -> str:
    """The kind of microscopy image at ``path``, from its pixels.

    ``"stained"``: colour (the RGB channels differ by more than ``colour_tolerance`` grey levels
    of 255 on average, e.g. H&E); otherwise ``"brightfield"`` when the background is light (the
    median above the middle of the 1st-99th percentile range, the rule of
    :func:`unet3d.transforms.bright_nuclei`), else ``"fluorescence"``.
    """
    with Image.open(path) as img:
        mode = img.mode
        pixels = np.asarray(img.convert("RGB") if mode in ("RGB", "RGBA", "P", "CMYK") else img, np.float32)
    if pixels.ndim == 3:
        scale = 255.0 / max(float(pixels.max()), 1.0)
        spread = np.abs(pixels - pixels.mean(axis=-1, keepdims=True)).mean() * scale
        if spread > colour_tolerance:
            return "stained"
        pixels = pixels.mean(axis=-1)
    low, median, high = np.percentile(pixels, (1, 50, 99))
    return "brightfield" if median > (low + high) / 2 else "fluorescence"


def appearance_weights(datalist: Sequence[dict], power: float = 0.5, key: str = "image") -> list[float]:
    """One sampling weight per datalist entry, ``1 / n ** power``.

    ``n`` is the number of entries of the same :func:`appearance`. With ``power`` 0 every image is
    equally likely (uniform sampling); with 1 every appearance is drawn equally often; 0.5 (square
    root) draws each appearance in proportion to the square root of its count, a compromise that
    shows rare kinds more often without repeating a handful of images all the time.

    Example::

        >>> sampler = torch.utils.data.WeightedRandomSampler(
        ...     appearance_weights(datalist["training"]), num_samples=480, replacement=True)
    """
    if power == 0:
        return [1.0] * len(datalist)
    kinds = [appearance(entry[key]) for entry in datalist]
    counts = Counter(kinds)
    return [1.0 / counts[k] ** power for k in kinds]
