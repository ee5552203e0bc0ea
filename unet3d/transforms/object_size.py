"""Object size: the median diameter of an image's objects, and rescaling an image so that its
objects have a chosen size (as Cellpose does before its network).

Nuclei differ about 4x in diameter between microscopes (20x and 40x H&E, the DSB2018 cameras);
a network that over-splits large nuclei does better when they are shown at the size it handles
best. :class:`unet3d.inferers.ObjectSizeInferer` estimates the size from a cheap first pass at
inference; :class:`RescaleToObjectSized` applies the same rule to training images with their
true instances. MONAI's ``Zoomd`` zooms by a fixed factor; the factor here depends on each
image's objects, so it is computed here and the resampling is torch's.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type
from skimage.measure import label as connected_components


def median_diameter(instances: np.ndarray, is_instance_map: bool = True) -> float:
    """The equivalent diameter (px) of the median object area of an instance map ``(H, W)``
    (or of the median volume of ``(D, H, W)``, as a sphere's diameter in voxels).

    Args:
        instances: integer ids, 0 = background.
        is_instance_map: ``False``: a binary mask, whose connected components are the objects.

    Returns:
        the diameter, or ``nan`` when there is no object.
    """
    ids = np.asarray(instances)
    if not is_instance_map:
        ids = connected_components(ids > 0, connectivity=1)
    sizes = np.bincount(ids.astype(np.int64).ravel())[1:]
    sizes = sizes[sizes > 0]
    if sizes.size == 0:
        return math.nan
    area = float(np.median(sizes))
    if ids.ndim == 3:
        return (6.0 * area / math.pi) ** (1.0 / 3.0)
    return math.sqrt(4.0 * area / math.pi)


def size_scale(diameter: float, target_diameter: float, min_scale: float = 0.25, max_scale: float = 1.0) -> float:
    """The zoom that brings objects of ``diameter`` px to ``target_diameter`` px, clipped to
    ``[min_scale, max_scale]``; 1 when the diameter is unknown (``nan``, no objects)."""
    if not math.isfinite(diameter) or diameter <= 0:
        return 1.0
    return float(min(max(target_diameter / diameter, min_scale), max_scale))


def resize_to(x: torch.Tensor, size: Sequence[int], mode: str = "bilinear") -> torch.Tensor:
    """``x`` ``(N, C, *spatial)`` resampled to ``size``: linear with antialiasing where it shrinks
    (``mode="bilinear"``, 2D; trilinear in 3D), or ``"nearest"`` (for ids)."""
    size = tuple(int(s) for s in size)
    if tuple(x.shape[2:]) == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest-exact")
    if x.dim() == 5:
        return F.interpolate(x, size=size, mode="trilinear", align_corners=False)
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)


def scaled_size(shape: Sequence[int], scale: float, multiple: int = 1) -> tuple[int, ...]:
    """``shape`` times ``scale``, each side rounded to a multiple of ``multiple`` (at least one)."""
    return tuple(max(multiple, round(s * scale / multiple) * multiple) for s in shape)


class RescaleToObjectSized(MapTransform):
    """Dictionary transform: image and instance label zoomed so that the median object has
    ``target_diameter`` px (the training side of :class:`unet3d.inferers.ObjectSizeInferer`).

    The zoom is :func:`size_scale` of the label's :func:`median_diameter`; the image is resampled
    linearly with antialiasing, the label by nearest neighbour. Deterministic (``CacheDataset``
    caches it). ``target_diameter=None`` leaves the data as it is.

    Args:
        keys: the image keys (``(C, *spatial)``), resampled linearly.
        label_key: the instance map ``(1, *spatial)`` the size is measured on, resampled by
            nearest neighbour.
        target_diameter: the median object diameter after zooming, px; ``None``: no zoom.
        min_scale, max_scale: the zoom's range (``max_scale=1``: images are only ever shrunk).
        instances_key: the data key saying whether the label is an instance map (missing: yes).
    """

    def __init__(
        self,
        keys: KeysCollection,
        label_key: str = "label",
        target_diameter: float | None = None,
        min_scale: float = 0.25,
        max_scale: float = 1.0,
        instances_key: str = "instances",
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.label_key, self.target_diameter, self.instances_key = label_key, target_diameter, instances_key
        self.min_scale, self.max_scale = min_scale, max_scale

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        if self.target_diameter is None:
            return d
        label = d[self.label_key]
        flag = d.get(self.instances_key, True)
        is_instance_map = bool(flag.item() if isinstance(flag, torch.Tensor) else flag)
        array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
        diameter = median_diameter(np.rint(array[0]), is_instance_map)
        scale = size_scale(diameter, self.target_diameter, self.min_scale, self.max_scale)
        if scale == 1.0:
            return d
        size = scaled_size(array.shape[1:], scale)
        for key in self.key_iterator(d):
            image = torch.as_tensor(d[key], dtype=torch.float32)
            d[key] = convert_to_dst_type(resize_to(image[None], size)[0], d[key], dtype=torch.float32)[0]
        ids = torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32)
        d[self.label_key] = convert_to_dst_type(resize_to(ids[None], size, "nearest")[0], label)[0]
        return d
