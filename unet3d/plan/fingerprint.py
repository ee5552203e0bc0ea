"""The data set fingerprint: what ``unet3d plan`` measures of every case before it decides anything.

As nnU-Net's ``DatasetFingerprintExtractor``: per case the shape and voxel spacing (after turning
3D volumes to RAS, as the planned bundle's ``Orientationd`` will), the foreground intensities per
channel, the label values with their voxel counts and object sizes. Cases are read with MONAI's
``LoadImage``, the reader the planned bundle trains with, so what is measured is what it sees.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.data.datalist import DatasetError
from unet3d.data.msd import dataset_info, find_pairs

SAMPLES_PER_CASE = 10_000  # foreground voxels kept per case and channel for the intensity statistics
# more label values than this, without a dataset.json naming them: instance ids (one per object),
# not classes; the plan then trains on the foreground (label > 0)
MAX_CLASSES = 32


class PlanError(DatasetError):
    """Bad cases: one line per case (``path: problem``); the plan stops."""

    def __init__(self, lines: Sequence[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


@dataclass
class CaseFingerprint:
    """One case as the planned bundle will see it.

    Attributes:
        image: the image file, or its channel files.
        label: the label file.
        shape: spatial shape, voxels (3D: R, A, S order after reorientation; 2D: the image's axes).
        spacing: voxel size per axis, mm (2D images without one: 1).
        channels: image channels.
        label_voxels: label value -> voxel count.
        objects: label value (not 0) -> sizes of its connected components, voxels.
        zero_fraction: the share of image voxels that are exactly 0 (skull-stripped MR, padded CT).
        orientation: the axis codes of the file as stored (e.g. ``LPS``), before turning to RAS.
    """

    image: str | list[str]
    label: str
    shape: list[int]
    spacing: list[float]
    channels: int
    label_voxels: dict[int, int]
    objects: dict[int, list[int]] = field(default_factory=dict)
    zero_fraction: float = 0.0
    orientation: str = ""


@dataclass
class Fingerprint:
    """The whole data set (written as ``plans/fingerprint.json``).

    Attributes:
        dataset_dir: the data set folder.
        spatial_dims: 2 or 3, from the data.
        channels: image channels (the same in every case).
        modality: channel -> name from ``dataset.json`` or ``--modality`` (e.g. ``{0: "CT"}``).
        label_names: label value -> name (``dataset.json``, else ``label_<value>``; 0 ``background``).
        cases: each case's :class:`CaseFingerprint`.
        intensity: per channel, foreground intensity statistics pooled over the cases
            (``p00_5``, ``p50``, ``p99_5``, ``mean``, ``std``).
        instance_labels: the labels hold one id per object (more than :data:`MAX_CLASSES` values,
            none declared): the bundle learns the foreground, ``label > 0``.
    """

    dataset_dir: str
    spatial_dims: int
    channels: int
    modality: dict[int, str]
    label_names: dict[int, str]
    cases: list[CaseFingerprint]
    intensity: list[dict[str, float]]
    instance_labels: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label_values(self) -> list[int]:
        return sorted(self.label_names)

    @property
    def is_ct(self) -> bool:
        return any(name.strip().upper() == "CT" for name in self.modality.values())


def reader_kind(path: str | list[str]) -> str:
    """``nifti``, ``itk`` or ``image2d``: the registry's format of a case's (first) file."""
    from unet3d.io.formats import input_format

    return input_format(path if isinstance(path, str) else path[0]).name


def reader_for(path: str | list[str], label: bool = False) -> Any:
    """The MONAI reader the planned bundle uses for a file of this kind (its configs name the same):
    MONAI's default (nibabel) for NIfTI, :class:`unet3d.io.SimpleITKReader` for NRRD/MetaImage,
    ``PILReader`` for 2D images (palette images as the colours they show; label maps as stored)."""
    from monai.data import PILReader

    from unet3d.io.sitk_reader import SimpleITKReader
    from unet3d.io.volume import palette_to_colours

    kind = reader_kind(path)
    if kind == "itk":
        return SimpleITKReader()
    if kind == "image2d":
        return PILReader() if label else PILReader(converter=palette_to_colours)
    return None


def _load(path: str | list[str], spatial_dims: int | None, label: bool = False) -> tuple[Any, str]:
    """The case as the planned bundle reads it (3D: turned to RAS), and its stored orientation."""
    import nibabel as nib
    from monai.transforms import LoadImage, Orientation

    image = LoadImage(image_only=True, ensure_channel_first=True, reader=reader_for(path, label))(path)
    if (spatial_dims or image.ndim - 1) != 3:
        return image, ""
    codes = "".join(nib.orientations.aff2axcodes(image.affine.numpy()))
    return Orientation(axcodes="RAS")(image), codes


def _objects(label: np.ndarray, values: Sequence[int]) -> dict[int, list[int]]:
    from scipy import ndimage

    sizes = {}
    for value in values:
        if value == 0:
            continue
        components, count = ndimage.label(label == value)
        sizes[value] = sorted(int(s) for s in np.bincount(components.ravel())[1:]) if count else []
    return sizes


def same_grid(affine: np.ndarray, other: np.ndarray, tolerance: float = 0.01) -> bool:
    """Whether two 4x4 voxel-to-world affines (mm) place every voxel within ``tolerance`` of the
    smaller voxel size of each other (over a voxel's span: spacing, direction and origin alike)."""
    a, b = np.asarray(affine, np.float64), np.asarray(other, np.float64)
    voxel = float(min(np.linalg.norm(a[:3, :3], axis=0).min(), np.linalg.norm(b[:3, :3], axis=0).min()))
    return bool(np.abs(a - b).max() <= tolerance * voxel)


def fingerprint_case(
    image: str | list[str], label: str, rng: np.random.Generator
) -> tuple[CaseFingerprint, list[np.ndarray]]:
    """One case's fingerprint and a sample of its foreground intensities per channel.

    Raises:
        ValueError: the image or label cannot be read, their shapes differ, or the label holds
            values that are not whole numbers.
    """
    name = image if isinstance(image, str) else image[0]
    try:
        img, orientation = _load(image, None)
        lab, _ = _load(label, img.ndim - 1, label=True)
    except Exception as e:  # the readers raise many kinds; all mean "cannot read this case"
        raise ValueError(
            f"{name}: cannot read the case ({str(e).splitlines()[0] if str(e) else type(e).__name__})"
        ) from e
    if lab.shape[0] != 1:
        raise ValueError(f"{label}: a label map has one channel, this one has {lab.shape[0]}")
    if tuple(img.shape[1:]) != tuple(lab.shape[1:]):
        raise ValueError(f"{label}: label shape {tuple(lab.shape[1:])} differs from its image's {tuple(img.shape[1:])}")
    if img.ndim == 4 and not same_grid(np.asarray(img.affine), np.asarray(lab.affine)):
        raise ValueError(f"{label}: its voxel grid (spacing, origin or direction) differs from its image's by more "
                         "than 1% of a voxel; the label would not lie on the image")  # fmt: skip
    labels = np.asarray(lab[0])
    if not np.array_equal(labels, np.round(labels)):
        raise ValueError(f"{label}: the label holds values that are not whole numbers (a probability map?)")
    labels = labels.astype(np.int64)
    if labels.size and labels.min() < 0:
        raise ValueError(f"{label}: negative label values (down to {labels.min()}); classes are whole numbers >= 0, "
                         "0 the background")  # fmt: skip
    values, counts = np.unique(labels, return_counts=True)
    spatial = img.ndim - 1
    spacing = [float(s) for s in img.pixdim[:spatial]] if spatial == 3 else [1.0] * spatial
    data = np.asarray(img, dtype=np.float32)
    if not np.isfinite(data).all():
        raise ValueError(f"{name}: the image holds NaN or infinite values")
    foreground = labels > 0
    samples = []
    for channel in data:
        voxels = channel[foreground] if foreground.any() else channel.ravel()
        take = min(SAMPLES_PER_CASE, voxels.size)
        samples.append(rng.choice(voxels, size=take, replace=False) if take < voxels.size else voxels)
    if len(values) <= MAX_CLASSES:
        objects = _objects(labels, [int(v) for v in values])
    else:  # instance ids: the objects are the ids themselves
        objects = {1: sorted(int(c) for v, c in zip(values, counts, strict=True) if v != 0)}
    case = CaseFingerprint(
        image=image, label=str(label), shape=[int(s) for s in img.shape[1:]], spacing=spacing,
        channels=int(img.shape[0]), label_voxels={int(v): int(c) for v, c in zip(values, counts, strict=True)},
        objects=objects, zero_fraction=float(np.mean(data == 0)),
        orientation=orientation,
    )  # fmt: skip
    return case, samples


def fingerprint(
    dataset_dir: str | os.PathLike, modality: Mapping[int, str] | None = None, seed: int = 0
) -> Fingerprint:
    """Read every case of a data set (:func:`unet3d.data.msd.find_pairs` layouts) and measure it.

    Args:
        dataset_dir: the data set folder.
        modality: channel -> name (e.g. ``{0: "CT"}``), overriding ``dataset.json``'s.
        seed: for the intensity sample.

    Raises:
        PlanError: one line per bad case (unreadable, label and image sizes differ, a label value
            that ``dataset.json`` does not declare or below 0, a channel count or dimension unlike
            the others'); nothing is planned.
        DatasetError: no pairs found, a single case, or no label holds anything but background.
    """
    root = Path(dataset_dir)
    info = dataset_info(root)
    pairs = find_pairs(root)
    rng = np.random.default_rng(seed)
    cases, samples, bad = [], [], []
    for image, label in pairs:
        try:
            case, sample = fingerprint_case(image, str(label), rng)
        except ValueError as e:
            bad.append(str(e))
            continue
        cases.append(case)
        samples.append(sample)
    declared = info["labels"]
    dims = {len(c.shape) for c in cases}
    channels = {c.channels for c in cases}
    for case in cases:
        unknown = sorted(set(case.label_voxels) - set(declared)) if declared else []
        if unknown:
            bad.append(f"{case.label}: label values {unknown} that dataset.json does not declare ({sorted(declared)})")
        if len(dims) > 1 and len(case.shape) != max(dims):
            bad.append(f"{case.image}: {len(case.shape)}D where the other cases are {max(dims)}D")
        if len(channels) > 1 and case.channels != max(channels, key=[c.channels for c in cases].count):
            bad.append(f"{case.image}: {case.channels} channel(s) where most cases have another number")
    if bad:
        raise PlanError(bad)
    if not cases:
        raise DatasetError(f"{root}: no cases")
    if len(cases) < 2:
        raise DatasetError(f"{root}: 1 case ({cases[0].label}); a bundle needs at least 2, one to train on and one "
                           "to validate")  # fmt: skip
    if not any(v != 0 for c in cases for v in c.label_voxels):
        raise DatasetError(f"{root}: every label is background (0) only; there is nothing to learn")
    values = sorted(declared) if declared else sorted({v for c in cases for v in c.label_voxels} | {0})
    instances = not declared and len(values) > MAX_CLASSES
    if instances:  # instance ids: the classes are background and foreground
        values = [0, 1]
    names = {
        v: declared.get(v, "background" if v == 0 else "foreground" if instances else f"label_{v}") for v in values
    }
    n_channels = cases[0].channels
    intensity = []
    for k in range(n_channels):
        pooled = np.concatenate([s[k] for s in samples]).astype(np.float64)
        p00_5, p50, p99_5 = (float(v) for v in np.percentile(pooled, [0.5, 50, 99.5]))
        std = float(pooled.std())
        intensity.append({"p00_5": p00_5, "p50": p50, "p99_5": p99_5, "mean": float(pooled.mean()),
                          "std": std if std > 0 and math.isfinite(std) else 1.0})  # fmt: skip
    return Fingerprint(
        dataset_dir=str(root.resolve()), spatial_dims=len(cases[0].shape), channels=n_channels,
        modality=dict(modality or info["modality"]), label_names=names, cases=cases, intensity=intensity,
        instance_labels=instances,
    )  # fmt: skip
