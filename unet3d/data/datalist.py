"""Datalists from an image/label folder pair, checked before training starts."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from unet3d.io.errors import InputError
from unet3d.io.formats import header_shape, input_suffixes

ISBI2012_SOURCE = (
    "The ISBI 2012 EM segmentation challenge data (train-volume.tif, train-labels.tif) is public: "
    "https://imagej.net/events/isbi-2012-segmentation-challenge (also "
    "https://github.com/zudi-lin/ISBI2012); split the stacks into images/slice_NN.png and labels/slice_NN.png."
)


class DatasetError(ValueError):
    """Bad input data; the message names the file or folder and the problem."""


def _slice_index(path: Path) -> int:
    numbers = re.findall(r"\d+", path.stem)
    if not numbers:
        raise DatasetError(f"{path}: no slice number in the file name (expected e.g. slice_07.png)")
    return int(numbers[-1])


def header_size(path: Path) -> tuple[int, ...]:
    """The image's or volume's shape from its header (:func:`unet3d.io.formats.header_shape`).

    Raises:
        DatasetError: the file is not readable in its format.
    """
    try:
        return header_shape(path)
    except InputError as e:
        raise DatasetError(str(e)) from e


def folder_datalist(
    dataset_dir: str | Path,
    val_indices: Sequence[int] | None = tuple(range(20, 25)),
    image_dir: str = "images",
    label_dir: str = "labels",
    source_hint: str = ISBI2012_SOURCE,
    require_training: bool = True,
) -> dict[str, list[dict[str, str]]]:
    """Build ``{"training": [...], "validation": [...]}`` from ``images/`` + ``labels/`` with the same names.

    Every image must have a label of the same size; files are checked now, so bad input stops
    the run before training with a message naming the file. Slices whose number (the last number
    in the file name) is in ``val_indices`` form the validation split.

    Args:
        dataset_dir: folder holding ``image_dir`` and ``label_dir`` (e.g. ``../shared/data/isbi2012/train``).
        val_indices: slice numbers of the validation split (ISBI 2012: 20-24); ``None`` puts every
            image in the validation split (to evaluate on another folder).
        image_dir: name of the image folder.
        label_dir: name of the label folder.
        source_hint: appended to the error when the data is missing: where to get it.
        require_training: raise if no image is left for training.

    Raises:
        DatasetError: missing or empty folder, an image without a label (or a label without an
            image), a label of another size, or a file that is not an image.
    """
    root = Path(dataset_dir)
    images_path, labels_path = root / image_dir, root / label_dir
    for folder in (root, images_path, labels_path):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: dataset folder not found. {source_hint}")
    files = sorted(p for p in images_path.iterdir() if p.is_file() and not p.name.startswith("."))
    if not files:
        raise DatasetError(f"{images_path}: no images found. {source_hint}")
    label_names = {p.name for p in labels_path.iterdir() if p.is_file() and not p.name.startswith(".")}
    orphans = label_names - {p.name for p in files}
    if orphans:
        raise DatasetError(f"{labels_path / sorted(orphans)[0]}: label without an image in {images_path}")
    datalist: dict[str, list[dict[str, str]]] = {"training": [], "validation": []}
    for image in files:
        if not image.name.lower().endswith(input_suffixes("image2d")):
            raise DatasetError(f"{image}: not an image file (expected one of {', '.join(input_suffixes('image2d'))})")
        label = labels_path / image.name
        if not label.is_file():
            raise DatasetError(f"{image}: image without a label (expected {label})")
        image_size, label_size = header_size(image), header_size(label)
        if image_size != label_size:
            raise DatasetError(f"{label}: label size {label_size} differs from its image's {image_size} ({image})")
        in_val = val_indices is None or _slice_index(image) in set(val_indices)
        split = "validation" if in_val else "training"
        datalist[split].append({"image": str(image), "label": str(label)})
    if require_training and not datalist["training"]:
        raise DatasetError(f"{images_path}: no image left for training (validation slices: {val_indices})")
    return datalist


def split_of(datalist: Mapping[str, list[dict[str, str]]], split: str) -> list[dict[str, str]]:
    """``datalist[split]`` (e.g. ``"validation"``, ``"test"``), or an error that names the splits
    there are (a ``"test"`` split exists only with a held-out test fold, ``test_fold``).

    Raises:
        DatasetError: the datalist has no such split.
    """
    if split not in datalist:
        hint = " (a test split needs a held-out test fold: --test_fold T)" if split == "test" else ""
        raise DatasetError(f"no {split!r} split in the datalist, only {', '.join(map(repr, datalist))}{hint}")
    return list(datalist[split])
