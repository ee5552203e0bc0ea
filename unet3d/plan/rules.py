"""The planning rules: each a small function from fingerprint figures to one setting.

They follow nnU-Net's published heuristics where those apply (Isensee et al. 2021, "nnU-Net: a
self-configuring method", Methods: target spacing, intensity normalisation, patch size against a
budget, depth from the patch, batch size, foreground oversampling) and the U-Net paper's own
augmentation (elastic deformation). Each returns the value and, where a figure led to it, says
which: :mod:`unet3d.plan.plans` collects those sentences for the bundle's docs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from unet3d.networks.sizes import divisors

ANISOTROPY = 3.0  # nnU-Net's threshold: an axis this many times coarser than the finest is "anisotropic"
MIN_FEATURE_MAP = 4  # the deepest level keeps at least this many voxels per axis
MAX_DEPTH = {2: 5, 3: 4}  # poolings at most (5 in 2D, as the shipped em/nuclei; 4 in 3D, on a CPU)


def target_spacing(spacings: Sequence[Sequence[float]], anisotropy: float = ANISOTROPY) -> list[float]:
    """The spacing every case is resampled to, mm per axis: the median per axis; on anisotropic
    data (the coarsest median axis ``anisotropy`` times the finest) the coarse axis gets the 10th
    percentile of its spacings instead, so that few cases are interpolated across thick slices
    (nnU-Net's rule)."""
    array = np.asarray(spacings, dtype=np.float64)
    target = np.median(array, axis=0)
    coarse = int(np.argmax(target))
    if target[coarse] > anisotropy * target.min():
        target[coarse] = np.percentile(array[:, coarse], 10)
    return [round(float(t), 4) for t in target]


def resampled_shape(shape: Sequence[int], spacing: Sequence[float], target: Sequence[float]) -> list[int]:
    """A case's shape (voxels) after resampling from ``spacing`` to ``target`` (mm)."""
    return [max(1, round(n * s / t)) for n, s, t in zip(shape, spacing, target, strict=True)]


def median_shape(shapes: Sequence[Sequence[int]]) -> list[int]:
    """The median shape per axis, voxels."""
    return [round(float(m)) for m in np.median(np.asarray(shapes, dtype=np.float64), axis=0)]


def pooling(patch: Sequence[int], spacing: Sequence[float], max_depth: int) -> list[list[int]]:
    """Per pooling level, the factor per axis (nnU-Net's rule, ``get_pool_and_conv_props``): a
    level pools an axis while half of it keeps at least :data:`MIN_FEATURE_MAP` voxels and its
    spacing at that level is under twice the finest spacing among the axes that can still pool;
    so thick slices are not pooled until the in-plane axes have caught up. At most ``max_depth``
    levels; at least one (every axis pooled) for patches too small for any.

    Args:
        patch: the patch, voxels per axis.
        spacing: mm per voxel per axis (all 1 for 2D images).
        max_depth: the most levels.
    """
    size, current = [float(p) for p in patch], [float(s) for s in spacing]
    levels: list[list[int]] = []
    while len(levels) < max_depth:
        can = [n / 2 >= MIN_FEATURE_MAP for n in size]
        if not any(can):
            break
        finest = min(sp for sp, c in zip(current, can, strict=True) if c)
        level = [2 if c and sp / finest < 2 else 1 for sp, c in zip(current, can, strict=True)]
        for axis, f in enumerate(level):
            size[axis] /= f
            current[axis] *= f
        levels.append(level)
    return levels or [[2] * len(size)]


def conv_kernels(strides: Sequence[Sequence[int]], spacing: Sequence[float]) -> list[list[int]]:
    """Per level (``len(strides) + 1``: top level to bottleneck), the convolutions' kernel per axis
    (nnU-Net's rule, ``get_pool_and_conv_props``): 1 along an axis while its spacing at that level
    is at least twice the finest, 3 from the level where it comes within that (and below), 3 on
    every axis at the bottleneck. So the top levels of thick-slice volumes convolve in-plane only,
    where a 3x3x3 kernel would mix slices several millimetres apart.

    Args:
        strides: the pooling per level and axis (:func:`pooling`).
        spacing: mm per voxel per axis at the top level (all 1 for 2D images: 3 everywhere).
    """
    current = [float(s) for s in spacing]
    kernel = [1] * len(current)
    levels: list[list[int]] = []
    for level in strides:
        kernel = [3 if k == 3 or sp / min(current) < 2 else 1 for k, sp in zip(kernel, current, strict=True)]
        levels.append(kernel)
        current = [sp * f for sp, f in zip(current, level, strict=True)]
    return [*levels, [3] * len(current)]


def round_up(patch: Sequence[int], strides: list[list[int]]) -> list[int]:
    """Each axis up to a multiple of its divisor (:func:`unet3d.networks.divisors`: the padded
    network's accepted sizes)."""
    return [d * math.ceil(p / d) for p, d in zip(patch, divisors(strides, len(patch)), strict=True)]


def patch_size(median: Sequence[int], spacing: Sequence[float], max_voxels: int) -> tuple[list[int], list[list[int]]]:
    """The training patch (voxels) and the network's pooling (:func:`pooling`; its length is the
    depth): the median shape (so that a typical case is seen whole), shrunk along the axis of the
    largest physical extent until it holds at most ``max_voxels`` voxels (nnU-Net shrinks against
    its GPU memory budget the same way), rounded up to the pooling's multiples per axis."""
    patch = [max(int(m), MIN_FEATURE_MAP * 2) for m in median]
    dims = len(patch)
    while True:
        strides = pooling(patch, spacing, MAX_DEPTH[dims])
        rounded = round_up(patch, strides)
        if math.prod(rounded) <= max_voxels or max(patch) <= MIN_FEATURE_MAP * 2:
            return rounded, strides
        extents = [p * s for p, s in zip(patch, spacing, strict=True)]
        axis = int(np.argmax(extents))
        patch[axis] = max(MIN_FEATURE_MAP * 2, int(patch[axis] * 0.9))


def features(depth: int, base: int = 16, cap: int = 256) -> list[int]:
    """Channels per level, doubling from ``base`` up to ``cap`` (nnU-Net: 32 to 320 on a GPU; the
    shipped bundles' 16 to 256 on a CPU)."""
    return [min(base * 2**level, cap) for level in range(depth + 1)]


def batch_size(patch: Sequence[int], max_batch_voxels: int, spatial_dims: int) -> int:
    """Patches per batch: as many as ``max_batch_voxels`` holds, at least 2 (batch statistics
    and Dice over the batch), at most 2 in 3D and 16 in 2D."""
    return max(2, min(max_batch_voxels // max(1, math.prod(patch)), 2 if spatial_dims == 3 else 16))


def normalisation(is_ct: bool, intensity: dict[str, float], zero_fraction: float) -> dict[str, object]:
    """How intensities are normalised (nnU-Net's rule).

    CT: clip to the foreground's 0.5-99.5 percentiles over the whole data set, then z-score with
    the foreground's mean and standard deviation (Hounsfield units mean the same in every scan).
    Otherwise: z-score per image, over the non-zero voxels when most images have a zero
    background (skull-stripped or masked volumes: ``zero_fraction`` at least 0.25).
    """
    if is_ct:
        return {"kind": "ct", "clip": [intensity["p00_5"], intensity["p99_5"]], "mean": intensity["mean"],
                "std": intensity["std"]}  # fmt: skip
    return {"kind": "zscore", "nonzero": bool(zero_fraction >= 0.25)}


def flip_axes(spatial_dims: int) -> list[int]:
    """Axes flipped in augmentation and test-time augmentation: both in 2D (microscopy and
    photographs have no up or left); in 3D the left-right axis only (RAS axis 0: bodies are
    mirror-symmetric across the sagittal plane, not front to back or top to bottom, and labels
    such as "anterior" keep their meaning)."""
    return [0, 1] if spatial_dims == 2 else [0]


def rotation_range(spacing: Sequence[float], spatial_dims: int, anisotropy: float = ANISOTROPY) -> list[float]:
    """Random rotation, radians per axis: any angle in 2D; 15 degrees about each axis in 3D, or
    about the coarse axis only when the data are anisotropic (rotating thick slices out of plane
    invents detail)."""
    if spatial_dims == 2:
        return [math.pi]
    limit = round(math.radians(15), 4)
    if max(spacing) > anisotropy * min(spacing):
        coarse = int(np.argmax(spacing))
        return [limit if axis == coarse else 0.0 for axis in range(3)]
    return [limit] * 3


def foreground_fraction(label_voxels: Sequence[dict[int, int]]) -> float:
    """The median share of foreground voxels (label > 0) per case."""
    shares = [sum(c for v, c in counts.items() if v != 0) / max(1, sum(counts.values())) for counts in label_voxels]
    return float(np.median(shares)) if shares else 0.0


# the share of the time budget left for what the timing run (unet3d.plan.timing) does not see: the
# per-epoch checkpoint, the logging handlers (per iteration), and the machine's speed drifting
# during a long run (benchmarks/README.md, plan)
OVERHEAD = 0.15


def epochs_for(budget_s: float, epoch_s: float, validation_s: float, min_epochs: int = 2) -> tuple[int, int]:
    """``(max_epochs, val_interval)`` that fit ``budget_s`` seconds less :data:`OVERHEAD`:
    validation every few epochs so that it takes about a tenth of the time, at least 4 validations."""
    interval = max(1, math.ceil(validation_s / max(1e-9, 0.1 * epoch_s)))
    per_epoch = epoch_s + validation_s / interval
    epochs = max(min_epochs, int(budget_s * (1 - OVERHEAD) // per_epoch))
    interval = max(1, min(interval, epochs // 4))
    return epochs, interval
