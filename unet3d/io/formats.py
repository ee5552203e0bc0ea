"""The one registry of file formats: suffixes, reader, header reader, mask writer; reading and writing by it.

The registry imports the readers (:mod:`unet3d.io.volume`) and writers (:mod:`unet3d.io.writers`),
never the reverse: :func:`read_volume` and :func:`write_mask` choose them here.

As nnU-Net's ``imageio`` reader-writer registry does, each format is one entry; ``unet3d segment``,
the datalists (``unet3d.data``) and the bundles' inference datalists take their suffixes from here,
so a format added here is accepted everywhere.

========== ======================================== ============ ============= ================
name       suffixes                                 reads        header        mask written as
========== ======================================== ============ ============= ================
nifti      .nii.gz .nii                             volume       shape         nifti
itk        .nrrd .nhdr .mha .mhd                    volume       shape         nifti
dicom      (a folder: one series; or one multi-frame volume       --            dicom-seg
           file)
image2d    .png .tif .tiff .jpg .jpeg .bmp          2D image     rows, columns png (stacks: tiff)
           .ome.tif .ome.tiff
dicom-seg  .dcm                                     --           --            (output only)
png        .png                                     --           --            (output only)
tiff       .tif .tiff                               --           --            (output only; stacks)
========== ======================================== ============ ============= ================
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io import volume, writers
from unet3d.io.errors import InputError, read_error_reason
from unet3d.io.volume import Volume
from unet3d.io.writers import SegmentCodes, SegmentNames


@dataclass(frozen=True)
class Format:
    """One file format.

    Attributes:
        name: registry key (also ``Volume.kind`` for inputs, ``--format`` for outputs).
        suffixes: lower-case file name endings, longest first; empty for a folder (DICOM).
        read: ``read(path, series_uid=, color=, allow_gaps=) -> Volume`` for inputs.
        shape: ``shape(path) -> tuple`` from the header, in the file's own axis order.
        write: ``write(volume, labels, path, overwrite, names, codes) -> Path`` for masks.
        mask_format: the output format a mask of this input is written in by default.
        noun: what one file holds, for messages (``volume``, ``image``).
        tag: the output name's tag, ``<stem>_<tag><suffix>`` (``seg`` for masks).
        check: ``check(volume)`` raises ``InputError`` for an input this output cannot be written
            for, run before the input is segmented (:func:`check_outputs`).
    """

    name: str
    suffixes: tuple[str, ...]
    read: Callable[..., Any] | None = None
    shape: Callable[[Path], tuple[int, ...]] | None = None
    write: Callable[..., Path] | None = None
    mask_format: str | None = None
    noun: str = "file"
    tag: str = "seg"
    check: Callable[[Volume], None] | None = None


_IMAGE_2D = (".ome.tiff", ".ome.tif", ".png", ".tif", ".tiff", ".jpg", ".jpeg", ".bmp")
FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("nifti", (".nii.gz", ".nii"), volume.read_nifti, volume.nifti_shape, writers.write_nifti,
               mask_format="nifti", noun="volume"),
        Format("itk", (".nrrd", ".nhdr", ".mha", ".mhd"), volume.read_itk, volume.itk_shape,
               mask_format="nifti", noun="volume"),
        Format("dicom", (), volume.read_dicom, mask_format="dicom-seg", noun="series"),
        Format("image2d", _IMAGE_2D, volume.read_image2d, volume.image2d_shape, mask_format="png", noun="image"),
        Format("dicom-seg", (".dcm",), write=writers.write_seg, check=writers.check_seg_source),
        Format("png", (".png",), write=writers.write_png),
        Format("tiff", (".tif", ".tiff"), write=writers.write_tiff),
        # contours for radiotherapy systems, beside or instead of a mask (not read back as a mask)
        Format("rtstruct", (".dcm",), write=writers.write_rtstruct, tag="rtstruct",
               check=writers.check_rtstruct_source),
    )
}  # fmt: skip


def input_suffixes(*names: str) -> tuple[str, ...]:
    """The suffixes of the named input formats (all readable file formats if none is named)."""
    chosen = names or tuple(n for n, f in FORMATS.items() if f.read is not None)
    return tuple(s for n in chosen for s in FORMATS[n].suffixes)


def output_suffix(name: str) -> str:
    """The file suffix of an output format, e.g. ``.nii.gz`` for ``nifti``."""
    return output_format(name).suffixes[0]


def mask_format_of(path: str | os.PathLike) -> Format:
    """The output (mask) format of a file by its suffix, e.g. ``nifti`` for ``case_seg.nii.gz``.

    Raises:
        ValueError: no output format has the file's suffix.
    """
    name = Path(path).name.lower()
    written = [f for f in FORMATS.values() if f.write is not None and f.suffixes]
    for fmt in written:
        if name.endswith(fmt.suffixes):
            return fmt
    raise ValueError(f"{path}: not a mask file ({', '.join(s for f in written for s in f.suffixes)})")


def output_format(name: str) -> Format:
    """The output format called ``name``.

    Raises:
        InputError: no format of that name writes masks.
    """
    fmt = FORMATS.get(name)
    if fmt is None or fmt.write is None:
        choices = ", ".join(n for n, f in FORMATS.items() if f.write is not None)
        raise InputError(f"unknown output format {name!r} (choose from {choices})")
    return fmt


def check_outputs(volume: Volume, *names: str) -> None:
    """Run the checks of the named output formats on an input before it is segmented.

    Raises:
        InputError: an output that cannot be written for this input (e.g. DICOM SEG of a NIfTI).
    """
    for name in names:
        check = output_format(name).check
        if check is not None:
            check(volume)


def output_tags() -> tuple[str, ...]:
    """The tags of output names (``seg``, ``rtstruct``): ``<stem>_<tag><suffix>``."""
    return tuple(dict.fromkeys(f.tag for f in FORMATS.values() if f.write is not None))


def input_format(path: str | os.PathLike) -> Format:
    """The input format of ``path``: ``dicom`` for a folder, else by the file name's suffix.

    Raises:
        InputError: a path that does not exist, or a file of a type no format reads.
    """
    p = Path(path)
    if p.is_dir():
        return FORMATS["dicom"]
    if not p.exists():
        raise InputError(f"{p}: no such file or folder")
    name = p.name.lower()
    for fmt in FORMATS.values():
        if fmt.read is not None and fmt.suffixes and name.endswith(fmt.suffixes):
            return fmt
    if is_dicom_file(p):  # one DICOM file: an enhanced multi-frame object
        return FORMATS["dicom"]
    supported = f"a DICOM series folder or multi-frame file, {', '.join(input_suffixes())}"
    raise InputError(f"{p}: unsupported input type (supported: {supported})")


def is_dicom_file(path: Path) -> bool:
    """A DICOM Part 10 file (``DICM`` after the 128-byte preamble) or a file named ``*.dcm``."""
    from pydicom.misc import is_dicom

    if path.name.lower().endswith(".dcm"):
        return True
    try:
        return is_dicom(path)
    except OSError:
        return False


def is_input_file(path: Path, *names: str) -> bool:
    """A visible file with a suffix of the named input formats (all if none is named); names
    starting with ``.`` (among them unfinished writes' temporary files) are never inputs."""
    return path.is_file() and not path.name.startswith(".") and path.name.lower().endswith(input_suffixes(*names))


def input_files(folder: str | os.PathLike, *names: str) -> list[str]:
    """The files of the named input formats (all if none is named) directly in ``folder``,
    sorted by name (for the bundles' inference datalists); empty if ``folder`` does not exist."""
    root = Path(folder)
    return [str(p) for p in sorted(root.iterdir()) if is_input_file(p, *names)] if root.is_dir() else []


def stem(path: str | os.PathLike) -> str:
    """The file name without its registered suffix (``case.nii.gz`` -> ``case``); a folder's name."""
    p = Path(path)
    name = p.name
    if p.is_dir():
        return name
    for suffix in sorted({s for f in FORMATS.values() for s in f.suffixes}, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return p.stem


def header_shape(path: str | os.PathLike) -> tuple[int, ...]:
    """The image's shape from its header (the file's own axis order), through the format's reader.

    Raises:
        InputError: the format has no header reader, or the file is not readable.
    """
    p = Path(path)
    fmt = input_format(p)
    if fmt.shape is None:
        raise InputError(f"{p}: {fmt.name} has no header reader")
    try:
        return fmt.shape(p)
    except Exception as e:  # nibabel, ITK and PIL raise many kinds; all mean "not readable"
        raise InputError(f"{p}: not a readable {fmt.noun} ({read_error_reason(e)})") from e


def input_kind(path: str | os.PathLike) -> str:
    """The name of the input format of ``path`` (``dicom`` for a folder, ``nifti``, ``itk``,
    ``image2d``); see :func:`input_format`.

    Raises:
        InputError: a file of another type, or a path that does not exist.
    """
    return input_format(path).name


def read_volume(
    path: str | os.PathLike,
    series_uid: str | None = None,
    color: bool = False,
    allow_gaps: bool = False,
    channels: int = 1,
) -> Volume:
    """Read a NIfTI/NRRD/MetaImage file, a DICOM series folder or a 2D image (the reader is the
    one this registry holds for the path).

    Args:
        path: the file or DICOM series folder.
        series_uid: the series to read from a folder holding several.
        color: accept 2D colour images (gray+alpha, RGB, RGBA), channels last; else only gray.
        allow_gaps: read a DICOM series whose slices are not evenly spaced (see
            :func:`unet3d.io.dicom.check_spacing`) instead of refusing it.
        channels: the channels a volume must have (a bundle's input channels): 1, or more from a
            4D NIfTI or a vector NRRD/MHA, channels last (``Volume.channels``).

    Raises:
        InputError: unreadable or truncated file, another number of channels, a 4D volume, no voxels,
            complex or RGB voxels, NaN or infinite intensities, an empty DICOM folder or several
            series without ``series_uid``, a stack of 2D images.
    """
    import torch

    p = Path(path)
    read = input_format(p).read
    assert read is not None  # input_format returns readable formats only
    try:
        volume = read(p, series_uid=series_uid, color=color, allow_gaps=allow_gaps, skip_suffixes=input_suffixes(),
                      channels=channels)  # fmt: skip
    except InputError:
        raise
    except Exception as e:  # readers raise many types for damaged files
        raise InputError(f"{p}: cannot read ({read_error_reason(e)})") from e
    image, kind = volume.image, volume.kind
    if image.numel() == 0:
        raise InputError(f"{p}: empty image (no voxels)")
    expected = 2 if kind == "image2d" else 3
    if color and kind == "image2d" and image.ndim == 3 and image.shape[-1] in (2, 3, 4):
        expected = 3
    if kind != "image2d" and channels > 1:
        if image.ndim == 3:
            raise InputError(f"{p}: one channel; this bundle takes {channels}: a 4D file with the channels last, "
                             f"or nnU-Net's channel files <case>_0000 ... <case>_{channels - 1:04d}")  # fmt: skip
        if image.ndim == 4 and volume.channels != channels:
            raise InputError(f"{p}: shape {tuple(image.shape)} has {volume.channels} channels; this bundle takes "
                             f"{channels}")  # fmt: skip
        expected = 4
    if image.ndim != expected:
        what = "extra channels or time points" if image.ndim > expected else f"only {image.ndim} dimensions"
        raise InputError(f"{p}: shape {tuple(image.shape)} has {what}; expected a single-channel {expected}D image")
    if not torch.isfinite(image).all():
        raise InputError(f"{p}: image contains NaN or infinite values")
    return volume


def write_mask(
    volume: Volume,
    mask: np.ndarray,
    path: str | os.PathLike,
    fmt: str,
    overwrite: bool = False,
    segment_names: SegmentNames | None = None,
    segment_codes: SegmentCodes | None = None,
    dtype: str = "uint8",
) -> Path:
    """Write ``mask`` (integer labels, MONAI axis order ``(x, y[, z])``, the input's shape) to ``path``
    with the writer this registry holds for ``fmt``.

    Args:
        volume: the input as read by :func:`read_volume`.
        mask: labels, shape ``volume.image.shape``.
        path: output file.
        fmt: an output format: ``nifti``, ``dicom-seg``, ``rtstruct``, ``png`` or ``tiff``.
        overwrite: replace an existing file.
        segment_names: label value to segment name (DICOM SEG); labels without a name are skipped.
        segment_codes: label value to ``{"category": [code, scheme, meaning], "type": [...],
            "color": [r, g, b]}`` (DICOM SEG codes; RTSTRUCT colours).
        dtype: ``uint8`` (class labels) or ``uint16`` (instance ids, up to 65535 objects) for NIfTI
            and PNG; DICOM SEG stores one binary segment per label.
    """
    writer = output_format(fmt).write
    mask = np.asarray(mask)
    if mask.shape != volume.spatial_shape:
        raise ValueError(f"mask shape {mask.shape} differs from the input's {volume.spatial_shape}")
    if dtype not in ("uint8", "uint16"):
        raise ValueError(f"mask dtype {dtype!r}: choose uint8 or uint16")
    if mask.size and int(mask.max()) > np.iinfo(dtype).max:
        raise ValueError(f"{volume.path}: {int(mask.max())} labels do not fit the bundle's {dtype} masks")
    assert writer is not None
    return writer(volume, mask.astype(dtype), Path(path), overwrite, segment_names or {}, segment_codes or {})
