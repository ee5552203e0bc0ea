"""Tests for unet3d.networks.sizes: the size arithmetic overlap-tile inference relies on."""

from __future__ import annotations

import pytest
import torch

from unet3d.networks import UNet, input_size_for_output, nearest_valid_sizes, output_size


def test_paper_sizes():
    assert output_size([572, 572], depth=4, valid=True) == [388, 388]
    assert input_size_for_output([388], depth=4, valid=True) == [572]
    # the paper's valid inputs are 16k + 12; the smallest gives a 4-pixel output
    assert input_size_for_output([1], depth=4, valid=True) == [188]
    assert output_size([188], depth=4, valid=True) == [4]


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("valid", [True, False])
def test_helpers_agree_with_the_network(depth, valid):
    features = [2 * 2**i for i in range(depth + 1)]
    net = UNet(spatial_dims=2, features=features, padding="valid" if valid else "same").eval()
    for wanted in (1, 7, 30):
        n = input_size_for_output([wanted], depth, valid)[0]
        with torch.no_grad():
            out = net(torch.zeros(1, 1, n, n)).shape[-1]
        assert out == output_size([n], depth, valid)[0] >= wanted
        # smallest: the next accepted size below gives less than wanted (or none is accepted)
        lower, _ = nearest_valid_sizes(n - 1, depth, valid)
        assert lower < 0 or output_size([lower], depth, valid)[0] < wanted


def test_nearest_sizes():
    assert nearest_valid_sizes(573, 4, True) == (572, 588)
    assert nearest_valid_sizes(70, 4, False) == (64, 80)
    assert nearest_valid_sizes(5, 4, True) == (-1, 188)
    with pytest.raises(ValueError, match="nearest accepted sizes: 188"):
        output_size([100], depth=4, valid=True)
    with pytest.raises(ValueError, match="positive"):
        input_size_for_output([0], depth=4, valid=True)


def test_per_axis_strides_sizes():
    strides = [[2, 2, 1], [2, 1, 1]]
    assert output_size([12, 8, 5], depth=2, valid=False, strides=strides) == [12, 8, 5]
    assert input_size_for_output([5, 5, 5], 2, False, strides) == [8, 6, 5]
    assert nearest_valid_sizes(7, 2, False, strides, axis=1) == (6, 8)
    # valid (unpadded) arithmetic: an unpooled level still loses 4 voxels down and 4 up
    assert output_size([20], depth=1, valid=True, strides=[[1]]) == [8]
    assert output_size([20], depth=1, valid=True) == [4]
    with pytest.raises(ValueError, match=r"axis 1 .*pooling it 1 times"):
        output_size([12, 7, 5], depth=2, valid=False, strides=strides)
