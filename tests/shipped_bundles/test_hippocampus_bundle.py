"""End-to-end tests of bundles/hippocampus: the user's commands, run as the user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import (
    bundle_cmd,
    check_inference_repeats_train,
    check_layout,
    run,
    run_recording_losses,
    verify_bundle,
)

BUNDLE = REPO_ROOT / "bundles/hippocampus"


def test_layout_and_links():
    check_layout(BUNDLE)


def test_inference_repeats_train_exactly():
    train, _ = check_inference_repeats_train(BUNDLE, ("network_def", "spatial_dims", "pixdim"))
    for key in ("bundle_root", "device", "dataset_dir", "output_dir", "network_def", "inferer", "preprocessing",
                "postprocessing", "val_interval", "run", "training"):  # fmt: skip
        assert key in train, key
    assert {"trainer", "dataset", "handlers"} <= set(train["train"]) and "evaluator" in train["validate"]


def test_datalist_split_is_fixed(data_dir):
    from unet3d.data import msd_datalist

    datalist = msd_datalist(data_dir / "msd_hippocampus")
    assert len(datalist["training"]) == 166 and len(datalist["validation"]) == 42
    assert Path(datalist["validation"][0]["image"]).name == "hippocampus_001.nii.gz"
    assert not {d["image"] for d in datalist["training"]} & {d["image"] for d in datalist["validation"]}


@pytest.mark.slow
def test_short_training_lowers_the_loss_and_writes_checkpoints(data_dir, tmp_path):
    from monai.bundle import ConfigWorkflow

    wf = ConfigWorkflow(
        config_file=str(BUNDLE / "configs/train.yaml"), workflow_type="train", bundle_root=str(BUNDLE),
        dataset_dir=str(data_dir / "msd_hippocampus"), output_dir=str(tmp_path), max_epochs=6, val_interval=6,
        **{"train#datalist": "$@datalist['training'][:4]", "validate#datalist": "$@datalist['validation'][:2]"},
    )  # fmt: skip
    _, losses = run_recording_losses(wf)
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert len(losses) == 12 and last < 0.85 * first, losses
    assert (tmp_path / "checkpoints/checkpoint_epoch=6.pt").is_file()
    assert (tmp_path / "checkpoints/model.pt").is_file()  # best by validation mean Dice
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    assert 0 <= evaluator.state.metrics["val_mean_dice"] <= 1


@pytest.mark.parametrize("problem", ["missing", "shape"])
def test_bad_input_stops_before_training(data_dir, tmp_path, problem):
    root = tmp_path / "nope"
    if problem == "shape":
        root = tmp_path / "task"
        for sub in ("imagesTr", "labelsTr"):
            (root / sub).mkdir(parents=True)
        src = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
        shutil.copy(src, root / "imagesTr/case.nii.gz")
        nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)), root / "labelsTr/case.nii.gz")
    res = run(bundle_cmd("run", "training", "--config_file", "bundles/hippocampus/train.yaml", "--dataset_dir",
                         str(root), "--output_dir", str(tmp_path / "out")))  # fmt: skip
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {root}") and "Traceback" not in res.stderr
    expected = "dataset folder not found" if problem == "missing" else "label shape (5, 5, 5) differs"
    assert expected in last
    assert not (tmp_path / "out/checkpoints").exists()


def test_verify_net_in_out_export_and_metadata(tmp_path):
    assert verify_bundle("hippocampus", tmp_path, (1, 1, 40, 56, 40)) == (1, 3, 40, 56, 40)


@pytest.mark.slow
def test_shipped_model_dice_on_the_validation_split(data_dir, tmp_path):
    """Masks written in each volume's own geometry, scored here against the stored labels."""
    configs = "['bundles/hippocampus/train.yaml','bundles/hippocampus/evaluate.yaml']"
    res = run(bundle_cmd("run", "--config_file", configs, "--dataset_dir", str(data_dir / "msd_hippocampus"),
                         "--eval_dir", str(tmp_path)))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["images"] == 42
    dice: list[list[float]] = []
    for case in sorted(data_dir.glob("msd_hippocampus/labelsTr/*.nii.gz"))[::5]:
        truth_img = nib.load(case)
        mask_img = nib.load(tmp_path / case.name.replace(".nii.gz", "_seg.nii.gz"))
        assert mask_img.shape == truth_img.shape
        np.testing.assert_allclose(mask_img.affine, truth_img.affine, atol=1e-5)
        truth, mask = np.asarray(truth_img.dataobj), np.asarray(mask_img.dataobj)
        dice.append([2 * np.sum((truth == c) & (mask == c)) / (np.sum(truth == c) + np.sum(mask == c)) for c in (1, 2)])
    per_class = np.mean(dice, axis=0)
    assert np.mean(per_class) == pytest.approx(summary["val_mean_dice"]["mean"], abs=1e-4)
    assert per_class[0] == pytest.approx(summary["val_mean_dice_anterior"]["mean"], abs=1e-4)
    assert np.mean(per_class) >= 0.88, per_class
    # evaluate runs the shipped pipeline: its mask is the one `unet3d segment` writes
    from unet3d.inference import segment

    first = sorted(data_dir.glob("msd_hippocampus/imagesTr/*.nii.gz"))[0]
    (written,) = segment([first], "bundles/hippocampus", tmp_path / "seg")
    evaluated = tmp_path / first.name.replace(".nii.gz", "_seg.nii.gz")
    np.testing.assert_array_equal(np.asarray(nib.load(written).dataobj), np.asarray(nib.load(evaluated).dataobj))
