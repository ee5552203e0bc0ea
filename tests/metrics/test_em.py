"""Tests for unet3d.metrics.em on the real ISBI 2012 labels."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from unet3d.metrics import PixelError, RandError, rand_error


@pytest.fixture(scope="module")
def membrane(data_dir) -> np.ndarray:
    return (np.array(Image.open(data_dir / "isbi2012/train/labels/slice_20.png")) == 0).astype(np.uint8)


def test_rand_error_of_perfect_and_thicker_boundaries(membrane):
    assert rand_error(membrane, membrane) == 0.0
    thicker = ndimage.binary_dilation(membrane).astype(np.uint8)
    assert rand_error(membrane, thicker) < 0.01  # zero-width boundaries: thickness barely matters


def test_rand_error_punishes_merges_and_blank_predictions(membrane):
    assert rand_error(membrane, np.zeros_like(membrane)) > 0.9  # everything one cell
    broken = ndimage.binary_erosion(membrane, iterations=2).astype(np.uint8)  # gaps merge cells
    assert rand_error(membrane, broken) > 0.3


def test_metrics_as_monai_cumulative_metrics(membrane):
    true = torch.from_numpy(membrane)[None, None].float()
    pred = true.clone()
    pred[..., :10, :] = 1 - pred[..., :10, :]  # flip 10 rows
    pixel = PixelError()
    pixel(y_pred=torch.cat([pred, true]), y=torch.cat([true, true]))
    per_image = pixel.get_buffer()
    assert per_image.shape == (2, 1)
    assert per_image[0, 0].item() == pytest.approx(10 / 512) and per_image[1, 0].item() == 0
    assert pixel.aggregate().item() == pytest.approx(5 / 512)
    rand = RandError()
    onehot = torch.cat([1 - true, true], dim=1)  # (B, 2, H, W) is argmax-ed
    rand(y_pred=onehot, y=true)
    assert rand.aggregate().item() == 0.0
