"""Tests for unet3d.inferers.fitted_window: windows that grow with the input."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SlidingWindowInferer

from unet3d.inferers import FittedWindowInferer
from unet3d.networks import UNet


def test_window_sizes():
    inferer = FittedWindowInferer((40, 56, 40), (128, 128, 128), overlap=0.25)
    assert inferer.window_for((35, 51, 35)) == (40, 56, 40)  # never below the training patch
    assert inferer.window_for((43, 59, 47)) == (48, 64, 48)  # rounded up to multiples of 8
    assert inferer.window_for((512, 512, 200)) == (128, 128, 128)  # never above the maximum
    with pytest.raises(ValueError, match="at least roi_size"):
        FittedWindowInferer((40, 56, 40), (32, 64, 64))


def test_small_inputs_are_inferred_as_by_sliding_windows_and_large_ones_with_larger_windows():
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, features=(4, 8, 16, 32), padding="same", norm="instance")
    net.eval()
    settings = {"overlap": 0.25, "mode": "gaussian", "sw_batch_size": 2}
    fitted = FittedWindowInferer((16, 16, 16), (32, 32, 32), **settings)
    small = torch.rand(1, 1, 14, 16, 12)
    with torch.no_grad():
        assert torch.equal(fitted(small, net), SlidingWindowInferer((16, 16, 16), **settings)(small, net))
        large = torch.rand(1, 1, 40, 24, 30)
        calls = []

        def counted(x: torch.Tensor) -> torch.Tensor:
            calls.append(tuple(x.shape[2:]))
            return net(x)

        out = fitted(large, counted)
        assert out.shape == (1, 2, 40, 24, 30)
        assert set(calls) == {(32, 24, 32)}  # windows fitted to the input, capped at 32
        assert torch.allclose(out, SlidingWindowInferer((32, 24, 32), **settings)(large, net))
