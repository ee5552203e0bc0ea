"""Instance metrics against hand-made cases whose values are worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from unet3d.metrics import InstanceMetric, average_precision, instance_scores


def squares(*boxes: tuple[int, int, int, int], shape=(20, 20)) -> np.ndarray:
    out = np.zeros(shape, np.int64)
    for i, (r0, r1, c0, c1) in enumerate(boxes, start=1):
        out[r0:r1, c0:c1] = i
    return out


def test_perfect_and_empty():
    true = squares((0, 4, 0, 4), (10, 14, 10, 14))
    s = instance_scores(true, true)
    assert s == {"ap50": 1.0, "map": 1.0, "f1": 1.0, "seg": 1.0, "fg_iou": 1.0}
    empty = np.zeros((20, 20), np.int64)
    assert instance_scores(empty, empty)["ap50"] == 1.0 and np.isnan(instance_scores(empty, empty)["seg"])
    s = instance_scores(true, empty)
    assert s["ap50"] == 0.0 and s["f1"] == 0.0 and s["seg"] == 0.0 and s["fg_iou"] == 0.0


def test_ids_do_not_matter():
    true = squares((0, 4, 0, 4), (10, 14, 10, 14))
    swapped = np.where(true == 1, 7, np.where(true == 2, 3, 0))
    assert instance_scores(true, swapped)["map"] == 1.0


def test_dsb_counts_one_miss_one_false_positive():
    # true: A (16 px), B (16 px); pred: A exact, C somewhere else -> TP 1, FP 1, FN 1
    true = squares((0, 4, 0, 4), (10, 14, 10, 14))
    pred = squares((0, 4, 0, 4), (0, 4, 10, 14))
    s = instance_scores(true, pred)
    assert s["ap50"] == pytest.approx(1 / 3)
    assert s["f1"] == pytest.approx(2 / 4)
    assert s["seg"] == pytest.approx(0.5)  # A: J = 1, B: no cover -> 0
    assert s["fg_iou"] == pytest.approx(16 / 48)


def test_iou_thresholds_are_strict_and_map_averages_them():
    # pred covers 12 of 16 true pixels and nothing else: IoU 0.75
    true = squares((0, 4, 0, 4))
    pred = squares((0, 3, 0, 4))
    ap = average_precision(true, pred)
    assert ap[0.5] == 1.0 and ap[0.7] == 1.0 and ap[0.75] == 0.0 and ap[0.95] == 0.0
    assert instance_scores(true, pred)["map"] == pytest.approx(5 / 10)  # 0.5 .. 0.7 pass
    # IoU exactly 0.5 is not a match (DSB: IoU > t)
    half = squares((0, 2, 0, 4))
    assert average_precision(true, half)[0.5] == 0.0


def test_merged_prediction_counts_as_one_match_and_a_miss():
    true = squares((0, 4, 0, 4), (0, 4, 4, 8))  # two touching squares
    pred = (true > 0).astype(np.int64)  # one merged object: IoU 0.5 with each
    s = instance_scores(true, pred)
    assert s["ap50"] == 0.0 and s["fg_iou"] == 1.0
    # CTC SEG: the merged object covers more than half of each true object: J = 0.5 each
    assert s["seg"] == pytest.approx(0.5)


def test_binary_truth_is_not_instance_truth():
    binary = (squares((0, 4, 0, 4), (10, 14, 10, 14)) > 0).astype(np.int64) * 255
    s = instance_scores(binary, squares((0, 4, 0, 4), (10, 14, 10, 14)))
    assert np.isnan(s["ap50"]) and np.isnan(s["seg"]) and s["fg_iou"] == 1.0


def test_monai_metric_batches_and_skips_nan():
    true = torch.from_numpy(squares((0, 4, 0, 4), (10, 14, 10, 14)))[None, None].float()
    binary = (true > 0).float()
    pred = torch.from_numpy(squares((0, 4, 0, 4)))[None, None].float()
    metric = InstanceMetric("ap50")
    values = metric(torch.cat([pred, pred]), torch.cat([true, binary]))
    assert values[0, 0] == pytest.approx(0.5) and torch.isnan(values[1, 0])
    assert metric.aggregate().item() == pytest.approx(0.5)
    with pytest.raises(ValueError, match="unknown instance metric"):
        InstanceMetric("dice")
