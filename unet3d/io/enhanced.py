"""Enhanced (multi-frame) DICOM images: one file holding every frame of a CT or MR acquisition.

Current scanners write enhanced CT/MR objects, and archives convert legacy series to "legacy
converted enhanced" ones. Their geometry is in functional groups: per frame (or shared by all
frames) the plane position, the plane orientation, the pixel spacing and the rescale. SimpleITK
reads such files without that per-frame geometry, so they are read here with pydicom, the frames
decoded by highdicom (its modality transform: rescale slope/intercept, e.g. CT Hounsfield units).
highdicom's ``Image.get_volume`` would also stack them, but does not say which source frame lies at
each ``z``, which the SEG written back needs.

Frames are stacked in the order of their position along the plane normal (ascending), as the
slices of a classic series are (:func:`unet3d.io.dicom.find_series`); ``frame_order[k]`` is the
source frame (0-based) that lies at ``z = k``, for masks written back frame for frame (DICOM SEG).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from unet3d.io.errors import InputError
from unet3d.io.geometry import LPS_TO_RAS


def is_multiframe(ds: Dataset) -> bool:
    """A multi-frame image with per-frame functional groups (enhanced or legacy-converted)."""
    return int(ds.get("NumberOfFrames", 1) or 1) > 1 and "PerFrameFunctionalGroupsSequence" in ds


def _group(ds: Dataset, frame: int, sequence: str) -> Dataset | None:
    """A functional group macro of one frame: the per-frame one, else the shared one."""
    per = ds.PerFrameFunctionalGroupsSequence[frame]
    if sequence in per and len(per[sequence].value):
        return per[sequence][0]
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0] and len(shared[0][sequence].value):
        return shared[0][sequence][0]
    return None


def frame_geometry(ds: Dataset, path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(orientation (6,), pixel spacing (row, column) mm, positions (frames, 3) mm)`` in LPS.

    Raises:
        InputError: a frame without plane position, orientation or pixel spacing, or frames of
            different orientation or spacing (several stacks in one object).
    """
    frames = int(ds.NumberOfFrames)
    orientations, spacings, positions = [], [], []
    for i in range(frames):
        orient = _group(ds, i, "PlaneOrientationSequence")
        measures = _group(ds, i, "PixelMeasuresSequence")
        position = _group(ds, i, "PlanePositionSequence")
        if orient is None or measures is None or position is None or "PixelSpacing" not in measures:
            raise InputError(f"{path}: frame {i + 1} has no plane position, orientation or pixel spacing")
        orientations.append(np.asarray(orient.ImageOrientationPatient, float))
        spacings.append(np.asarray(measures.PixelSpacing, float))
        positions.append(np.asarray(position.ImagePositionPatient, float))
    for name, values in (("orientation", orientations), ("pixel spacing", spacings)):
        odd = next((i for i, v in enumerate(values) if not np.allclose(v, values[0], atol=1e-3)), None)
        if odd is not None:
            raise InputError(f"{path}: frame {odd + 1} has another {name} than frame 1 (several stacks in one object)")
    return orientations[0], spacings[0], np.asarray(positions)


def read_multiframe(path: str | os.PathLike, ds: Dataset | None = None) -> tuple[Any, Dataset, list[int]]:
    """Read an enhanced multi-frame CT/MR image as MONAI reads a volume.

    Args:
        path: the file.
        ds: its dataset, if already read (headers suffice; the pixels are read from ``path``).

    Returns:
        ``(image, dataset, frame_order)``: a float32 ``MetaTensor`` ``(x, y, z)`` (columns, rows,
        frames sorted along the normal) whose affine maps voxels to RAS mm; the dataset (headers);
        the source frame of each ``z``.

    Raises:
        InputError: missing per-frame geometry, frames not evenly spaced along the normal (the
            message names the frames), or undecodable pixel data.
    """
    import highdicom as hd
    import pydicom
    import torch
    from monai.data import MetaTensor

    from unet3d.io.dicom import check_positions

    p = Path(path)
    header = ds if ds is not None else pydicom.dcmread(p, stop_before_pixels=True)
    orientation, (row_mm, col_mm), positions = frame_geometry(header, p)
    normal = np.cross(orientation[:3], orientation[3:])
    depth = positions @ normal
    order = [int(i) for i in np.argsort(depth, kind="stable")]
    check_positions(depth[order], p, [f"frame {i + 1}" for i in order])
    try:
        image = hd.imread(str(p))
        frames = [image.get_frame(i + 1, dtype=np.float32, apply_modality_transform=True) for i in order]
    except Exception as e:  # pydicom/highdicom raise many kinds for undecodable pixel data
        raise InputError(f"{p}: cannot decode the frames ({type(e).__name__}: {' '.join(str(e).split())})") from e
    array = np.ascontiguousarray(np.stack(frames).transpose(2, 1, 0))  # (z, rows, cols) -> (x, y, z)
    lps = np.eye(4)
    lps[:3, 0] = orientation[:3] * col_mm  # along a row: x
    lps[:3, 1] = orientation[3:] * row_mm  # down the rows: y
    lps[:3, 2] = (positions[order[-1]] - positions[order[0]]) / (len(order) - 1) if len(order) > 1 else normal
    lps[:3, 3] = positions[order[0]]
    affine = LPS_TO_RAS @ lps
    meta = {"filename_or_obj": str(p), "original_affine": affine, "spatial_shape": array.shape,
            "original_channel_dim": "no_channel"}  # fmt: skip
    tensor = MetaTensor(torch.from_numpy(array), affine=torch.as_tensor(affine, dtype=torch.float64), meta=meta)
    return tensor, header, order
