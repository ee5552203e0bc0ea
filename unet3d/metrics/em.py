"""EM segmentation metrics of the ISBI 2012 challenge as MONAI metrics: pixel error and Rand error."""

from __future__ import annotations

import numpy as np
import torch
from monai.utils import MetricReduction
from skimage.measure import label as connected_components
from skimage.metrics import adapted_rand_error
from skimage.segmentation import expand_labels

from unet3d.metrics.per_image import PerImageMetric


def _as_label_map(x: torch.Tensor) -> torch.Tensor:
    """``(B, 1, *spatial)`` labels from labels or from one-hot / probabilities ``(B, C, *spatial)``."""
    if x.ndim < 3:
        raise ValueError(f"expected (B, C, *spatial), got shape {tuple(x.shape)}")
    return x.argmax(dim=1, keepdim=True) if x.shape[1] > 1 else x.round()


def rand_error(membrane_true: np.ndarray, membrane_pred: np.ndarray) -> float:
    """ISBI 2012 Rand error (1 - V_rand F-score) of two membrane masks (1 = membrane, 0 = cell).

    Ground-truth cells are the 4-connected (6 in 3D) components of the non-membrane pixels;
    membrane pixels are ignored. Predicted cells are the components of the predicted non-membrane,
    grown (``skimage.segmentation.expand_labels``) to fill the predicted membrane: zero-width
    boundaries, the role of the challenge's border thinning. Without growing, every predicted
    membrane pixel would count as one giant merged segment.
    """
    gt_cells = connected_components(membrane_true == 0, connectivity=1)
    pred_cells = connected_components(membrane_pred == 0, connectivity=1)
    if pred_cells.max() > 0:
        pred_cells = expand_labels(pred_cells, distance=max(membrane_pred.shape))
    error, _, _ = adapted_rand_error(gt_cells, pred_cells, ignore_labels=(0,))
    return float(error)


class _PerImageMetric(PerImageMetric):
    def __init__(self, reduction: MetricReduction | str = MetricReduction.MEAN, membrane_label: int = 1) -> None:
        super().__init__(reduction)
        self.membrane_label = membrane_label

    def _score(self, true: np.ndarray, pred: np.ndarray) -> float:
        raise NotImplementedError

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        pred, true = _as_label_map(y_pred), _as_label_map(y)
        if pred.shape != true.shape:
            raise ValueError(f"y_pred {tuple(pred.shape)} and y {tuple(true.shape)} differ in shape")
        scores = []
        for p, t in zip(pred.detach().cpu().numpy(), true.detach().cpu().numpy(), strict=True):
            scores.append(self._score((t[0] == self.membrane_label).astype(np.uint8), (p[0] == self.membrane_label)))
        return torch.tensor(scores, dtype=torch.float32, device=y_pred.device)[:, None]


class PixelError(_PerImageMetric):
    """ISBI 2012 pixel error: the fraction of pixels whose membrane/cell decision is wrong.

    ``y_pred`` and ``y``: ``(B, 1, *spatial)`` label maps (``membrane_label`` = membrane) or
    ``(B, C, *spatial)`` one-hot/probabilities. Per-image values ``(B, 1)``; ``aggregate`` reduces.
    """

    def _score(self, true: np.ndarray, pred: np.ndarray) -> float:
        return float(np.mean(true.astype(bool) != pred.astype(bool)))


class RandError(_PerImageMetric):
    """ISBI 2012 Rand error in the V_rand sense (see :func:`rand_error`), per image.

    ``y_pred`` and ``y`` as for :class:`PixelError`.
    """

    def _score(self, true: np.ndarray, pred: np.ndarray) -> float:
        return rand_error(true, pred.astype(np.uint8))
