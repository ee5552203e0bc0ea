"""Datalists of image/label pairs (the Medical Segmentation Decathlon layout and the other common
ones), checked before training.

Layouts, tried in this order in the data set folder:

- ``dataset.json`` with a ``training`` list (MSD); its ``labels`` and ``modality`` /
  ``channel_names`` (nnU-Net v2) are read by :func:`dataset_info`;
- ``imagesTr/`` + ``labelsTr/``, then ``images/`` + ``labels/``: files of the same name, or
  nnU-Net's channel files (``case_0000.nii.gz``, ``case_0001.nii.gz`` for the label ``case.nii.gz``);
- one folder of ``<case>_image.<ext>`` + ``<case>_label.<ext>`` (also ``_img``/``_seg``,
  ``_mask``).

Volumes (NIfTI, NRRD, MHA) and 2D images (PNG, TIFF, ...) alike (:mod:`unet3d.io.formats`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from unet3d.data.datalist import DatasetError, header_size
from unet3d.io.formats import input_suffixes, is_input_file, stem

MSD_SOURCE = (
    "The Medical Segmentation Decathlon data (e.g. Task04_Hippocampus.tar) is public: "
    "http://medicaldecathlon.com (CC-BY-SA 4.0); unpack it so that the folder holds imagesTr/ and labelsTr/."
)
FOLDER_PAIRS = (("imagesTr", "labelsTr"), ("images", "labels"))
# suffixes of the flat layout: <case><image suffix>.<ext> beside <case><label suffix>.<ext>
FLAT_SUFFIXES = (("_image", "_label"), ("_img", "_seg"), ("_image", "_mask"), ("_img", "_label"))
CHANNEL_FILE = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")  # nnU-Net: case_0000, case_0001, ...

Image = str | list[str]  # one file, or one file per channel


def _is_data(path: Path) -> bool:
    return is_input_file(path)


def _pairs_from_json(root: Path, dataset_json: Path) -> list[tuple[Image, Path]] | None:
    try:
        info = json.loads(dataset_json.read_text())
    except json.JSONDecodeError as e:
        raise DatasetError(f"{dataset_json}: not a JSON file ({e})") from e
    entries = info.get("training") if isinstance(info, dict) else None
    if entries is None:
        return None  # nnU-Net v2: the folders hold the cases
    try:
        return [(str(root / e["image"]), root / e["label"]) for e in entries]
    except (KeyError, TypeError) as e:
        raise DatasetError(f"{dataset_json}: its 'training' list needs image and label entries ({e})") from e


def _pairs_from_folders(images_path: Path, labels_path: Path) -> list[tuple[Image, Path]]:
    images = sorted(p for p in images_path.iterdir() if _is_data(p))
    labels = {stem(p): p for p in labels_path.iterdir() if _is_data(p)}
    if not images:
        raise DatasetError(f"{images_path}: no images found ({', '.join(input_suffixes())})")
    by_case: dict[str, list[Path]] = {}
    for image in images:
        name = stem(image)
        channel = CHANNEL_FILE.match(name)
        case = channel.group("case") if channel and name not in labels else name
        by_case.setdefault(case, []).append(image)
    orphans = sorted(set(labels) - set(by_case))
    if orphans:
        raise DatasetError(f"{labels[orphans[0]]}: label without an image in {images_path}")
    pairs: list[tuple[Image, Path]] = []
    for case, files in sorted(by_case.items()):
        if case not in labels:
            raise DatasetError(f"{files[0]}: image without a label (expected {case}.<ext> in {labels_path})")
        pairs.append((str(files[0]) if len(files) == 1 else [str(f) for f in files], labels[case]))
    return pairs


def _pairs_from_flat_folder(root: Path) -> list[tuple[Image, Path]] | None:
    files = {stem(p): p for p in root.iterdir() if _is_data(p)}
    for image_suffix, label_suffix in FLAT_SUFFIXES:
        cases = sorted(n.removesuffix(image_suffix) for n in files if n.endswith(image_suffix))
        if cases and any(c + label_suffix in files for c in cases):
            pairs: list[tuple[Image, Path]] = []
            for case in cases:
                if case + label_suffix not in files:
                    raise DatasetError(
                        f"{files[case + image_suffix]}: image without a label ({case}{label_suffix}.<ext>)"
                    )
                pairs.append((str(files[case + image_suffix]), files[case + label_suffix]))
            return pairs
    return None


def find_pairs(root: str | Path, image_dir: str | None = None, label_dir: str | None = None,
               source_hint: str = "") -> list[tuple[Image, Path]]:  # fmt: skip
    """The data set's (image, label) pairs, sorted by image name; an image is one file or a list
    of channel files. ``image_dir``/``label_dir`` name the folders; ``None`` tries the layouts of
    the module docstring.

    Raises:
        DatasetError: no layout found, an image without a label or the reverse.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found. {source_hint}".strip())
    dataset_json = root / "dataset.json"
    pairs = _pairs_from_json(root, dataset_json) if dataset_json.is_file() else None
    folders = [(image_dir, label_dir)] if image_dir and label_dir else FOLDER_PAIRS
    for images, labels in folders if pairs is None else ():
        if (root / images).is_dir() and (root / labels).is_dir():
            pairs = _pairs_from_folders(root / images, root / labels)
            break
    if pairs is None and not (image_dir and label_dir):
        pairs = _pairs_from_flat_folder(root)
    if pairs is None:
        wanted = " or ".join(f"{i}/ + {lab}/" for i, lab in folders)
        raise DatasetError(f"{root}: no image/label pairs found (dataset.json, {wanted}, or <case>_image + "
                           f"<case>_label files). {source_hint}".strip())  # fmt: skip
    return sorted(pairs, key=lambda pair: Path(pair[0] if isinstance(pair[0], str) else pair[0][0]).name)


