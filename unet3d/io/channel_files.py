"""nnU-Net's channel files: one file per channel of a case, ``<case>_0000.nii.gz``, ``<case>_0001.nii.gz``.

A bundle that takes several input channels (a planned multi-parametric MR task, say) reads a case
either from one 4D file with the channels last (the Medical Segmentation Decathlon's layout) or
from these files (nnU-Net's). :func:`channel_cases` groups a list of inputs into cases;
:func:`read_channel_files` reads one case's files as one multi-channel :class:`Volume`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unet3d.io.errors import InputError
from unet3d.io.formats import read_volume, stem
from unet3d.io.volume import Volume

CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")  # on the stem: case_0000


def channel_of(path: str | os.PathLike) -> tuple[str, int] | None:
    """``(case, channel)`` for a file named as nnU-Net's channel files, else ``None``."""
    p = Path(path)
    if p.is_dir():
        return None
    match = CHANNEL_FILE.match(stem(p))
    return (match["case"], int(match["channel"])) if match else None


def channel_cases(paths: Sequence[Path], channels: int) -> list[list[Path]]:
    """The inputs as cases, each a list of files in channel order.

    With ``channels`` 1 every path is a case. Otherwise the channel files of one case (same
    folder and case name) form one case, ``channels`` of them numbered ``0000`` up, and any other
    path stays a case of its own (a 4D file, checked when read). Cases keep the order of their
    first file.

    Raises:
        InputError: a case with a channel file missing or one numbered past ``channels - 1``.
    """
    if channels <= 1:
        return [[p] for p in paths]
    cases: dict[tuple[Path, str], dict[int, Path]] = {}
    order: list[tuple[Path, str] | Path] = []
    for path in paths:
        found = channel_of(path)
        if found is None:
            order.append(path)
            continue
        key = (path.parent, found[0])
        if key not in cases:
            cases[key] = {}
            order.append(key)
        cases[key][found[1]] = path
    result: list[list[Path]] = []
    for item in order:
        if isinstance(item, Path):
            result.append([item])
            continue
        files = cases[item]
        folder, case = item
        if sorted(files) != list(range(channels)):
            have = ", ".join(f"{c:04d}" for c in sorted(files))
            raise InputError(f"{folder / case}: channel files {have}; this bundle takes {channels} channels, "
                             f"{case}_0000 ... {case}_{channels - 1:04d}")  # fmt: skip
        result.append([files[c] for c in range(channels)])
    return result


def case_name(files: Sequence[Path]) -> Path:
    """The path a case's outputs are named after: the file itself, or for channel files the case
    without the channel number (``case_0000.nii.gz`` -> ``case.nii.gz``)."""
    first = Path(files[0])
    if len(files) == 1:
        return first
    found = channel_of(first)
    assert found is not None  # channel_cases groups channel files only
    return first.with_name(found[0] + first.name[len(stem(first)) :])


def read_channel_files(files: Sequence[Path], allow_gaps: bool = False) -> Volume:
    """One case's channel files (NIfTI, NRRD, MetaImage; one channel each, channel order) as one
    :class:`Volume` ``(x, y, z, channels)`` with the first file's geometry and header.

    Raises:
        InputError: a file that cannot be read or has more than one channel, or channels that do
            not share the first one's grid (shape and affine).
    """
    import torch
    from monai.data import MetaTensor

    volumes = [read_volume(f, allow_gaps=allow_gaps) for f in files]
    first = volumes[0]
    affine = np.asarray(first.image.affine, dtype=np.float64)
    for v in volumes[1:]:
        if v.spatial_shape != first.spatial_shape or not np.allclose(np.asarray(v.image.affine), affine, atol=1e-4):
            raise InputError(f"{v.path}: shape {v.spatial_shape} or voxel-to-world affine differs from "
                             f"{first.path.name}'s {first.spatial_shape}: channels must share one grid")  # fmt: skip
    stacked = torch.stack([torch.as_tensor(v.image) for v in volumes], dim=-1)
    meta = dict(first.image.meta)
    meta["original_channel_dim"] = -1
    image = MetaTensor(stacked, affine=torch.as_tensor(affine), meta=meta)
    return Volume(image=image, kind=first.kind, path=first.path, nifti_header=first.nifti_header, channels=len(files))
