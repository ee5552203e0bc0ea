"""Tests for unet3d.inferers.overlap_tile: exact, seamless coverage of any image size."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unet3d.inferers import DihedralTTAInferer, OverlapTileInferer, mirror_pad
from unet3d.inferers.tta import dihedral_transforms
from unet3d.networks import UNet


def one_pass(net: UNet, x: torch.Tensor) -> torch.Tensor:
    """The network applied once to the whole mirror-padded image: what overlap-tiles must equal."""
    sizes = list(x.shape[2:])
    need = net.input_size_for_output(sizes)
    b = net.border()
    padded = mirror_pad(x, [(b, n - s - b) for n, s in zip(need, sizes, strict=True)])
    y = net(padded)
    for axis, s in enumerate(sizes):
        y = y.narrow(axis + 2, 0, s)
    return y


@pytest.mark.parametrize("size", [(512, 512), (100, 130), (37, 300)])
def test_2d_tiles_equal_one_pass(size):
    torch.manual_seed(0)
    net = UNet(2, 1, 2, features=(4, 8, 16, 32, 64)).eval()
    x = torch.rand(1, 1, *size)
    with torch.no_grad():
        y = OverlapTileInferer(roi_size=252, sw_batch_size=3)(x, net)  # 252 -> 68 px output tiles
        torch.testing.assert_close(y, one_pass(net, x), rtol=1e-5, atol=1e-5)
    assert y.shape == (1, 2, *size)


def test_3d_and_batch():
    torch.manual_seed(0)
    net = UNet(3, 1, 3, features=(2, 4, 8)).eval()  # depth 2, border 20
    x = torch.rand(2, 1, 30, 17, 45)
    with torch.no_grad():
        y = OverlapTileInferer(roi_size=[56, 56, 56], sw_batch_size=2)(x, net)
        torch.testing.assert_close(y, one_pass(net, x), rtol=1e-5, atol=1e-5)
    assert y.shape == (2, 3, 30, 17, 45)


def test_tta_around_overlap_tiles_averages_the_dihedral_group():
    """The one TTA mechanism (DihedralTTAInferer) wraps overlap-tiles as any window inferer."""
    torch.manual_seed(0)
    net = UNet(2, 1, 2, features=(4, 8, 16)).eval()
    x = torch.rand(1, 1, 40, 50)
    with torch.no_grad():
        y = DihedralTTAInferer(OverlapTileInferer(roi_size=100))(x, net)
        manual = []
        for k, flip in dihedral_transforms(2):
            t = torch.flip(torch.rot90(x, k, (-2, -1)), flip) if flip else torch.rot90(x, k, (-2, -1))
            p = one_pass(net, t.contiguous())
            p = torch.flip(p, flip) if flip else p
            manual.append(torch.rot90(p, -k, (-2, -1)))
    torch.testing.assert_close(y, torch.stack(manual).mean(0), rtol=1e-5, atol=1e-5)
    assert len(dihedral_transforms(2)) == len(dihedral_transforms(3)) == 8


def test_mirror_pad_beyond_the_image_matches_numpy():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    ours = mirror_pad(x, [(7, 2), (1, 9)])
    ref = np.pad(x.numpy(), [(0, 0), (0, 0), (7, 2), (1, 9)], mode="reflect")
    np.testing.assert_array_equal(ours.numpy(), ref)


def test_bad_roi_raises():
    net = UNet(2, 1, 2, features=(4, 8, 16)).eval()
    with pytest.raises(ValueError, match="not accepted"):
        OverlapTileInferer(roi_size=101)(torch.rand(1, 1, 50, 50), net)


def test_geometry_is_resolved_per_setting():
    """``valid=None`` with a given depth reads ``valid`` from the network (it used to mean False);
    a network without the attributes is an error that names them."""
    from unet3d.inferers import TiledNetwork, network_geometry

    net = UNet(spatial_dims=2, features=(4, 8, 16), padding="valid")
    assert isinstance(net, TiledNetwork)
    assert network_geometry(net, depth=2) == (2, True)
    assert network_geometry(net, valid=False) == (2, False)
    with pytest.raises(ValueError, match="has no depth and valid"):
        network_geometry(torch.nn.Conv2d(1, 2, 3))
    assert network_geometry(torch.nn.Conv2d(1, 2, 3), depth=1, valid=False) == (1, False)
