"""End to end: ``unet3d plan`` on small real data sets, 2D and 3D, then the bundle it writes
trains (an epoch), passes MONAI's bundle checks, evaluates and segments like a shipped bundle."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import bundle_cmd, run, verify_bundle

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "unet3d.cli"]


def _hippocampus_task(root, data_dir):
    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir(parents=True)
    for i in (1, 3, 4, 6, 8):
        for folder in ("imagesTr", "labelsTr"):
            name = f"hippocampus_{i:03d}.nii.gz"
            shutil.copy(data_dir / "msd_hippocampus" / folder / name, root / folder / name)
    labels = {"0": "background", "1": "anterior", "2": "posterior"}
    (root / "dataset.json").write_text(json.dumps({"name": "Hippocampus", "modality": {"0": "MRI"}, "labels": labels}))
    return root


def _isbi_crops(root, data_dir):
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
        for i in range(6):
            image = Image.open(data_dir / "isbi2012/train" / folder / f"slice_{i:02d}.png")
            image.crop((0, 0, 160, 128)).save(root / folder / f"slice_{i:02d}.png")
    return root


def _check(bundle, case, tmp_path, spatial_dims):
    """Train an epoch, then the shipped bundles' checks, evaluate and segment."""
    from monai.bundle import ConfigWorkflow

    from unet3d.inference.contract import PROPERTIES_FILE

    timings = {}
    start = time.perf_counter()
    res = run(bundle_cmd("run", "training", "--config_file", str(bundle / "configs/train.yaml"), "--max_epochs", "1",
                         "--val_interval", "1"), timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    timings["train 1 epoch"] = time.perf_counter() - start
    assert (bundle / "models/model.pt").is_file()  # published when training completed
    workflow = ConfigWorkflow(config_file=str(bundle / "configs/inference.yaml"), workflow_type="infer",
                              properties_path=str(PROPERTIES_FILE), bundle_root=str(bundle))  # fmt: skip
    workflow.initialize()
    assert workflow.check_properties() == []
    meta = json.loads((bundle / "configs/metadata.json").read_text())
    patch = meta["network_data_format"]["inputs"]["image"]["spatial_shape"]
    assert len(patch) == spatial_dims
    shape = verify_bundle(bundle, tmp_path, (1, 1, *patch))
    assert shape == (1, meta["network_data_format"]["outputs"]["pred"]["num_channels"], *patch)
    start = time.perf_counter()
    res = run(bundle_cmd("run", "--config_file", f"['{bundle}/configs/train.yaml','{bundle}/configs/evaluate.yaml']",
                         "--eval_dir", str(tmp_path / "eval")), timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "eval/summary.json").read_text())
    assert summary["images"] >= 1 and 0.0 <= summary["val_mean_dice"]["mean"] <= 1.0
    timings["evaluate"] = time.perf_counter() - start
    res = subprocess.run([*CLI, "segment", str(case), "--bundle", str(bundle), "--output-dir", str(tmp_path / "out")],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert len(list((tmp_path / "out").glob("*_seg.*"))) == 1
    if spatial_dims == 2:  # masks in the input's own orientation (the crops are not square)
        labels = case.parent.parent / "labels"
        masks = [*(tmp_path / "eval").glob("*_seg.png"), *(tmp_path / "out").glob("*_seg.png")]
        for mask in masks:
            label = Image.open(labels / mask.name.replace("_seg", ""))
            assert Image.open(mask).size == label.size, mask
        assert len(masks) >= 2
    print(f"\n{bundle.name}: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))


def test_plan_3d_trains_checks_and_segments(data_dir, tmp_path):
    task = _hippocampus_task(tmp_path / "Task", data_dir)
    start = time.perf_counter()
    res = subprocess.run([*CLI, "plan", str(task), "--output", str(tmp_path / "bundle"), "--time-budget", "1"],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    print(f"\nplan 3D: {time.perf_counter() - start:.0f} s")
    bundle = tmp_path / "bundle"
    plans = json.loads((bundle / "plans/plans.json").read_text())
    assert plans["patch_size"] == [40, 56, 40] and plans["target_spacing"] == [1.0, 1.0, 1.0]
    assert plans["label_names"] == ["background", "anterior", "posterior"]
    again = subprocess.run([*CLI, "plan", str(task), "--output", str(bundle)], cwd=REPO_ROOT, capture_output=True,
                           text=True)  # fmt: skip
    assert again.returncode == 1 and "exists" in again.stderr  # nothing overwritten without --overwrite
    _check(bundle, task / "imagesTr/hippocampus_001.nii.gz", tmp_path, 3)


def test_plan_2d_trains_checks_and_segments(data_dir, tmp_path):
    task = _isbi_crops(tmp_path / "em", data_dir)
    res = subprocess.run([*CLI, "plan", str(task), "--output", str(tmp_path / "bundle")], cwd=REPO_ROOT,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    plans = json.loads((tmp_path / "bundle/plans/plans.json").read_text())
    assert plans["spatial_dims"] == 2 and plans["label_values"] == [0, 255] and plans["flip_axes"] == [0, 1]
    _check(tmp_path / "bundle", task / "images/slice_00.png", tmp_path, 2)
