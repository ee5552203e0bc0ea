"""The plans: every setting of the bundle ``unet3d plan`` writes, decided from the fingerprint.

Written as ``plans/plans.json``; :mod:`unet3d.plan.writer` turns them into the bundle's configs,
and ``reasons`` (the rule and the figures behind each decision) into its ``docs/README.md``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from unet3d.plan import rules
from unet3d.plan.fingerprint import Fingerprint, reader_kind

# voxels per training patch and per batch: what keeps a training step to a few seconds on a CPU
# (nnU-Net sizes them against a GPU's memory, 128^3-scale in 3D)
MAX_PATCH_VOXELS = {2: 512 * 512, 3: 64**3}
MAX_BATCH_VOXELS = {2: 4 * 256 * 256, 3: 2 * 64**3}


@dataclass
class Plans:
    """What the planned bundle does (``plans/plans.json``); sizes in voxels, spacings in mm,
    spatial axes in MONAI's order (RAS for volumes)."""

    name: str
    dataset_dir: str
    spatial_dims: int
    channels: int
    channel_names: list[str]
    label_values: list[int]
    label_names: list[str]
    reader: str  # "nifti", "itk" or "image2d": the file kind the data comes in
    target_spacing: list[float] | None
    median_shape: list[int]
    patch_size: list[int]
    features: list[int]
    batch_size: int
    normalisation: dict[str, Any]
    flip_axes: list[int]
    rotate_range: list[float]
    pos_fraction: float
    overlap: float
    learning_rate: float
    max_epochs: int
    val_interval: int
    num_folds: int
    channel_files: bool = False  # one file per channel (nnU-Net's case_0000, case_0001, ...)
    foreground_labels: bool = False  # instance ids in the labels: trained on label > 0
    strides: list[list[int]] | None = None  # per pooling level, the factor per axis; None: 2 everywhere
    kernel_sizes: list[list[int]] | None = None  # per level, the convolutions' kernel per axis; None: 3 everywhere
    seconds_per_step: float | None = None
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def depth(self) -> int:
        return len(self.features) - 1

    @property
    def needs_label_map(self) -> bool:
        """Whether the label values are not already ``0 .. K-1`` (e.g. 0/255 masks)."""
        return not self.foreground_labels and self.label_values != list(range(len(self.label_values)))


def make_plans(fp: Fingerprint, name: str, num_folds: int = 5) -> Plans:
    """Decide every setting (:mod:`unet3d.plan.rules`) for the data set of ``fp``; 100 epochs
    (:func:`unet3d.plan.timing.fit_to_budget` sizes them to a time budget).

    Args:
        fp: the fingerprint.
        name: the task's name, for the metadata and docs.
        num_folds: cross-validation folds of the split (fold 0 validates).
    """
    dims = fp.spatial_dims
    reasons = []
    if dims == 3:
        spacing = rules.target_spacing([c.spacing for c in fp.cases])
        shapes = [rules.resampled_shape(c.shape, c.spacing, spacing) for c in fp.cases]
        coarse = " (the coarse axis: its 10th percentile)" if max(spacing) > rules.ANISOTROPY * min(spacing) else ""
        reasons.append(f"target spacing {spacing} mm: the median of the cases' spacings per axis{coarse}")
    else:
        spacing, shapes = None, [c.shape for c in fp.cases]
    median = rules.median_shape(shapes)
    patch, strides = rules.patch_size(median, spacing or [1.0] * dims, MAX_PATCH_VOXELS[dims])
    reasons.append(f"patch {patch} voxels, {len(strides)} poolings: the median shape after resampling is {median}; "
                   f"at most {MAX_PATCH_VOXELS[dims]} voxels per patch")  # fmt: skip
    uniform = all(f == 2 for level in strides for f in level)
    if not uniform:
        reasons.append(f"pooling per level and axis {strides}: an axis is pooled once its spacing is under twice "
                       "the finest (thick slices wait until the in-plane axes have caught up)")  # fmt: skip
    kernels = rules.conv_kernels(strides, spacing or [1.0] * dims)
    all_3 = all(k == 3 for level in kernels for k in level)
    if not all_3:
        reasons.append(f"convolution kernels per level and axis {kernels}: 1 along an axis while its spacing at "
                       "that level is at least twice the finest (thick slices: in-plane at the top)")  # fmt: skip
    feats = rules.features(len(strides))
    batch = rules.batch_size(patch, MAX_BATCH_VOXELS[dims], dims)
    zero = float(np.median([c.zero_fraction for c in fp.cases]))
    norm = rules.normalisation(fp.is_ct and fp.channels == 1, fp.intensity[0], zero)
    if norm["kind"] == "ct":  # one channel (rules.normalisation of channel 0)
        reasons.append(f"CT: intensities clipped to the foreground's 0.5-99.5 percentiles {norm['clip']} and "
                       f"z-scored with its mean {norm['mean']} and standard deviation {norm['std']}")  # fmt: skip
    else:
        reasons.append(f"z-score per image{' over the non-zero voxels' if norm['nonzero'] else ''}: "
                       f"a median {zero:.2f} of each image's voxels are exactly 0")  # fmt: skip
    fg = rules.foreground_fraction([c.label_voxels for c in fp.cases])
    pos = 1 / 3 if fg < 0.1 else 0.5
    reasons.append(f"patches centred on foreground with probability {pos:.2f}: the median case is {fg:.3f} foreground")
    if fp.instance_labels:
        reasons.append("the labels hold one id per object (more than 32 values and no dataset.json naming them): "
                       "the bundle learns background and foreground (label > 0)")  # fmt: skip
    first = fp.cases[0].image
    return Plans(
        name=name, dataset_dir=fp.dataset_dir, spatial_dims=dims, channels=fp.channels,
        channel_names=[fp.modality.get(k, f"channel_{k}") for k in range(fp.channels)],
        label_values=fp.label_values, label_names=[fp.label_names[v] for v in fp.label_values],
        reader=reader_kind(first), target_spacing=spacing, median_shape=median, patch_size=patch,
        features=feats, batch_size=batch, normalisation=norm, flip_axes=rules.flip_axes(dims),
        rotate_range=rules.rotation_range(spacing or [1.0] * dims, dims), pos_fraction=round(pos, 3),
        overlap=0.25, learning_rate=0.002, max_epochs=100, val_interval=5, num_folds=num_folds,
        reasons=reasons, channel_files=not isinstance(first, str),
        foreground_labels=fp.instance_labels, strides=None if uniform else strides,
        kernel_sizes=None if all_3 else kernels,
    )  # fmt: skip
