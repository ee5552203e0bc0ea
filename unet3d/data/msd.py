"""Datalists for 3D volumes in the Medical Segmentation Decathlon layout, checked before training."""

from __future__ import annotations

import json
from pathlib import Path

from unet3d.data.datalist import DatasetError, header_size
from unet3d.io.formats import input_suffixes, is_input_file

MSD_SOURCE = (
    "The Medical Segmentation Decathlon data (e.g. Task04_Hippocampus.tar) is public: "
    "http://medicaldecathlon.com (CC-BY-SA 4.0); unpack it so that the folder holds imagesTr/ and labelsTr/."
)
VOLUMES = ("nifti", "itk")  # the input formats (unet3d.io.formats) a task folder may hold


def _is_volume(path: Path) -> bool:
    return is_input_file(path, *VOLUMES)


def _pairs_from_json(root: Path, dataset_json: Path) -> list[tuple[Path, Path]]:
    try:
        entries = json.loads(dataset_json.read_text())["training"]
        return [(root / e["image"], root / e["label"]) for e in entries]
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise DatasetError(f"{dataset_json}: not an MSD dataset.json with a 'training' list ({e})") from e


def _pairs_from_folders(root: Path, image_dir: str, label_dir: str, source_hint: str) -> list[tuple[Path, Path]]:
    images_path, labels_path = root / image_dir, root / label_dir
    for folder in (images_path, labels_path):
        if not folder.is_dir():
            raise DatasetError(f"{folder}: dataset folder not found. {source_hint}")
    images = sorted(p for p in images_path.iterdir() if _is_volume(p))
    if not images:
        raise DatasetError(f"{images_path}: no volumes found ({', '.join(input_suffixes(*VOLUMES))}). {source_hint}")
    orphans = {p.name for p in labels_path.iterdir() if _is_volume(p)} - {p.name for p in images}
    if orphans:
        raise DatasetError(f"{labels_path / sorted(orphans)[0]}: label without an image in {images_path}")
    return [(p, labels_path / p.name) for p in images]


def msd_datalist(
    dataset_dir: str | Path,
    num_folds: int = 5,
    fold: int = 0,
    test_fold: int | None = None,
    image_dir: str = "imagesTr",
    label_dir: str = "labelsTr",
    source_hint: str = MSD_SOURCE,
) -> dict[str, list[dict[str, str]]]:
    """Build ``{"training": [...], "validation": [...]}`` from an MSD task folder.

    The pairs come from the folder's ``dataset.json`` (its ``training`` list) when there is one,
    otherwise from ``imagesTr/`` + ``labelsTr/`` files with the same names. The validation split
    is fixed and independent of any seed (so a resumed run gets the same folds): the cases sorted
    by file name are dealt to ``num_folds`` folds in turn (case ``i`` to fold ``i % num_folds``)
    and fold ``fold`` is the validation split. The default, fold 0 of 5, is positions 0, 5, 10,
    ...: 42 of the 208 hippocampus volumes; the five folds together hold every case once. Every pair is checked now
    (headers only), so bad data stops the run before training with a message naming the file.

    ``test_fold`` sets a second fold aside as a test split (nested cross-validation): its cases
    are in neither training nor validation but under ``"test"``. Models trained with
    ``test_fold=0`` and ``fold=1 .. num_folds - 1`` never see fold 0, so their ensemble can be
    scored there honestly (an ensemble of all five plain fold models has seen every case).

    Args:
        dataset_dir: the task folder, e.g. ``../shared/data/msd_hippocampus``.
        num_folds: the number of cross-validation folds (2 or more).
        fold: the validation fold, ``0 .. num_folds - 1``.
        test_fold: a fold held out of training and validation (returned as ``"test"``); ``None``:
            none, every case outside ``fold`` trains.
        image_dir: image folder name (without dataset.json).
        label_dir: label folder name (without dataset.json).
        source_hint: appended to the error when the data is missing: where to get it.

    Raises:
        DatasetError: missing or empty folder, an image without a label or the reverse, a file
            that is not a readable volume, or a label whose shape differs from its image's.
    """
    if num_folds < 2 or not 0 <= fold < num_folds:
        raise DatasetError(f"fold {fold} of {num_folds}: choose 2 or more folds and a fold from 0 to {num_folds - 1}")
    if test_fold is not None and (test_fold == fold or not 0 <= test_fold < num_folds or num_folds < 3):
        raise DatasetError(
            f"test fold {test_fold} of {num_folds}: choose 3 or more folds and a test fold from 0 to {num_folds - 1}"
            f" other than the validation fold {fold}"
        )
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found. {source_hint}")
    dataset_json = root / "dataset.json"
    if dataset_json.is_file():
        pairs = _pairs_from_json(root, dataset_json)
    else:
        pairs = _pairs_from_folders(root, image_dir, label_dir, source_hint)
    pairs.sort(key=lambda pair: pair[0].name)
    datalist: dict[str, list[dict[str, str]]] = {"training": [], "validation": []}
    if test_fold is not None:
        datalist["test"] = []
    for i, (image, label) in enumerate(pairs):
        if not image.is_file():
            raise DatasetError(f"{image}: image listed in the dataset not found")
        if not label.is_file():
            raise DatasetError(f"{image}: image without a label (expected {label})")
        image_shape, label_shape = header_size(image), header_size(label)
        if image_shape != label_shape:
            raise DatasetError(f"{label}: label shape {label_shape} differs from its image's {image_shape} ({image})")
        split = "validation" if i % num_folds == fold else "test" if i % num_folds == test_fold else "training"
        datalist[split].append({"image": str(image), "label": str(label)})
    if not datalist["training"]:
        raise DatasetError(f"{root}: no volume left for training")
    return datalist
