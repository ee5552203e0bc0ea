"""Tests for unet3d.data.datalist: the real ISBI layout and every kind of bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from unet3d.data import DatasetError, folder_datalist


@pytest.fixture
def isbi_copy(data_dir, tmp_path) -> Path:
    root = tmp_path / "isbi"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
        for i in (0, 1, 20):
            shutil.copy(data_dir / f"isbi2012/train/{sub}/slice_{i:02d}.png", root / sub)
    return root


def test_real_split(data_dir):
    dl = folder_datalist(data_dir / "isbi2012/train")
    assert len(dl["training"]) == 20 and len(dl["validation"]) == 5
    assert [Path(d["image"]).name for d in dl["validation"]] == [f"slice_{i}.png" for i in range(20, 25)]
    assert all(Path(d["label"]).parent.name == "labels" for d in dl["training"])
    assert (
        len(folder_datalist(data_dir / "isbi2012/train", val_indices=None, require_training=False)["validation"]) == 25
    )


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match=f"{tmp_path / 'nope'}.*not found.*isbi-2012"):
        folder_datalist(tmp_path / "nope")
    (tmp_path / "images").mkdir()
    (tmp_path / "labels").mkdir()
    with pytest.raises(DatasetError, match="no images found"):
        folder_datalist(tmp_path)


def test_image_without_label(isbi_copy):
    (isbi_copy / "labels/slice_01.png").unlink()
    with pytest.raises(DatasetError, match=r"slice_01\.png: image without a label"):
        folder_datalist(isbi_copy)


def test_label_of_another_size(isbi_copy):
    from PIL import Image

    Image.new("L", (100, 80)).save(isbi_copy / "labels/slice_00.png")
    with pytest.raises(DatasetError, match=r"labels/slice_00.png: label size \(80, 100\) differs"):
        folder_datalist(isbi_copy)


@pytest.mark.parametrize("name, content", [("notes.txt", b"hello"), ("slice_05.png", b"not a png at all")])
def test_non_image_files(isbi_copy, name, content):
    (isbi_copy / "images" / name).write_bytes(content)
    (isbi_copy / "labels" / name).write_bytes(content)
    with pytest.raises(DatasetError, match=name):
        folder_datalist(isbi_copy)


def test_truncated_png(isbi_copy):
    path = isbi_copy / "images/slice_00.png"
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(DatasetError, match=r"slice_00\.png: not a readable image"):
        folder_datalist(isbi_copy)
