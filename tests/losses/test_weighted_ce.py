"""Tests for unet3d.losses.weighted_ce."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss

from unet3d.losses import ChannelSelectLoss, WeightMapCrossEntropyLoss


def test_unit_weights_equal_cross_entropy():
    logits = torch.randn(2, 3, 8, 8)
    cls = torch.randint(0, 3, (2, 1, 8, 8)).float()
    loss = WeightMapCrossEntropyLoss()
    expected = F.cross_entropy(logits, cls[:, 0].long())
    torch.testing.assert_close(loss(logits, torch.cat([cls, torch.ones_like(cls)], 1)), expected)
    torch.testing.assert_close(loss(logits, cls), expected)


def test_weights_are_a_weighted_mean():
    logits = torch.randn(1, 2, 4, 4, 4, requires_grad=True)
    cls = torch.randint(0, 2, (1, 1, 4, 4, 4)).float()
    weight = torch.zeros_like(cls)
    weight[0, 0, 1, 2, 3] = 5.0  # only one voxel counts
    value = WeightMapCrossEntropyLoss()(logits, torch.cat([cls, weight], 1))
    single = F.cross_entropy(logits[:, :, 1, 2, 3], cls[:, 0, 1, 2, 3].long())
    torch.testing.assert_close(value, single)
    value.backward()
    assert logits.grad is not None and (logits.grad != 0).sum() == 2  # two classes at one voxel


def test_shape_mismatch_raises():
    with pytest.raises(ValueError, match="does not match"):
        WeightMapCrossEntropyLoss()(torch.randn(1, 2, 8, 8), torch.zeros(1, 2, 6, 6))


def test_channel_select_feeds_monai_loss_the_class_channel():
    logits = torch.randn(2, 2, 8, 8)
    cls = torch.randint(0, 2, (2, 1, 8, 8)).float()
    dice_ce = DiceCELoss(to_onehot_y=True, softmax=True)
    target = torch.cat([cls, torch.rand_like(cls)], 1)
    torch.testing.assert_close(ChannelSelectLoss(dice_ce)(logits, target), dice_ce(logits, cls))
