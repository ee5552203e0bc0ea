"""Pixel-weighted cross-entropy, the U-Net paper's loss (eq. 1 of Ronneberger et al. 2015)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


class WeightMapCrossEntropyLoss(nn.Module):
    """Cross-entropy of the softmax over classes, each pixel weighted by a precomputed map.

    MONAI's ``DiceCELoss``/``torch.nn.CrossEntropyLoss`` take per-class weights only; the paper
    weights each pixel (``unet3d.transforms.PaperWeightMapd``), so the map travels with the label:
    the target holds the class index in channel 0 and the weight in channel 1
    (``ConcatItemsd(keys=["label", "weight"], name="label")``). A one-channel target is
    unweighted cross-entropy.

    The loss is ``sum_x w(x) * -log p_{l(x)}(x) / sum_x w(x)``: a weighted mean, so its scale does
    not depend on the tile size or on the weight map's mean.

    Args:
        input: logits ``(N, C, *spatial)``.
        target: ``(N, 1 or 2, *spatial)``: class index, optionally followed by the weight.

    Example::

        >>> loss = WeightMapCrossEntropyLoss()
        >>> loss(torch.randn(2, 2, 8, 8), torch.cat([torch.randint(0, 2, (2, 1, 8, 8)), torch.ones(2, 1, 8, 8)], 1))
    """

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if target.shape[0] != input.shape[0] or target.shape[2:] != input.shape[2:]:
            raise ValueError(f"target shape {tuple(target.shape)} does not match input {tuple(input.shape)}")
        ce = F.cross_entropy(input, target[:, 0].long(), reduction="none")
        if target.shape[1] == 1:
            return ce.mean()
        weight = target[:, 1]
        return (ce * weight).sum() / weight.sum().clamp_min(1e-8)


class ChannelSelectLoss(nn.Module):
    """Apply ``loss`` to the first ``channels`` channels of the target only.

    Lets a standard MONAI loss (e.g. ``DiceCELoss``) train from the same data pipeline as
    :class:`WeightMapCrossEntropyLoss`, whose targets carry the weight map as an extra channel.
    """

    def __init__(self, loss: nn.Module, channels: int = 1) -> None:
        super().__init__()
        self.loss = loss
        self.channels = channels

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss(input, target[:, : self.channels])
