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

from unet3d.data.nuclei import stratum


def appearance(image: str | Path | Image.Image) -> str:
    """The kind of microscopy image at ``image`` (a path or an opened PIL image), from its pixels:
    ``"fluorescence"``, ``"brightfield"`` or ``"stained"`` (:func:`unet3d.transforms.nuclei_modality`,
    the decision the bundle's preprocessing makes)."""
    from unet3d.transforms.modality import nuclei_modality

    if not isinstance(image, Image.Image):
        with Image.open(image) as img:
            return appearance(img)
    colour = image.mode in ("RGB", "RGBA", "P", "CMYK")
    pixels = np.asarray(image.convert("RGB") if colour else image, np.float32)
    return nuclei_modality(pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0))


def appearance_weights(
    datalist: Sequence[dict], power: float = 0.5, key: str = "image", by: str = "appearance"
) -> list[float]:
    """One sampling weight per datalist entry, ``1 / n ** power``.

    ``n`` is the number of entries of the same group: of the same :func:`appearance`
    (``by="appearance"``), or of the same data set and appearance (``by="stratum"``: the data
    set is the first folder of the entry's ``source``; H&E tissue sections and DSB2018's stained
    cells are then two groups, not one). With ``power`` 0 every image is equally likely (uniform
    sampling); with 1 every group is drawn equally often; 0.5 (square root) draws each group in
    proportion to the square root of its count, a compromise that shows rare kinds more often
    without repeating a handful of images all the time.

    Example::

        >>> sampler = torch.utils.data.WeightedRandomSampler(
        ...     appearance_weights(datalist["training"]), num_samples=480, replacement=True)
    """
    if by not in ("appearance", "stratum"):
        raise ValueError(f"by={by!r}; expected 'appearance' or 'stratum'")
    if power == 0:
        return [1.0] * len(datalist)
    kinds = [entry.get("modality") or appearance(entry[key]) for entry in datalist]
    if by == "stratum":
        kinds = [stratum(str(entry.get("source", "")), k) for entry, k in zip(datalist, kinds, strict=True)]
    counts = Counter(kinds)
    return [1.0 / counts[k] ** power for k in kinds]
