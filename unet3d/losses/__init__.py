"""Losses: the paper's pixel-weighted cross-entropy."""

from unet3d.losses.weighted_ce import ChannelSelectLoss, WeightMapCrossEntropyLoss

__all__ = ["ChannelSelectLoss", "WeightMapCrossEntropyLoss"]
