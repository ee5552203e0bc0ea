"""Nuclei/cell instances: training targets from instance maps, and instance ids from the network's
probabilities (2D and 3D). The intensity convention is in :mod:`unet3d.transforms.modality`.

MONAI has the pieces for semantic masks (``AsDiscrete``, ``KeepLargestConnectedComponent``) but
none that turns an instance map into the U-Net paper's target (touching cells separated by
background) or a probability map back into one id per cell; those are here. The watershed is
``skimage.segmentation.watershed``.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type
from scipy import ndimage
from skimage.measure import label as connected_components
from skimage.segmentation import expand_labels, watershed

from unet3d.transforms.weight_map import paper_weight_map


def touching_borders(instances: np.ndarray) -> np.ndarray:
    """Pixels of an object that touch another object (8-/26-neighbourhood), as a boolean array.

    Both sides of a contact are marked, so removing them leaves a 2-pixel background gap.
    """
    size = 3
    larger = ndimage.maximum_filter(instances, size=size) != instances
    nonzero = np.where(instances == 0, instances.max() + 1, instances)
    smaller = ndimage.minimum_filter(nonzero, size=size) != nonzero
    return (instances > 0) & (larger | smaller)


def instance_target(
    instances: np.ndarray,
    is_instance_map: bool = True,
    w0: float = 10.0,
    sigma: float = 5.0,
    separate_touching: bool = True,
    border_class: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """The U-Net paper's target for touching cells: ``(label, weight)`` from an instance map.

    ``label`` is 1 inside objects and 0 on the background and on the borders where two objects
    touch (the paper's "separating background labels"); ``weight`` is the paper's weight map on
    that label (eq. 2, class balancing plus ``w0 * exp(-(d1 + d2)^2 / (2 sigma^2))`` on the
    background between nearby objects). A binary mask (``is_instance_map=False``) carries no
    instance borders: its label is the mask and its weight the class balancing alone.

    Args:
        instances: integer instance map ``(H, W)`` or ``(D, H, W)``, 0 = background.
        is_instance_map: whether ``instances`` separates objects by id.
        w0, sigma: the border term (10 and 5 px in the paper).
        separate_touching: ``False`` gives the plain foreground mask (a semantic baseline).
        border_class: label the touching borders 2 (a third class) instead of background; the
            weight map is the same. The network then says where touching objects meet, and
            :func:`instance_labels` gives those pixels back to the objects (``grow_into``).

    Returns:
        ``label`` (uint8) and ``weight`` (float32), both of ``instances``' shape.
    """
    instances = np.asarray(instances).astype(np.int64)
    interior = instances > 0
    borders = np.zeros_like(interior)
    if is_instance_map and separate_touching:
        borders = touching_borders(instances)
        interior &= ~borders
    w0 = w0 if is_instance_map else 0.0
    weight = paper_weight_map(interior.astype(np.int64), boundary_label=0, w0=w0, sigma=sigma)
    label = interior.astype(np.uint8)
    if border_class:
        label[borders] = 2
    return label, weight


class InstanceTargetd(MapTransform):
    """Dictionary transform: an instance map ``(1, *spatial)`` to the paper's label and weight map.

    The label replaces ``keys``; the weight goes to ``weight_key``. Whether the label is an
    instance map is read from ``instances_key`` in the data (the datalists set it: binary masks
    are not instance truth); missing means ``True``. Deterministic, so ``CacheDataset`` caches it.

    Args:
        keys: the label key.
        weight_key: where the weight map goes.
        instances_key: the data key holding the instance-map flag.
        w0, sigma, separate_touching, border_class: see :func:`instance_target`.
    """

    def __init__(
        self,
        keys: KeysCollection,
        weight_key: str = "weight",
        instances_key: str = "instances",
        w0: float = 10.0,
        sigma: float = 5.0,
        separate_touching: bool = True,
        border_class: bool = False,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.weight_key, self.instances_key, self.w0, self.sigma = weight_key, instances_key, w0, sigma
        self.separate_touching, self.border_class = separate_touching, border_class

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        flag = d.get(self.instances_key, True)
        is_instance_map = bool(flag.item() if isinstance(flag, torch.Tensor) else flag)
        for key in self.key_iterator(d):
            label = d[key]
            array = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
            if array.shape[0] != 1:
                raise ValueError(f"{key} must have one channel, got shape {tuple(array.shape)}")
            target, weight = instance_target(
                np.rint(array[0]), is_instance_map, self.w0, self.sigma, self.separate_touching, self.border_class
            )
            d[key] = convert_to_dst_type(target[None].astype(np.float32), label, dtype=torch.float32)[0]
            d[self.weight_key] = convert_to_dst_type(weight[None], label, dtype=torch.float32)[0]
        return d


def drop_small(labels: np.ndarray, min_size: int) -> np.ndarray:
    """``labels`` (int ids, 0 = background) with the objects under ``min_size`` pixels (voxels) set
    to 0, in place.

    Not ``skimage.morphology.remove_small_objects``: its size argument changed meaning between the
    versions this project allows (``min_size``, deprecated in 0.26, against ``max_size``), and it
    warns on arrays with a single label, which would reach ``unet3d segment``'s stderr."""
    if labels.max() > 0 and min_size > 1:
        small = np.bincount(labels.ravel()) < min_size
        small[0] = False
        labels[small[labels]] = 0
    return labels


def instance_labels(
    prob: np.ndarray,
    threshold: float = 0.5,
    seed_threshold: float | None = 0.8,
    min_size: int = 15,
    expand: int = 1,
    grow_into: np.ndarray | None = None,
    min_seed_size: int = 0,
    keep_unseeded: bool = True,
    min_seed_fraction: float = 0.0,
) -> np.ndarray:
    """One id per object from a foreground probability map ``(H, W)`` or ``(D, H, W)``.

    The foreground is ``prob >= threshold``. Seeds are the connected components of the surer
    interior ``prob >= seed_threshold`` of at least ``min_seed_size`` pixels (smaller ones are
    fragments of one object's interior, which would split it); each grows over the foreground by
    a watershed on the probability, so touching objects that share one foreground component are
    split where the probability dips between them. Foreground components without a seed keep
    their own id, or are dropped (``keep_unseeded=False``: the network is nowhere sure of them).
    Objects below ``min_size`` pixels are dropped; the rest take the ``grow_into`` pixels they
    reach (a watershed on the probability: where a border class says two objects meet), then
    grow by ``expand`` pixels into the background (the network learnt to leave a gap where
    objects touch; the true objects reach into it). Ids run from 1 in raster order of the
    objects' first pixel: deterministic.

    Args:
        prob: foreground probability in [0, 1].
        threshold: foreground threshold.
        seed_threshold: seed threshold (at least ``threshold``); ``None``: connected components
            of the foreground only.
        min_size: smallest object kept, in pixels (voxels).
        expand: pixels (voxels) each object grows into the background, without merging.
        grow_into: boolean mask of ``prob``'s shape that objects take over where they reach it
            (connected to them), split between touching objects by the watershed; ``None``: none.
        min_seed_size: smallest seed, in pixels (voxels); ``0``: every seed.
        min_seed_fraction: smallest seed as a fraction of the median size of the image's seeds
            (those of at least ``min_seed_size``): a size that follows the objects' scale
            (nuclei differ about 4x in diameter between microscopes); ``0``: none. A smaller
            piece of sure interior seeds nothing: it joins the object it touches, or, alone in
            its foreground component, makes that component an object of its own.
        keep_unseeded: keep the foreground components without a seed as objects; ``False``
            drops those without any sure interior (of ``min_seed_size``).

    Returns:
        int32 array of ``prob``'s shape, 0 = background.
    """
    prob = np.asarray(prob, dtype=np.float32)
    foreground = prob >= threshold
    labels = connected_components(foreground, connectivity=1)
    if seed_threshold is not None and labels.max() > 0:
        sure = drop_small(connected_components(prob >= max(seed_threshold, threshold), connectivity=1), min_seed_size)
        seeds = sure
        if min_seed_fraction > 0 and sure.max() > 0:
            sizes = np.bincount(sure.ravel())[1:]
            seeds = drop_small(sure.copy(), int(np.ceil(min_seed_fraction * np.median(sizes[sizes > 0]))))
        labels = watershed(-prob, markers=seeds, mask=foreground, connectivity=1)
        # without relative seeds every sure piece is a seed: nothing unseeded holds one
        if keep_unseeded or seeds is not sure:
            unseeded = connected_components(foreground & (labels == 0), connectivity=1)
            if not keep_unseeded:  # keep only what holds sure interior: a nucleus whose seed was relatively small
                held = np.zeros(int(unseeded.max()) + 1, bool)
                held[unseeded[sure > 0]] = True
                held[0] = False
                unseeded[~held[unseeded]] = 0
            labels = np.where(unseeded > 0, unseeded + labels.max(), labels)
    labels = drop_small(labels, min_size)
    if grow_into is not None and labels.max() > 0:
        labels = watershed(-prob, markers=labels, mask=(labels > 0) | np.asarray(grow_into, bool), connectivity=1)
    if expand > 0 and labels.max() > 0:
        labels = expand_labels(labels, distance=expand)
    # sequential ids in raster order of each object's first pixel
    flat = labels.ravel()
    ids, first = np.unique(flat, return_index=True)
    order = ids[np.argsort(first)]
    order = order[order != 0]
    lut = np.zeros(int(ids.max()) + 1, np.int32)
    lut[order] = np.arange(1, len(order) + 1, dtype=np.int32)
    return lut[labels]


class InstanceLabelsd(MapTransform):
    """Dictionary transform: class probabilities ``(C, *spatial)`` to instance ids ``(1, *spatial)``.

    Args:
        keys: the prediction key (softmax probabilities).
        channel: the foreground (object interior) channel.
        threshold, seed_threshold, min_size, expand, min_seed_size, keep_unseeded,
            min_seed_fraction: see :func:`instance_labels`.
        border_channel: the channel of a border class (where touching objects meet), if the
            network has one: objects take the pixels where it is the most probable class.

    Example::

        >>> InstanceLabelsd("pred")({"pred": torch.rand(2, 64, 64)})["pred"].shape
        torch.Size([1, 64, 64])
    """

    def __init__(
        self,
        keys: KeysCollection,
        channel: int = 1,
        threshold: float = 0.5,
        seed_threshold: float | None = 0.8,
        min_size: int = 15,
        expand: int = 1,
        border_channel: int | None = None,
        min_seed_size: int = 0,
        keep_unseeded: bool = True,
        min_seed_fraction: float = 0.0,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.channel, self.border_channel = channel, border_channel
        self.threshold, self.seed_threshold, self.min_size, self.expand = threshold, seed_threshold, min_size, expand
        self.min_seed_size, self.keep_unseeded, self.min_seed_fraction = min_seed_size, keep_unseeded, min_seed_fraction

    def foreground_and_borders(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """The foreground probability ``(*spatial)`` and the pixels objects take back (``None``
        without a border class) from class probabilities ``(C, *spatial)``."""
        borders = None if self.border_channel is None else probs.argmax(0) == self.border_channel
        return probs[self.channel], borders

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            pred = d[key]
            probs = pred.detach().cpu().numpy() if isinstance(pred, torch.Tensor) else np.asarray(pred)
            prob, grow_into = self.foreground_and_borders(probs)
            ids = instance_labels(
                prob, self.threshold, self.seed_threshold, self.min_size, self.expand, grow_into,
                min_seed_size=self.min_seed_size, keep_unseeded=self.keep_unseeded,
                min_seed_fraction=self.min_seed_fraction,
            )  # fmt: skip
            d[key] = convert_to_dst_type(ids[None].astype(np.float32), pred)[0]
        return d
