"""The shared per-image metric base: values buffered per image, reduced by ``aggregate``."""

from __future__ import annotations

import torch

from unet3d.metrics import InstanceMetric, PixelError


def test_aggregate_reduces_per_image_values_and_leaves_out_nan():
    metric = PixelError()
    true = torch.zeros(2, 1, 4, 4)
    pred = true.clone()
    pred[1, 0, :2] = 1  # half the pixels of the second image wrong
    assert torch.allclose(metric(pred, true), torch.tensor([[0.0], [0.5]]))
    assert float(metric.aggregate()) == 0.25 and float(metric.aggregate("sum")) == 0.5
    seg = InstanceMetric("seg")  # NaN where the truth has no object
    seg(torch.tensor([[[[1, 1, 0, 0]]]]), torch.tensor([[[[1, 1, 0, 0]]]]))
    seg(torch.tensor([[[[1, 0, 0, 0]]]]), torch.zeros(1, 1, 1, 4))
    assert float(seg.aggregate()) == 1.0
