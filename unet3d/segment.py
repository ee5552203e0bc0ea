"""``unet3d segment``: masks for image files with a bundle, written atomically beside nothing else."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from unet3d.io.atomic import atomic_write

logger = logging.getLogger(__name__)

FORMATS = {"png": ".png"}
_FORMAT_OF_SUFFIX = {".png": "png", ".tif": "png", ".tiff": "png"}


class InputError(ValueError):
    """A bad input file; the message names it."""


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".nii.gz", *_FORMAT_OF_SUFFIX):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def output_path(input_path: str | os.PathLike, output_dir: str | os.PathLike, fmt: str | None = None) -> Path:
    """``<output_dir>/<input stem>_seg.<ext>``; the format follows the input unless given."""
    path = Path(input_path)
    fmt = fmt or _FORMAT_OF_SUFFIX.get(path.suffix.lower())
    if fmt not in FORMATS:
        raise InputError(f"{path}: unsupported input type (supported: {', '.join(_FORMAT_OF_SUFFIX)})")
    return Path(output_dir) / f"{_stem(path)}_seg{FORMATS[fmt]}"


def read_image(path: str | os.PathLike, channels: int):
    """Read an image as MONAI's ``LoadImage`` does (a ``MetaTensor``, spatial axes in MONAI's order).

    The channel axis is left to the bundle's preprocessing (its ``EnsureChannelFirstd``); the
    number of channels is checked here against what the bundle expects.

    Raises:
        InputError: unreadable file, wrong number of channels, or non-finite values.
    """
    import torch
    from monai.transforms import EnsureChannelFirst, LoadImage

    try:
        image = LoadImage(image_only=True)(str(path))
    except Exception as e:  # MONAI raises several types for unreadable files
        raise InputError(f"{path}: cannot read image ({type(e).__name__}: {e})") from e
    found = EnsureChannelFirst()(image).shape[0]
    if found != channels:
        raise InputError(f"{path}: image has {found} channels, the bundle expects {channels}")
    if not torch.isfinite(image).all():
        raise InputError(f"{path}: image contains NaN or infinite values")
    return image


def _write_png(mask, path: Path, overwrite: bool) -> Path:
    from PIL import Image

    array = np.asarray(mask)[0].T.astype(np.uint8)  # MONAI's (W, H) back to the file's (H, W)
    return atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"), overwrite=overwrite)


def segment(
    inputs: Sequence[str | os.PathLike],
    bundle: str | os.PathLike,
    output_dir: str | os.PathLike,
    fmt: str | None = None,
    device: str | None = None,
    overwrite: bool = False,
    tta: bool = False,
    progress: bool = False,
) -> list[Path]:
    """Segment image files with a bundle and write one mask per input.

    Every output name is checked before any work is done: an existing output stops the run
    (unless ``overwrite``) with nothing written. Each mask is written atomically.

    Args:
        inputs: image files (PNG/TIFF for 2D bundles).
        bundle: the bundle folder, e.g. ``bundles/em``.
        output_dir: where ``<stem>_seg.<ext>`` files go (created if missing).
        fmt: output format (``png``); follows the input when ``None``.
        device: torch device; the first GPU if available when ``None``.
        overwrite: replace existing outputs.
        tta: the bundle's test-time augmentation.
        progress: show a progress bar over the inputs.

    Returns:
        The written files, in input order.

    Raises:
        InputError: a missing, unreadable or unsuitable input (named in the message).
        FileExistsError: an output exists and ``overwrite`` is false.
    """
    from tqdm import tqdm

    from unet3d.bundle.predictor import BundlePredictor

    paths = [Path(p) for p in inputs]
    if not paths:
        raise InputError("no input given")
    outputs = [output_path(p, output_dir, fmt) for p in paths]
    for path, out in zip(paths, outputs, strict=True):
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        if out.exists() and not overwrite:
            raise FileExistsError(f"{out}: output exists; pass --overwrite to replace it")
    predictor = BundlePredictor(bundle, device=device, tta=tta)
    channels = int(predictor.input_spec["num_channels"])
    written = []
    start = time.perf_counter()
    for path, out in tqdm(list(zip(paths, outputs, strict=True)), disable=not progress, unit="image"):
        mask = predictor(read_image(path, channels))
        written.append(_write_png(mask, out, overwrite))
    logger.info(f"segmented {len(written)} input(s) in {time.perf_counter() - start:.1f} s into {output_dir}")
    return written
