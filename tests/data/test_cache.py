"""Tests for unet3d.data.cache: the datalist's on-disk memo is used, and never hides a changed file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from unet3d.data import DatasetError, nuclei_datalist


@pytest.fixture
def small_set(data_dir, tmp_path):
    root = tmp_path / "N2DH-GOWT1"
    shutil.copytree(data_dir / "ctc_fluo_nuclei/N2DH-GOWT1", root)
    return root


def test_the_memo_is_read_and_keyed_by_the_files(small_set, data_dir, tmp_path, monkeypatch):
    memo = tmp_path / "memo"
    monkeypatch.setenv("UNET3D_CACHE_DIR", str(memo))
    first = nuclei_datalist(small_set)
    (stored,) = memo.glob("nuclei_set-*.json")
    assert nuclei_datalist(small_set) == first
    # the second call read the stored result: what is stored is what it returns
    read = json.loads(stored.read_text())
    read["kinds"] = ["stained"] * len(read["kinds"])
    stored.write_text(json.dumps(read))
    assert {e["modality"] for e in nuclei_datalist(small_set)["training"]} == {"stained"}
    # a changed label is read again: the memo does not hide that it is broken now
    label = next((small_set / "gt").iterdir())
    Image.fromarray(np.zeros((10, 10), np.uint16)).save(label)
    with pytest.raises(DatasetError, match=rf"{label.name}: label size \(10, 10\) differs"):
        nuclei_datalist(small_set)
    # the label restored (its size and time too): the first key again, whose memo is now
    # unreadable, so it is computed again rather than trusted
    shutil.copy2(data_dir / "ctc_fluo_nuclei/N2DH-GOWT1/gt" / label.name, label)
    stored.write_text("{not json")
    assert nuclei_datalist(small_set) == first
    assert json.loads(stored.read_text())["kinds"] != read["kinds"]


def test_the_memo_can_be_turned_off(small_set, tmp_path, monkeypatch):
    monkeypatch.setenv("UNET3D_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert nuclei_datalist(small_set)["validation"]
    assert not (tmp_path / "xdg").exists()
