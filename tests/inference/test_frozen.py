"""The fast inference copy computes what the shipped networks compute, and leaves them as they were."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.conftest import REPO_ROOT
from unet3d.inference import BundlePredictor
from unet3d.inference.frozen import (
    PairwiseMaxPool,
    ShuffledUpConv,
    fast_resampling,
    frozen,
    instance_norms_as_group_norms,
)
from unet3d.networks import UNet


@pytest.mark.parametrize("bundle, shape", [("hippocampus", (2, 1, 40, 56, 40)), ("em", (1, 1, 572, 572))])
def test_frozen_copy_of_the_shipped_networks_gives_the_same_logits(bundle, shape):
    net = BundlePredictor(REPO_ROOT / "bundles" / bundle, device="cpu").network
    kinds = {type(m) for m in net.modules()}
    copy = frozen(net)
    assert isinstance(copy, torch.jit.ScriptModule)
    assert (copy.depth, copy.valid) == (net.depth, net.valid)
    assert {type(m) for m in net.modules()} == kinds  # the bundle's own network is untouched
    ops = str(copy.inlined_graph)  # the copy runs the fast forms, not PyTorch's pooling and up-convolution
    assert "max_pool" not in ops and "conv_transpose" not in ops and "maximum" in ops
    x = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = net(x)
        assert ref.std() > 0.1  # real logits, not a flat map that anything would match
        assert torch.allclose(copy(x), ref, atol=1e-4), (copy(x) - ref).abs().max()


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_instance_norms_become_equivalent_group_norms(spatial_dims):
    norm = ("instance", {"affine": True})
    net = UNet(spatial_dims=spatial_dims, in_channels=1, out_channels=2, features=(8, 16), padding="same", norm=norm)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.modules.instancenorm._InstanceNorm):
                m.weight.normal_()  # affine weights that matter
                m.bias.normal_()
    net.eval()
    count = sum(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in net.modules())
    x = torch.randn(2, 1, *([24] * spatial_dims))
    with torch.no_grad():
        ref = net(x)
        swapped = instance_norms_as_group_norms(net)
        assert not any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in swapped.modules())
        assert sum(isinstance(m, nn.GroupNorm) for m in swapped.modules()) == count == 6  # 2 per double conv
        assert torch.allclose(swapped(x), ref, atol=1e-5)


def test_instance_norms_with_running_statistics_are_kept():
    net = nn.Sequential(nn.Conv3d(1, 4, 3), nn.InstanceNorm3d(4, track_running_stats=True))
    assert isinstance(instance_norms_as_group_norms(net)[1], nn.InstanceNorm3d)


@pytest.mark.parametrize("shape", [(2, 3, 9, 10), (2, 3, 8, 11, 7), (1, 16, 40, 56, 40)])
def test_pairwise_max_pool_equals_max_pool(shape):
    pool = (nn.MaxPool2d if len(shape) == 4 else nn.MaxPool3d)(2, 2)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    x[0, 0, 1, 1] = float("nan")  # NaN propagates in both
    ref = pool(x)
    out = PairwiseMaxPool()(x)
    assert out.shape == ref.shape  # odd sizes drop their last voxel, as max-pooling does
    assert torch.equal(out.nan_to_num(7.0), ref.nan_to_num(7.0)) and out.isnan().sum() == ref.isnan().sum() > 0
    assert torch.equal(torch.jit.script(PairwiseMaxPool())(x).nan_to_num(7.0), ref.nan_to_num(7.0))


@pytest.mark.parametrize("spatial_dims, bias", [(2, True), (3, True), (3, False)])
def test_shuffled_up_conv_equals_transposed_conv(spatial_dims, bias):
    torch.manual_seed(2)
    up = (nn.ConvTranspose2d if spatial_dims == 2 else nn.ConvTranspose3d)(8, 4, kernel_size=2, stride=2, bias=bias)
    x = torch.randn(2, 8, *([5, 6, 7][:spatial_dims]))
    with torch.no_grad():
        ref = up(x)
        out = ShuffledUpConv(up)(x)
        assert out.shape == ref.shape == (2, 4, *([10, 12, 14][:spatial_dims]))
        assert torch.allclose(out, ref, atol=1e-6)
        assert torch.allclose(torch.jit.script(ShuffledUpConv(up))(x), ref, atol=1e-6)


def test_fast_resampling_swaps_only_what_it_can_replace_exactly():
    net = nn.Sequential(
        nn.MaxPool3d(2, 2),
        nn.MaxPool3d(3, 2),  # other kernel
        nn.MaxPool3d(2, 2, ceil_mode=True),  # other rounding
        nn.ConvTranspose3d(4, 2, 2, 2),
        nn.ConvTranspose3d(4, 2, 3, 2),  # overlapping blocks
        nn.ConvTranspose3d(4, 2, 2, 2, groups=2),
    )
    kinds = [type(m) for m in fast_resampling(net)]
    kept_up = nn.ConvTranspose3d
    assert kinds == [PairwiseMaxPool, nn.MaxPool3d, nn.MaxPool3d, ShuffledUpConv, kept_up, kept_up]