def images_in(folder: str | Path, channels: int = 1) -> list[Image]:
    """The images in a folder, sorted: each file, or with ``channels`` > 1 each case's channel
    files (``case_0000``, ``case_0001``, ...: nnU-Net's naming) as one list; what a planned
    bundle's ``inference.yaml`` segments.

    Raises:
        DatasetError: a case without all of its channel files.
    """
    files = sorted(p for p in Path(folder).iterdir() if _is_data(p))
    if channels == 1:
        return [str(f) for f in files]
    cases: dict[str, list[str]] = {}
    for f in files:
        match = CHANNEL_FILE.match(stem(f))
        if match:
            cases.setdefault(match.group("case"), []).append(str(f))
    incomplete = [c for c, fs in cases.items() if len(fs) != channels]
    if incomplete:
        raise DatasetError(f"{Path(folder) / incomplete[0]}_NNNN: {len(cases[incomplete[0]])} channel file(s), "
                           f"the bundle takes {channels}")  # fmt: skip
    return [fs for _, fs in sorted(cases.items())]


def dataset_info(root: str | Path) -> dict[str, Any]:
    """What ``dataset.json`` says beside the cases: ``labels`` (value -> name), ``modality``
    (channel -> name, e.g. ``{0: "CT"}``) and ``name``; empty entries without a ``dataset.json``.

    Reads both the MSD form (``"labels": {"0": "background"}``, ``"modality"``) and nnU-Net v2's
    (``"labels": {"background": 0}``, ``"channel_names"``); region labels (lists) are not supported.

    Raises:
        DatasetError: a ``dataset.json`` whose labels cannot be read as value -> name.
    """
    path = Path(root) / "dataset.json"
    info: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    labels: dict[int, str] = {}
    try:
        for key, value in dict(info.get("labels", {})).items():
            if isinstance(value, (int, float)) and not isinstance(key, (int, float)):
                labels[int(value)] = str(key)  # nnU-Net v2: name -> value
            else:
                labels[int(key)] = str(value)
    except (TypeError, ValueError) as e:
        raise DatasetError(f"{path}: labels must map values to names ({e})") from e
    channels = info.get("modality") or info.get("channel_names") or {}
    return {"name": info.get("name"), "labels": labels, "modality": {int(k): str(v) for k, v in channels.items()}}


def msd_datalist(
    dataset_dir: str | Path,
    num_folds: int = 5,
    fold: int = 0,
    test_fold: int | None = None,
    image_dir: str | None = None,
    label_dir: str | None = None,
    source_hint: str = MSD_SOURCE,
) -> dict[str, list[dict[str, Any]]]:
    """Build ``{"training": [...], "validation": [...]}`` from an MSD task folder.

    The pairs come from :func:`find_pairs`: the folder's ``dataset.json`` (its ``training`` list)
    when there is one, otherwise ``imagesTr/`` + ``labelsTr/`` (or the other layouts of the
    module docstring). An entry's ``image`` is a file, or a list of channel files. The validation split
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
        image_dir: image folder name (without dataset.json); ``None``: the layouts above.
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
    pairs = find_pairs(root, image_dir, label_dir, source_hint)
    datalist: dict[str, list[dict[str, Any]]] = {"training": [], "validation": []}
    if test_fold is not None:
        datalist["test"] = []
    for i, (image, label) in enumerate(pairs):
        files = [Path(image)] if isinstance(image, str) else [Path(f) for f in image]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise DatasetError(f"{missing[0]}: image listed in the dataset not found")
        if not label.is_file():
            raise DatasetError(f"{files[0]}: image without a label (expected {label})")
        label_shape = header_size(label)
        for file in files:  # a 4D image (channels last, MSD) has the label's shape plus its channels
            image_shape = header_size(file)
            if image_shape[: len(label_shape)] != label_shape:
                raise DatasetError(
                    f"{label}: label shape {label_shape} differs from its image's {image_shape} ({file})"
                )
        split = "validation" if i % num_folds == fold else "test" if i % num_folds == test_fold else "training"
        datalist[split].append({"image": image, "label": str(label)})
    if not datalist["training"]:
        raise DatasetError(f"{root}: no volume left for training")
    return datalist
