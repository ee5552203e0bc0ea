"""Datalists for 2D nuclei/cell instance data: DSB2018, Cell Tracking Challenge and image/label folders.

Three layouts are found anywhere up to three folders below ``dataset_dir``:

- **DSB2018** (Kaggle Data Science Bowl 2018, stage 1 with the community fixes):
  ``<id>/images/<id>.png`` with ``<id>/mask_instances_derived.png`` (uint16, one id per nucleus).
- **Cell Tracking Challenge**, its own layout: ``01/t000.tif`` ... with ``01_GT/SEG/man_seg000.tif``
  (only the frames that have a SEG ground truth are used), for every sequence ``NN``.
- **Image/label folders**: ``img/`` + ``gt/`` or ``images/`` + ``labels/``, paired by the last
  number in the file name (``t13.tif`` with ``man_seg13.tif``, ``dna-0.png`` with ``0.png``).

Each entry of the datalist is ``{"image", "label", "source", "instances"}``: ``source`` names the
data set (its folder relative to ``dataset_dir``), ``instances`` says whether the label is an
instance map. A label with one value besides 0 but several separate objects is a binary mask
(e.g. NIH3T3): it must not be read as instance truth, so it is flagged ``instances: False``;
training then uses it without the paper's touching-border term, and evaluation scores it with
the pixel IoU only.

**The validation split** is fixed and independent of any seed. ``split="grouped"`` (the default)
holds out whole sources, so that validation predicts what images from another lab or organ give:

- A *stratum* is one data set (the first folder below ``dataset_dir``) and one modality
  (:func:`unet3d.transforms.nuclei_modality`: fluorescence, brightfield, stained).
- A *unit* within it is an acquisition: the tissue source site of a TCGA slide (``TCGA-XX-``
  in the name: one hospital), one data set folder of a Cell Tracking Challenge or image/label
  layout (one lab's sequence), or one image size in a DSB2018-layout set (its crops of one
  microscope at one setting).
- In every stratum, units in the order of the SHA-1 of their name go to validation until they
  hold ``val_fraction`` of its images; a unit that would take validation past 1.5 times that
  share is skipped (when all would, the smallest unit goes), and at least one unit stays in
  training.
- A stratum of a single unit is split by field instead (below: the weaker ``"random"`` rule),
  and a DSB2018 validation image that shares content with a training image moves to training.

``split="random"`` is the earlier split, random images within each source:

- DSB2018 holds overlapping crops of the same microscope field under different ids. Crops that
  share image content are grouped (:mod:`unet3d.data.content_groups`), and whole groups go to
  one side: a group is in validation when the SHA-1 of its first id (sorted) falls in the lowest
  ``val_fraction`` of the hash range.
- Cell Tracking Challenge sequences are time-lapses of one field: the last annotated frame of each
  sequence is in validation (the frame furthest in time from the others).
- Other image/label folders: every ``round(1 / val_fraction)``-th pair sorted by number.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from unet3d.data import cache
from unet3d.data.content_groups import content_hashes, shared_content_groups
from unet3d.data.datalist import DatasetError
from unet3d.io.formats import is_input_file

NUCLEI_SOURCE = (
    "Expected DSB2018 (<id>/images/<id>.png + <id>/mask_instances_derived.png), Cell Tracking Challenge "
    "(01/tNNN.tif + 01_GT/SEG/man_segNNN.tif) or img/ + gt/ folders; the data is public: "
    "https://bbbc.broadinstitute.org/BBBC038 and http://celltrackingchallenge.net"
)


def _number(path: Path) -> int | None:
    numbers = re.findall(r"\d+", path.stem)
    return int(numbers[-1]) if numbers else None


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if is_input_file(p, "image2d"))


def read_label(path: Path) -> np.ndarray:
    """A label image as an integer array ``(rows, columns)``.

    Raises:
        DatasetError: unreadable file, or not a single-channel image.
    """
    try:
        with Image.open(path) as im:
            array = np.asarray(im)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable label image ({e})") from e
    if array.ndim != 2:
        raise DatasetError(f"{path}: label of shape {array.shape}; expected one channel (an instance map)")
    return array.astype(np.int64)


def is_instance_map(label: np.ndarray) -> bool:
    """``False`` for a binary mask of several objects (one value besides 0), ``True`` otherwise."""
    from skimage.measure import label as connected_components

    values = np.unique(label)
    if len(values[values != 0]) != 1:
        return True
    return int(connected_components(label != 0, connectivity=1).max()) <= 1


def _open_image(path: Path) -> Image.Image:
    """``path`` opened and decoded by PIL; a file PIL cannot read is a :class:`DatasetError`."""
    try:
        im = Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError) as e:
        raise DatasetError(f"{path}: not a readable image ({e})") from e
    try:
        im.load()
        return im
    except (OSError, SyntaxError, ValueError) as e:
        im.close()
        raise DatasetError(f"{path}: not a readable image ({e})") from e


def _hash(key: str) -> float:
    return int(hashlib.sha1(key.encode()).hexdigest(), 16) / 16**40


def _in_validation(key: str, val_fraction: float) -> bool:
    return _hash(key) < val_fraction


def stratum(source: str, modality: str) -> str:
    """The stratum of an image: its data set (the first folder of its ``source``) and modality,
    e.g. ``"he_nuclei:stained"``. The grouped split holds out units within each stratum, and
    sampling can balance strata (:func:`unet3d.data.appearance_weights`)."""
    return f"{source.split('/')[0]}:{modality}"


def acquisition_unit(image: Path, layout: str, folder: Path, size: tuple[int, int]) -> str:
    """The acquisition an image comes from (see the module docstring), as a name."""
    site = re.search(r"TCGA-([A-Z0-9]{2})-", image.name)
    if site:
        return f"TCGA-{site.group(1)}"
    if layout == "dsb":
        return f"{size[0]}x{size[1]}"
    return folder.name


def grouped_validation(units: Sequence[str], val_fraction: float) -> set[str]:
    """The units (one name per image of a stratum) that go to validation: whole units in hash
    order until they hold ``val_fraction`` of the images, none past 1.5 times that (unless every
    unit is larger: then the smallest), one unit left for training."""
    counts: dict[str, int] = defaultdict(int)
    for unit in units:
        counts[unit] += 1
    target = val_fraction * len(units)
    chosen: set[str] = set()
    taken = 0
    for unit in sorted(counts, key=_hash):
        if taken >= target or len(chosen) == len(counts) - 1:
            break
        if taken + counts[unit] <= 1.5 * target:
            chosen.add(unit)
            taken += counts[unit]
    if not chosen and len(counts) > 1:  # every unit too large: the smallest one
        chosen.add(min(counts, key=lambda u: (counts[u], _hash(u))))
    return chosen


def _dsb_pairs(folder: Path) -> list[tuple[Path, Path]]:
    pairs = []
    for case in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        image = case / "images" / f"{case.name}.png"
        label = case / "mask_instances_derived.png"
        if not image.is_file():
            raise DatasetError(f"{case}: DSB2018 case without its image (expected {image})")
        if not label.is_file():
            raise DatasetError(f"{image}: image without a label (expected {label})")
        pairs.append((image, label))
    return pairs


def _numbered_pairs(images_dir: Path, labels_dir: Path) -> list[tuple[Path, Path]]:
    labels = {_number(p): p for p in _images(labels_dir)}
    pairs = []
    for image in _images(images_dir):
        n = _number(image)
        if n is not None and n in labels:
            pairs.append((image, labels[n]))
    return pairs


def _find_sets(root: Path, depth: int = 3) -> list[tuple[str, Path, list[tuple[Path, Path]]]]:
    """``(layout, folder, pairs)`` for every data set found up to ``depth`` folders below ``root``."""
    found: list[tuple[str, Path, list[tuple[Path, Path]]]] = []
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = {p.name for p in subdirs}
    ctc = [p for p in subdirs if re.fullmatch(r"\d+", p.name) and (root / f"{p.name}_GT" / "SEG").is_dir()]
    if ctc:
        for seq in ctc:
            found.append(("ctc", seq, _numbered_pairs(seq, root / f"{seq.name}_GT" / "SEG")))
        return found
    for images, labels in (("img", "gt"), ("images", "labels")):
        if images in names and labels in names:
            return [("folders", root, _numbered_pairs(root / images, root / labels))]
    if subdirs and all((p / "images").is_dir() for p in subdirs[:5]) and (subdirs[0] / "images").is_dir():
        return [("dsb", root, _dsb_pairs(root))]
    if depth > 0:
        for sub in subdirs:
            found.extend(_find_sets(sub, depth - 1))
    return found


def nuclei_datalist(
    dataset_dir: str | Path,
    sources: Sequence[str] | None = ("dsb2018_nuclei", "ctc_fluo_nuclei", "he_nuclei"),
    val_fraction: float = 0.15,
    require_training: bool = True,
    split: str = "grouped",
) -> dict[str, list[dict]]:
    """Build ``{"training": [...], "validation": [...]}`` from every nuclei data set under ``dataset_dir``.

    Every pair is checked now (sizes from the headers; labels read to tell instance maps from
    binary masks), so bad data stops the run before training with a message naming the file.
    Each entry is ``{"image", "label", "source", "instances", "modality", "unit"}``.

    Args:
        dataset_dir: a folder holding one or more data sets in the layouts above, e.g.
            ``../shared/data`` (DSB2018, the CTC sets, H&E tissue) or one CTC data set's folder.
        sources: sub-folders of ``dataset_dir`` to read (those that exist); when none exists, or
            ``None``, everything found under ``dataset_dir`` is read.
        val_fraction: share of each stratum's images (grouped) or of DSB2018 field groups and
            plain folder pairs (random) in validation; 1.0 puts everything in validation.
        require_training: raise if no pair is left for training.
        split: ``"grouped"`` (whole sources held out) or ``"random"`` (random fields within each
            source), see the module docstring.

    Raises:
        DatasetError: no data set found, an image without a label, a label of another size, a
            file that is not an image.
    """
    if split not in ("grouped", "random"):
        raise DatasetError(f"split {split!r}; expected 'grouped' or 'random'")
    root = Path(dataset_dir)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found. {NUCLEI_SOURCE}")
    roots = [root / s for s in sources or () if (root / s).is_dir()] or [root]
    sets = [s for r in roots for s in _find_sets(r) if s[2]]
    if not sets:
        raise DatasetError(f"{root}: no nuclei data set found. {NUCLEI_SOURCE}")
    entries: list[dict] = []
    random_val: list[bool] = []
    fields: list[str] = []  # content groups: what may not straddle the split
    for layout, folder, pairs in sets:
        source = folder.relative_to(root).as_posix() if folder != root else folder.name
        read = read_set(layout, pairs)
        if layout == "dsb":
            groups = read["groups"]
            first: dict[int, str] = {}
            for (image, _), g in zip(pairs, groups, strict=True):
                first.setdefault(g, image.stem)
            in_val = [_in_validation(first[g], val_fraction) for g in groups]
            fields += [f"{source}:{first[g]}" for g in groups]
        elif layout == "ctc":
            in_val = [i == len(pairs) - 1 for i in range(len(pairs))]
            fields += [f"{source}:{image.name}" for image, _ in pairs]
        else:
            every = max(round(1 / val_fraction), 2) if val_fraction > 0 else 0
            in_val = [bool(every) and i % every == 0 for i in range(len(pairs))]
            fields += [f"{source}:{image.name}" for image, _ in pairs]
        for (image, label), kind, size, instances in zip(pairs, read["kinds"], read["sizes"], read["instances"],
                                                         strict=True):  # fmt: skip
            entry = {"image": str(image), "label": str(label), "source": source, "instances": instances}
            entry["modality"] = kind
            entry["unit"] = f"{stratum(source, kind)}:{acquisition_unit(image, layout, folder, tuple(size))}"
            entries.append(entry)
        random_val += in_val
    if split == "random" or val_fraction >= 1.0:
        side = random_val if val_fraction < 1.0 else [True] * len(entries)
    else:
        side = _grouped_sides(entries, random_val, fields, val_fraction)
    datalist: dict[str, list[dict]] = {"training": [], "validation": []}
    for entry, val in zip(entries, side, strict=True):
        datalist["validation" if val else "training"].append(entry)
    if require_training and not datalist["training"]:
        raise DatasetError(f"{root}: no image left for training")
    return datalist


def read_set(layout: str, pairs: Sequence[tuple[Path, Path]]) -> dict[str, list]:
    """What the split needs from one data set's (image, label) pairs, each decoded once and checked:
    per pair the image's ``kinds`` (:func:`unet3d.data.appearance`), ``sizes`` ``(rows, columns)``
    and whether the label is an instance map (``instances``); for the DSB2018 layout the
    ``groups`` of images that share content (:func:`unet3d.data.content_groups.shared_content_groups`).

    Every training, evaluation and test process would decode all of them again, so the result is
    memoised on disk by the files' paths, sizes and times (:mod:`unet3d.data.cache`).

    Raises:
        DatasetError: a file that is not an image, a label of another size than its image.
    """
    from unet3d.data.sampling import appearance

    try:
        key: str | None = cache.files_key("nuclei_set", {"layout": layout}, (f for pair in pairs for f in pair))
    except OSError:
        key = None  # a file that cannot be stat'ed is reported by the reading below
    stored = cache.load(key) if key else None
    if stored is not None:
        return stored
    read: dict[str, list] = {"kinds": [], "sizes": [], "instances": []}
    hashes = []
    for image, label in pairs:  # each image decoded once: its size, modality and (DSB) content
        with _open_image(image) as im:
            read["kinds"].append(appearance(im))
            size = (im.height, im.width)
            if layout == "dsb":
                hashes.append(content_hashes(im))
        label_map = read_label(label)
        if size != label_map.shape:
            raise DatasetError(f"{label}: label size {label_map.shape} differs from its image's {size}")
        read["sizes"].append(list(size))
        read["instances"].append(bool(is_instance_map(label_map)))
    if layout == "dsb":
        read["groups"] = [int(g) for g in shared_content_groups(hashes)]
    if key:
        cache.store(key, read)
    return read


def _grouped_sides(entries: list[dict], random_val: list[bool], fields: list[str], val_fraction: float) -> list[bool]:
    """Validation or not per entry, for the grouped split (module docstring)."""
    strata: dict[str, list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        strata[entry["unit"].rsplit(":", 1)[0]].append(i)
    side = [False] * len(entries)
    for members in strata.values():
        units = [entries[i]["unit"] for i in members]
        if len(set(units)) == 1:  # one acquisition: split by field
            for i in members:
                side[i] = random_val[i]
            continue
        chosen = grouped_validation(units, val_fraction)
        for i in members:
            side[i] = entries[i]["unit"] in chosen
    in_training = {fields[i] for i, val in enumerate(side) if not val}
    return [val and fields[i] not in in_training for i, val in enumerate(side)]
