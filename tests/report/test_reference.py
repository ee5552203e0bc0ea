"""Tests for unet3d.report.reference: the validation reference and the flags it raises."""

from __future__ import annotations

import math

import pytest

from unet3d.report import flags, reference_from_records


def record(volume: float, conf: float | None) -> dict:
    voxels = int(volume)
    return {"labels": {"a": {"value": 1, "voxels": voxels, "volume_mm3": volume}}, "confidence": {"a": conf}}


def test_reference_and_flags():
    validation = [record(v, c) for v, c in [(900, 0.95), (1000, 0.96), (1100, 0.94), (1050, 0.955)]]
    reference = reference_from_records(validation)
    entry = reference["labels"]["a"]
    assert reference["cases"] == 4 and entry["size"] == "volume_mm3" and entry["empty_fraction"] == 0
    assert math.exp(entry["log_size_mean"]) == pytest.approx(1010, rel=0.02)
    assert flags(record(1000, 0.95), reference) == []
    assert flags(record(0, None), reference) == ["a: empty"]
    assert flags(record(5000, 0.95), reference)[0].startswith("a: volume large")
    assert flags(record(100, 0.95), reference)[0].startswith("a: volume small")
    assert flags(record(1000, 0.5), reference)[0].startswith("a: low confidence")


def test_without_reference_only_empty_labels_are_flagged():
    assert flags(record(10**7, 0.1), None) == []
    assert flags(record(0, None), None) == ["a: empty"]


def test_a_label_often_empty_in_validation_is_not_flagged_when_empty():
    reference = reference_from_records([record(0, None), record(100, 0.9), record(120, 0.9)])
    assert flags(record(0, None), reference) == []
