"""Tests for unet3d.inferers.tta: the mean over flips/rotations around MONAI's inferers."""

from __future__ import annotations

import torch
from monai.inferers import SimpleInferer, SlidingWindowInferer

from unet3d.inferers import DihedralTTAInferer
from unet3d.networks import UNet


def test_disabled_is_the_wrapped_inferer_and_enabled_is_equivariant():
    torch.manual_seed(0)
    net = UNet(spatial_dims=2, in_channels=1, out_channels=2, features=(4, 8), padding="same", norm="batch").eval()
    x = torch.rand(1, 1, 32, 48)
    inner = SlidingWindowInferer(roi_size=(-1, -1))
    with torch.no_grad():
        torch.testing.assert_close(DihedralTTAInferer(inner, enabled=False)(x, net), inner(x, net))
        y = DihedralTTAInferer(inner)(x, net)
        assert y.shape == (1, 2, 32, 48)
        # averaging over the whole dihedral group makes the result equivariant: a flipped input
        # gives the flipped output
        torch.testing.assert_close(DihedralTTAInferer(inner)(x.flip(-1), net), y.flip(-1), atol=1e-5, rtol=1e-4)


def test_3d_flips_on_a_symmetric_input_give_a_symmetric_result():
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, features=(4, 8), padding="same").eval()
    x = torch.rand(1, 1, 8, 8, 8)
    x = (x + x.flip(2) + x.flip(3) + x.flip(4) + x.flip(2, 3) + x.flip(2, 4) + x.flip(3, 4) + x.flip(2, 3, 4)) / 8
    with torch.no_grad():
        y = DihedralTTAInferer(SimpleInferer())(x, net)
    for dims in ((2,), (3,), (4,)):
        torch.testing.assert_close(y.flip(dims), y, atol=1e-5, rtol=1e-4)


def test_probability_average_is_the_mean_softmax():
    """``average="probabilities"``: the softmax of the output is the mean of the copies' softmax."""
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=3, features=(4, 8), padding="same").eval()
    x = torch.rand(1, 1, 8, 12, 8)
    with torch.no_grad():
        y = DihedralTTAInferer(SimpleInferer(), average="probabilities")(x, net)
        copies = [
            net(x.flip(d)).flip(d) if d else net(x) for d in ((), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4))
        ]
    expected = torch.stack([c.softmax(1) for c in copies]).mean(0)
    torch.testing.assert_close(y.softmax(1), expected, atol=1e-6, rtol=1e-5)
