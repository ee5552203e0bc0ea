"""Tests for unet3d.transforms.weight_map: the paper's eq. 2 on synthetic and real labels."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from unet3d.transforms import PaperWeightMapd, paper_weight_map


def two_cells(gap: int = 2) -> np.ndarray:
    """1 = boundary (membrane), 0 = cells: two 10-px wide cells separated by a `gap`-px membrane."""
    label = np.ones((20, 40), np.int64)
    label[5:15, 5:15] = 0
    label[5:15, 15 + gap : 25 + gap] = 0
    return label


def test_border_term_matches_the_formula():
    label = two_cells(gap=2)
    w = paper_weight_map(label, boundary_label=1, w0=10, sigma=5, balance=False)
    # a gap pixel at column 15 is 1 px from the left cell and 2 px from the right one
    assert w[10, 15] == pytest.approx(1 + 10 * math.exp(-((1 + 2) ** 2) / 50), rel=1e-5)
    assert np.all(w[label == 0] == 1)  # the border term applies on boundary pixels only
    assert w[0, 39] == pytest.approx(1 + 10 * math.exp(-((np.hypot(5, 12) + np.hypot(5, 24 - 2)) ** 2) / 50), abs=1e-3)


def test_class_balance_term_has_mean_one():
    label = two_cells()
    w = paper_weight_map(label, boundary_label=1, w0=0)
    assert w.mean() == pytest.approx(1.0, rel=1e-6)
    assert w[label == 1][0] < w[label == 0][0]  # the more frequent class weighs less


def test_single_object_has_no_border_term():
    label = np.ones((16, 16), np.int64)
    label[4:10, 4:10] = 0
    np.testing.assert_allclose(paper_weight_map(label, 1, balance=False), 1.0)


def test_3d_and_dictionary_transform():
    label = np.zeros((1, 12, 20, 20), np.float32)
    label[0, 2:10, 2:9, 2:18] = 1
    label[0, 2:10, 11:18, 2:18] = 2  # two touching-ish objects in 3D, background 0
    out = PaperWeightMapd("label", weight_key="weight", boundary_label=0)({"label": torch.from_numpy(label)})
    weight = out["weight"]
    assert isinstance(weight, torch.Tensor) and weight.shape == label.shape and weight.dtype == torch.float32
    assert weight[0, 5, 10, 10] > weight[0, 0, 0, 0] + 5  # the gap between them is weighted up


def test_real_isbi_label(data_dir):
    raw = np.array(Image.open(data_dir / "isbi2012/train/labels/slice_00.png"))
    membrane = (raw == 0).astype(np.int64)
    w = paper_weight_map(membrane, boundary_label=1)
    assert w.shape == raw.shape
    thin = w[membrane == 1]
    assert thin.max() > 8  # thin membranes between touching cells get close to w0 = 10 extra
    assert np.median(w[membrane == 0]) < 1  # cell interior: just the class-balance weight
