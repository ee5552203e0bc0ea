"""Instance segmentation metrics (2D and 3D): DSB2018 average precision, F1, CTC SEG, foreground IoU.

Definitions (``true`` and ``pred`` are integer instance maps, 0 = background):

- **AP at IoU t** (Data Science Bowl 2018): objects are matched one to one when their IoU
  exceeds ``t`` (for ``t >= 0.5`` such a match is unique); ``TP / (TP + FP + FN)``. Both maps
  empty: 1.
- **mean AP**: the mean of AP over ``t = 0.5, 0.55, ..., 0.95``.
- **F1 at 0.5**: ``2 TP / (2 TP + FP + FN)`` with the same matching.
- **SEG** (Cell Tracking Challenge): for every true object ``S``, the predicted object ``R``
  covering more than half of it (``|R & S| > 0.5 |S|``) gives ``J = |R & S| / |R | S|``, else
  ``J = 0``; the mean over true objects. No true object: NaN.
- **foreground IoU**: IoU of the two foreground masks (the paper's measure for PhC-U373 and
  DIC-HeLa). Both empty: 1.

A ground truth that is a binary mask of several objects (e.g. NIH3T3) is not instance truth: the
instance metrics are NaN for it (``EvaluationReport`` and MONAI's reductions skip NaN), only the
foreground IoU is scored.
"""

from __future__ import annotations

import numpy as np
import torch
from monai.utils import MetricReduction

from unet3d.data.nuclei import is_instance_map
from unet3d.metrics.per_image import PerImageMetric

AP_THRESHOLDS = tuple(np.round(np.arange(0.5, 1.0, 0.05), 2))
METRIC_NAMES = ("ap50", "map", "f1", "seg", "fg_iou")


def iou_matrix(true: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """IoU of every pair of overlapping objects.

    Returns:
        ``iou`` of shape ``(n_true, n_pred)`` (objects in order of their ids), the intersections
        (same shape) and the true objects' sizes.
    """
    true, pred = np.asarray(true).ravel(), np.asarray(pred).ravel()
    t_ids, t_inv = np.unique(true, return_inverse=True)
    p_ids, p_inv = np.unique(pred, return_inverse=True)
    joint = np.zeros((len(t_ids), len(p_ids)), np.int64)
    np.add.at(joint, (t_inv, p_inv), 1)
    t_fg, p_fg = t_ids != 0, p_ids != 0
    inter = joint[np.ix_(t_fg, p_fg)]
    t_size, p_size = joint.sum(1)[t_fg], joint.sum(0)[p_fg]
    union = t_size[:, None] + p_size[None, :] - inter
    return inter / np.maximum(union, 1), inter, t_size


def average_precision(true: np.ndarray, pred: np.ndarray, thresholds=AP_THRESHOLDS) -> dict[float, float]:
    """DSB2018 AP, ``TP / (TP + FP + FN)``, at each IoU threshold (all ``>= 0.5``)."""
    iou, _, _ = iou_matrix(true, pred)
    n_true, n_pred = iou.shape
    out = {}
    for t in thresholds:
        tp = int((iou > t).sum())
        denom = n_true + n_pred - tp
        out[float(t)] = tp / denom if denom else 1.0
    return out


def instance_scores(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """All metrics of the module for one image: ``ap50``, ``map``, ``f1``, ``seg``, ``fg_iou``."""
    true, pred = np.asarray(true).astype(np.int64), np.asarray(pred).astype(np.int64)
    if true.shape != pred.shape:
        raise ValueError(f"shapes differ: true {true.shape}, pred {pred.shape}")
    fg_t, fg_p = true > 0, pred > 0
    union = int((fg_t | fg_p).sum())
    scores = {"fg_iou": int((fg_t & fg_p).sum()) / union if union else 1.0}
    if not is_instance_map(true):
        return {"ap50": np.nan, "map": np.nan, "f1": np.nan, "seg": np.nan, **scores}
    iou, inter, t_size = iou_matrix(true, pred)
    ap = average_precision(true, pred)
    n_true, n_pred = iou.shape
    tp = int((iou > 0.5).sum())
    denom = n_true + n_pred
    covered = inter > 0.5 * t_size[:, None]
    seg = float(np.where(covered, iou, 0).max(1, initial=0).mean()) if n_true else np.nan
    return {"ap50": ap[0.5], "map": float(np.mean(list(ap.values()))), "f1": 2 * tp / denom if denom else 1.0,
            "seg": seg, **scores}  # fmt: skip


class InstanceMetric(PerImageMetric):
    """One of :func:`instance_scores`' metrics per image, as a MONAI metric (for ``IgniteMetricHandler``).

    ``y_pred`` and ``y``: instance maps ``(B, 1, *spatial)``. Per-image values ``(B, 1)``, NaN
    where the truth is not an instance map (instance metrics) or has no object (``seg``);
    ``aggregate`` reduces without the NaN.

    Args:
        name: ``ap50``, ``map``, ``f1``, ``seg`` or ``fg_iou``.
        reduction: MONAI reduction of the per-image values.

    Example::

        >>> m = InstanceMetric("ap50")
        >>> m(torch.tensor([[[[1, 1, 0, 2]]]]), torch.tensor([[[[1, 1, 0, 2]]]]))
        tensor([[1.]])
    """

    def __init__(self, name: str = "ap50", reduction: MetricReduction | str = MetricReduction.MEAN) -> None:
        super().__init__(reduction)
        if name not in METRIC_NAMES:
            raise ValueError(f"unknown instance metric {name!r} (choose from {', '.join(METRIC_NAMES)})")
        self.name = name

    def _compute_tensor(self, y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        if y_pred.ndim < 3 or y_pred.shape[1] != 1 or y.shape[1] != 1:
            raise ValueError(f"expected instance maps (B, 1, *spatial), got {tuple(y_pred.shape)}, {tuple(y.shape)}")
        pred, true = y_pred.detach().cpu().numpy(), y.detach().cpu().numpy()
        values = [instance_scores(np.rint(t[0]), np.rint(p[0]))[self.name] for t, p in zip(true, pred, strict=True)]
        return torch.tensor(values, dtype=torch.float32)[:, None]
