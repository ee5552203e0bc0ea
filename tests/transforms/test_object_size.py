"""Tests for unet3d.transforms.object_size: objects' median diameter and zooming to a target size."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from unet3d.transforms import RescaleToObjectSized, median_diameter, size_scale


def disks(shape: tuple[int, int], centres: list[tuple[int, int]], radius: float) -> np.ndarray:
    """An instance map of disks, ids 1, 2, ... in the order of ``centres``."""
    yy, xx = np.ogrid[: shape[0], : shape[1]]
    ids = np.zeros(shape, np.int32)
    for i, (y, x) in enumerate(centres, start=1):
        ids[(yy - y) ** 2 + (xx - x) ** 2 <= radius**2] = i
    return ids


def test_median_diameter_of_disks_balls_and_masks():
    ids = disks((200, 200), [(40, 40), (100, 100), (160, 50)], radius=15)
    assert median_diameter(ids) == pytest.approx(30, abs=0.5)
    # a binary mask: its connected components are the objects
    assert median_diameter(ids > 0, is_instance_map=False) == pytest.approx(30, abs=0.5)
    zz, yy, xx = np.ogrid[:40, :40, :40]
    ball = ((zz - 20) ** 2 + (yy - 20) ** 2 + (xx - 20) ** 2 <= 10**2).astype(np.int32)
    assert median_diameter(ball) == pytest.approx(20, abs=0.5)
    assert math.isnan(median_diameter(np.zeros((8, 8), np.int32)))


def test_size_scale_is_clipped_and_neutral_without_objects():
    assert size_scale(36, 18) == 0.5
    assert size_scale(9, 18) == 1.0  # only ever shrinks by default
    assert size_scale(9, 18, max_scale=2.0) == 2.0
    assert size_scale(360, 18) == 0.25
    assert size_scale(math.nan, 18) == 1.0


def test_rescale_to_object_size_shrinks_large_objects_only():
    ids = disks((200, 240), [(50, 50), (100, 150), (150, 60)], radius=18)
    image = torch.tensor(ids > 0, dtype=torch.float32)[None]
    out = RescaleToObjectSized("image", target_diameter=18)({"image": image, "label": torch.tensor(ids)[None]})
    assert out["image"].shape == out["label"].shape
    assert out["image"].shape[1] == pytest.approx(100, abs=1) and out["image"].shape[2] == pytest.approx(120, abs=1)
    assert median_diameter(out["label"][0].numpy()) == pytest.approx(18, abs=1.0)
    assert set(np.unique(out["label"].numpy())) == {0, 1, 2, 3}  # ids survive nearest-neighbour zooming
    small = disks((64, 64), [(20, 20)], radius=5)
    data = {"image": torch.rand(1, 64, 64), "label": torch.tensor(small)[None]}
    assert RescaleToObjectSized("image", target_diameter=18)(data)["image"] is data["image"]
    assert RescaleToObjectSized("image", target_diameter=None)({"image": image, "label": ids})["image"] is image
