"""Membrane probability to a membrane mask whose boundaries are closed (2D and 3D).

Thresholding alone trades the two ISBI errors against each other: a low threshold closes the
small gaps through which neighbouring cells merge (Rand error) but thickens every membrane
(pixel error); a high one does the opposite. A seeded watershed separates the two decisions:
cells are seeded where the network is sure (probability below ``seed_threshold``) and grown over
the probability map; where two cells meet, a one-voxel watershed line is added to the
thresholded mask. The mask keeps the high threshold's membrane width and the low threshold's
closed boundaries. Neither MONAI nor scikit-image has this as a transform; the watershed itself
is ``skimage.segmentation.watershed``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type
from skimage.measure import label as connected_components
from skimage.segmentation import watershed

from unet3d.transforms.nuclei import drop_small


def membrane_mask(
    prob: np.ndarray, threshold: float = 0.5, seed_threshold: float | None = None, min_seed_size: int = 50
) -> np.ndarray:
    """Membrane mask (1 = membrane) from a membrane probability map of shape ``(H, W)`` or ``(D, H, W)``.

    Args:
        prob: membrane probability in [0, 1].
        threshold: probability at or above which a voxel is membrane.
        seed_threshold: probability below which a voxel surely lies in a cell; ``None`` for plain
            thresholding. Seeds are the face-connected components of those voxels.
        min_seed_size: seeds with fewer voxels are dropped (noise inside cells would split them).

    Returns:
        uint8 array of ``prob``'s shape.
    """
    mask = prob >= threshold
    if seed_threshold is None:
        return mask.astype(np.uint8)
    seeds = drop_small(connected_components(prob < seed_threshold, connectivity=1), min_seed_size)
    if seeds.max() == 0:
        return mask.astype(np.uint8)
    basins = watershed(prob, markers=seeds, connectivity=1, watershed_line=True)
    return (mask | (basins == 0)).astype(np.uint8)


class MembraneMaskd(MapTransform):
    """Dictionary transform: class probabilities ``(C, *spatial)`` to a membrane mask ``(1, *spatial)``.

    Args:
        keys: the prediction key (softmax probabilities).
        channel: the membrane channel.
        threshold, seed_threshold, min_seed_size: see :func:`membrane_mask`.

    Example::

        >>> MembraneMaskd("pred", threshold=0.7, seed_threshold=0.2)({"pred": torch.rand(2, 64, 64)})["pred"].shape
        torch.Size([1, 64, 64])
    """

    def __init__(
        self,
        keys: KeysCollection,
        channel: int = 1,
        threshold: float = 0.5,
        seed_threshold: float | None = None,
        min_seed_size: int = 50,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.channel = channel
        self.threshold, self.seed_threshold, self.min_seed_size = threshold, seed_threshold, min_seed_size

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            pred = d[key]
            prob = pred[self.channel].detach().cpu().numpy() if isinstance(pred, torch.Tensor) else pred[self.channel]
            mask = membrane_mask(np.asarray(prob), self.threshold, self.seed_threshold, self.min_seed_size)[None]
            d[key] = convert_to_dst_type(mask.astype(np.float32), pred)[0]
        return d


class MembraneLabeld(MapTransform):
    """Dictionary transform: a stored membrane label to ``1 = membrane, 0 = cell interior``.

    Two conventions are accepted, told apart by the label's maximum: ISBI 2012 (``0`` membrane,
    ``255`` cell interior; maximum above 1) and masks as unet3d writes them and MONAI Label stores
    corrected ones (``1`` membrane, ``0`` cell; kept as they are). A fixed ``MapLabelValued``
    would turn a mask's cell interior (0) into membrane. An ISBI label with no cell pixel at all
    (all 0) would be read as a mask of cells; ISBI labels always have cells.

    Example::

        >>> MembraneLabeld("label")({"label": torch.tensor([[0, 255], [255, 0]])})["label"]
        tensor([[1, 0],
                [0, 1]])
    """

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            label = d[key]
            if label.max() > 1:
                d[key] = convert_to_dst_type(label == 0, label, dtype=label.dtype)[0]
        return d
