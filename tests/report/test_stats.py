"""Tests for unet3d.report.stats: label sizes, confidence, and sizes read back from mask files."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from unet3d.report import confidence, label_statistics, mask_statistics, reported_labels

NAMES = {0: "background", 1: "anterior", 2: "posterior"}


def test_3d_volumes_use_the_voxel_size():
    mask = np.zeros((10, 12, 14), np.uint8)
    mask[2:5, 2:6, 3:8] = 1  # 60 voxels
    mask[6:8, 6:8, 6:8] = 2  # 8 voxels
    stats = label_statistics(mask, (0.5, 1.0, 2.0), NAMES)
    assert list(stats) == ["anterior", "posterior"]  # background is not reported
    assert stats["anterior"]["voxels"] == 60 and stats["anterior"]["volume_mm3"] == pytest.approx(60.0)
    assert stats["posterior"]["volume_ml"] == pytest.approx(0.008)


def test_2d_objects_are_connected_components_or_instance_ids():
    mask = np.zeros((20, 20), np.uint16)
    mask[1:4, 1:4] = 1
    mask[10:12, 10:12] = 1  # two blobs of label 1
    stats = label_statistics(mask, (1.0, 1.0), {0: "background", 1: "nucleus"})
    assert stats["nucleus"]["objects"] == 2 and stats["nucleus"]["area_px"] == 13
    mask[10:12, 10:12] = 7  # instance ids 1 and 7
    instances = label_statistics(mask, (1.0, 1.0), {0: "background", 1: "nucleus"}, instances=True)
    assert instances == {"nucleus": {"value": 1, "voxels": 13, "area_px": 13, "objects": 2}}


def test_unnamed_labels_and_a_named_label_zero_are_reported():
    assert reported_labels({0: "cell interior", 1: "membrane"}, [0, 1], False) == {0: "cell interior", 1: "membrane"}
    assert reported_labels({0: "background"}, [0, 3], False) == {3: "label 3"}


def test_confidence_is_the_mean_top_probability_inside_each_label():
    mask = np.array([[0, 1], [1, 2]])
    probs = np.array([[[0.9, 0.2], [0.3, 0.1]], [[0.05, 0.8], [0.6, 0.2]], [[0.05, 0.0], [0.1, 0.7]]])
    assert confidence(probs, mask, {1: "a", 2: "b", 3: "c"}) == pytest.approx({"a": 0.7, "b": 0.7, "c": None})


def test_mask_files_read_back(tmp_path):
    mask = np.zeros((6, 7, 8), np.uint8)
    mask[1:3, 1:3, 1:3] = 2
    nib.save(nib.Nifti1Image(mask, np.diag([0.8, 0.8, 1.5, 1.0])), tmp_path / "a_seg.nii.gz")
    stats, spacing = mask_statistics(tmp_path / "a_seg.nii.gz", NAMES)
    assert spacing == pytest.approx((0.8, 0.8, 1.5))
    assert stats["posterior"]["volume_mm3"] == pytest.approx(8 * 0.8 * 0.8 * 1.5)
    assert stats["anterior"]["voxels"] == 0
    png = np.zeros((5, 9), np.uint8)  # rows, columns
    png[0, :4] = 1
    Image.fromarray(png).save(tmp_path / "b_seg.png")
    stats, _ = mask_statistics(tmp_path / "b_seg.png", {1: "membrane"})
    assert stats["membrane"] == {"value": 1, "voxels": 4, "area_px": 4, "objects": 1}
    (tmp_path / "c_seg.png").write_text("not a png")
    with pytest.raises(ValueError, match=r"c_seg\.png: not a readable mask"):
        mask_statistics(tmp_path / "c_seg.png", NAMES)
