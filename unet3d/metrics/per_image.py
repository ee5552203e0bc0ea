"""The base of this project's MONAI metrics: one value per image, reduced by ``aggregate``."""

from __future__ import annotations

import torch
from monai.metrics import CumulativeIterationMetric
from monai.metrics.utils import do_metric_reduction
from monai.utils import MetricReduction


class PerImageMetric(CumulativeIterationMetric):
    """A metric whose ``_compute_tensor`` gives ``(B, 1)`` per-image values; ``aggregate``
    reduces the buffered values with MONAI's ``do_metric_reduction`` (NaN left out).

    Args:
        reduction: MONAI reduction of the per-image values (default: mean).
    """

    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN) -> None:
        super().__init__()
        self.reduction = reduction

    def aggregate(self, reduction: MetricReduction | str | None = None) -> torch.Tensor:
        data = self.get_buffer()
        if not isinstance(data, torch.Tensor):
            raise ValueError("the data to aggregate must be a PyTorch Tensor")
        f, _ = do_metric_reduction(data, reduction or self.reduction)
        return f
