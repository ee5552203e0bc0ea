"""One intensity convention for every microscope: a nuclei image as one channel with bright nuclei.

Three kinds of microscopy image reach a nuclei model, and each needs its own conversion:

- ``"fluorescence"``: nuclei emit light on a dark background (DAPI, Hoechst). Gray images are
  kept; pseudo-coloured ones (e.g. DAPI shown in blue) take the brightest channel, where the
  stain lives (luma would weight blue by 0.114).
- ``"brightfield"``: gray transmitted-light images, dark nuclei on a light background: inverted.
- ``"stained"``: colour transmitted-light images, H&E or another hematoxylin-like stain (purple
  nuclei): the hematoxylin channel of a colour deconvolution (``skimage.color.rgb2hed``, Ruifrok
  and Johnston's stain vectors), whose optical density is high on nuclei and low on eosin-stained
  tissue and white lumen alike. Inverted luma, the previous rule, made lumen the brightest part
  of dense tissue.

:func:`nuclei_modality` decides the kind from the pixels (``modality="auto"``); a user who knows
better passes the kind. The decision and its error rate on the training images are in
``bundles/nuclei/docs/README.md``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type

__all__ = ["LUMA", "MODALITIES", "BrightNucleid", "bright_nuclei", "nuclei_modality"]

# ITU-R BT.601 luma weights (what PIL's convert("L") uses)
LUMA = (0.299, 0.587, 0.114)
MODALITIES = ("fluorescence", "brightfield", "stained")


def _channels(image: np.ndarray) -> np.ndarray:
    """``(C, *spatial)`` gray, gray + alpha, RGB or RGBA as ``(1 or 3, *spatial)`` float32 (alpha dropped)."""
    c = image.shape[0]
    if c in (1, 2):
        return image[:1].astype(np.float32)
    if c in (3, 4):
        return image[:3].astype(np.float32)
    raise ValueError(f"{c} channels; expected gray, gray+alpha, RGB or RGBA")


def _full_scale(pixels: np.ndarray) -> float:
    """The white level: 255 for 8-bit values, else the image's maximum (16-bit, float)."""
    top = float(pixels.max())
    return 255.0 if top <= 255.0 else top


def nuclei_modality(image: np.ndarray, colour_tolerance: float = 8.0, dark_background: float = 0.2) -> str:
    """The kind of microscopy image, from its pixels: one of :data:`MODALITIES`.

    Colour (the channels differ from their mean by more than ``colour_tolerance`` grey levels of
    255 on average): ``"stained"``, unless the median luma is below ``dark_background`` of full
    scale (a pseudo-coloured fluorescence image: ``"fluorescence"``). Gray: ``"brightfield"``
    when the intensity histogram is skewed towards dark values (a light background with dark
    objects; skewness < 0), else ``"fluorescence"``. The skewness, unlike the median, does not
    depend on how much of the image the background covers.

    Args:
        image: ``(C, *spatial)``, C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
        colour_tolerance: mean absolute channel difference (grey levels of 255) above which an
            image is colour.
        dark_background: median luma (fraction of full scale) below which a colour image is
            fluorescence.
    """
    pixels = _channels(np.asarray(image))
    scale = _full_scale(pixels)
    if pixels.shape[0] == 3:
        spread = float(np.abs(pixels - pixels.mean(axis=0, keepdims=True)).mean()) * 255.0 / scale
        if spread > colour_tolerance:
            luma = sum(w * pixels[i] for i, w in enumerate(LUMA))
            return "stained" if float(np.median(luma)) >= dark_background * scale else "fluorescence"
        gray = pixels.mean(axis=0)
    else:
        gray = pixels[0]
    values = gray.astype(np.float64).ravel()
    centred = values - values.mean()
    third = float(np.mean(centred**3))  # the sign of the skewness (its scale does not matter)
    return "brightfield" if third < 0 else "fluorescence"


def bright_nuclei(image: np.ndarray, modality: str = "auto") -> np.ndarray:
    """Any microscopy image ``(C, *spatial)`` as one channel ``(1, *spatial)`` with bright nuclei.

    Args:
        image: ``(C, *spatial)``, C = 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA).
        modality: ``"auto"`` (:func:`nuclei_modality` decides) or one of :data:`MODALITIES`.
            ``"stained"`` on a gray image is treated as ``"brightfield"`` (no colour to deconvolve).

    Intensities are not rescaled to a fixed range (``ScaleIntensityRangePercentilesd`` follows
    in the bundle); brightfield is inverted within the image's own range.

    Raises:
        ValueError: more than 4 channels, or an unknown modality.
    """
    if modality not in ("auto", *MODALITIES):
        raise ValueError(f"modality {modality!r}; expected 'auto' or one of {', '.join(MODALITIES)}")
    pixels = _channels(np.asarray(image))
    kind = nuclei_modality(pixels) if modality == "auto" else modality
    if kind == "stained" and pixels.shape[0] == 3:
        from skimage.color import rgb2hed

        rgb = np.clip(np.moveaxis(pixels, 0, -1) / _full_scale(pixels), 0.0, 1.0)
        return np.asarray(rgb2hed(rgb)[..., 0], np.float32)[None]
    if kind == "fluorescence":
        gray = pixels.max(axis=0)  # gray: itself; pseudo-colour: the channel that holds the stain
    else:
        gray = sum(w * pixels[i] for i, w in enumerate(LUMA)) if pixels.shape[0] == 3 else pixels[0]
        gray = gray.max() + gray.min() - gray
    return np.asarray(gray, np.float32)[None]


class BrightNucleid(MapTransform):
    """Dictionary transform: :func:`bright_nuclei` on channel-first images ``(C, *spatial)``.

    Args:
        keys: keys of the images to convert.
        modality: ``"auto"`` or one of :data:`MODALITIES` (see :func:`bright_nuclei`).
        allow_missing_keys: don't raise if a key is missing.

    Example::

        >>> BrightNucleid("image")({"image": torch.rand(4, 256, 320)})["image"].shape   # RGBA
        torch.Size([1, 256, 320])
    """

    converts_color = True  # unet3d segment reads colour images for bundles that use this transform

    def __init__(self, keys: KeysCollection, modality: str = "auto", allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        if modality not in ("auto", *MODALITIES):
            raise ValueError(f"modality {modality!r}; expected 'auto' or one of {', '.join(MODALITIES)}")
        self.modality = modality

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            image = d[key]
            array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
            d[key] = convert_to_dst_type(bright_nuclei(array, self.modality), image, dtype=torch.float32)[0]
        return d
