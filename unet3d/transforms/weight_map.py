"""The U-Net paper's loss weight map as a dictionary transform (eq. 2 of Ronneberger et al. 2015).

MONAI has no equivalent: its losses take per-class weights, not a per-pixel map derived from
instance separation borders, so the map is computed here.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type
from scipy import ndimage


def paper_weight_map(
    label: np.ndarray, boundary_label: int = 0, w0: float = 10.0, sigma: float = 5.0, balance: bool = True
) -> np.ndarray:
    """Per-pixel loss weights ``w(x) = w_c(x) + w0 * exp(-(d1(x) + d2(x))**2 / (2 * sigma**2))``.

    Objects ("cells") are the connected components of all pixels whose label is not
    ``boundary_label``; ``d1`` and ``d2`` are the distances (pixels / voxels) to the nearest and
    second-nearest object. The border term is applied on ``boundary_label`` pixels, the separation
    borders between touching objects that the paper wants the network to learn. ``w_c`` balances
    class frequencies: ``N / (K * n_c)`` for the ``K`` classes present, so its mean is 1.

    Args:
        label: integer label of shape ``(H, W)`` or ``(D, H, W)`` (no channel axis).
        boundary_label: label value of the background / separation class (membrane in EM).
        w0: weight of the border term (10 in the paper).
        sigma: width of the border term in pixels (5 in the paper).
        balance: include the class-balancing term ``w_c`` (otherwise it is 1 everywhere).

    Returns:
        float32 array of the label's shape.
    """
    label = np.asarray(label)
    if balance:
        values, counts = np.unique(label, return_counts=True)
        class_w = label.size / (len(values) * counts.astype(np.float64))
        weight = class_w[np.searchsorted(values, label)].astype(np.float32)
    else:
        weight = np.ones(label.shape, np.float32)
    background = label == boundary_label
    objects, n = ndimage.label(~background)
    if n < 2 or w0 == 0:
        return weight
    # Beyond `reach` the border term is below w0 * 1e-4 of its peak; distances are only needed
    # up to there, so each object's distance transform runs on its bounding box grown by `reach`.
    reach = int(np.ceil(sigma * np.sqrt(2 * np.log(1e4)))) + 1
    d1 = np.full(label.shape, np.inf, np.float32)
    d2 = np.full(label.shape, np.inf, np.float32)
    for i, box in enumerate(ndimage.find_objects(objects), start=1):
        grown = tuple(
            slice(max(s.start - reach, 0), min(s.stop + reach, size)) for s, size in zip(box, label.shape, strict=True)
        )
        dist = ndimage.distance_transform_edt(objects[grown] != i).astype(np.float32)
        a, b = d1[grown], d2[grown]
        d2[grown] = np.where(dist < a, a, np.minimum(b, dist))
        d1[grown] = np.minimum(a, dist)
    border = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    weight[background] += border[background]
    return weight


class PaperWeightMapd(MapTransform):
    """Dictionary transform adding the paper's weight map of ``keys`` (a label) under ``weight_key``.

    Works on channel-first labels of shape ``(1, H, W)`` or ``(1, D, H, W)``; the map has the same
    shape and type. It is deterministic, so placed before the first random transform it is
    computed once per image and cached by ``CacheDataset``.

    Args:
        keys: the label key (one).
        weight_key: key to store the weight map under.
        boundary_label, w0, sigma, balance: see :func:`paper_weight_map`.

    Example::

        >>> t = PaperWeightMapd("label", weight_key="weight", boundary_label=1)   # EM: 1 = membrane
        >>> t({"label": torch.zeros(1, 64, 64)})["weight"].shape
        torch.Size([1, 64, 64])
    """

    def __init__(
        self,
        keys: KeysCollection,
        weight_key: str = "weight",
        boundary_label: int = 0,
        w0: float = 10.0,
        sigma: float = 5.0,
        balance: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.weight_key = weight_key
        self.boundary_label, self.w0, self.sigma, self.balance = boundary_label, w0, sigma, balance

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            arr = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
            if arr.shape[0] != 1:
                raise ValueError(f"{key} must have one channel, got shape {tuple(arr.shape)}")
            label_map = np.rint(arr[0]).astype(np.int64)
            weight = paper_weight_map(label_map, self.boundary_label, self.w0, self.sigma, self.balance)[None]
            d[self.weight_key] = convert_to_dst_type(weight, label, dtype=torch.float32)[0]
        return d
