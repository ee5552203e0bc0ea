"""End-to-end tests of bundles/nuclei: the user's commands, run as the user runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from monai.bundle import ConfigParser

from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import bundle_cmd, check_layout, run, run_recording_losses, verify_bundle

BUNDLE = REPO_ROOT / "bundles/nuclei"
AP50_BAR = 0.77  # a regression guard just below the shipped model's grouped-split figure (docs/README.md)


def load(name: str) -> dict:
    return yaml.safe_load((BUNDLE / "configs" / name).read_text())


def small_set(data_dir: Path) -> Path:
    """Six GOWT1 frames in the img/ + gt/ layout: a data set that loads in seconds."""
    return data_dir / "ctc_fluo_nuclei/N2DH-GOWT1"


def test_layout_and_links():
    check_layout(BUNDLE)


def test_inference_repeats_train_exactly():
    train, infer = load("train.yaml"), load("inference.yaml")
    for key in ("network_def", "spatial_dims", "window_size", "overlap", "blend_mode", "sw_batch_size", "inferer",
                "window_inferer", "object_diameter", "target_diameter", "size_probe_scale", "tta", "threshold",
                "seed_threshold", "min_seed_size", "min_seed_fraction", "keep_unseeded", "min_size", "expand",
                "modality"):  # fmt: skip
        assert infer[key] == train[key], key
    ours = [infer["load"], *infer["prepare"]["transforms"]]
    image_transforms = [t for t in train["load_transforms"] if "image" in t["keys"]]  # not the label's loader
    for mine, theirs in zip(ours[:-1], image_transforms, strict=True):
        assert {k: v for k, v in mine.items() if k != "keys"} == {k: v for k, v in theirs.items() if k != "keys"}
    assert ours[-1] == {"_target_": "DivisiblePadd", "keys": "image", "k": 16, "mode": "symmetric"}
    assert "DivisiblePadd('image', k=16, mode='symmetric')" in train["preprocessing"]["transforms"]
    assert 2 ** (len(infer["network_def"]["features"]) - 1) == 16  # one pass through any padded image
    mask_steps = infer["to_probabilities"]["transforms"] + infer["to_labels"]["transforms"]
    invert = {"transform": "@prepare"}, {"transform": "@preprocessing"}  # each config's own preprocessing
    assert [{**t, **invert[0]} if "transform" in t else t for t in train["postprocessing"]["transforms"]] == [
        {**t, **invert[0]} if "transform" in t else t for t in mask_steps
    ]
    assert mask_steps[1]["transform"] == invert[0]["transform"]
    assert train["postprocessing"]["transforms"][1]["transform"] == invert[1]["transform"]
    for key in ("bundle_root", "device", "dataset_dir", "output_dir", "network_def", "inferer", "preprocessing",
                "postprocessing", "val_interval", "run", "training"):  # fmt: skip
        assert key in train, key


def test_metadata_matches_the_configs():
    meta = json.loads((BUNDLE / "configs/metadata.json").read_text())
    parser = ConfigParser()
    parser.read_config(str(BUNDLE / "configs/train.yaml"))
    out = meta["network_data_format"]["outputs"]["pred"]
    assert out["num_channels"] == parser.get_parsed_content("network_def#out_channels") == len(out["channel_def"])
    assert meta["mask_dtype"] == "uint16"


def test_evaluate_scores_with_the_instance_settings_it_is_given():
    """``--threshold 0.5 --seed_threshold $None`` (the baseline's connected components) must reach
    the shipped pipeline that evaluate builds from inference.yaml, not only train.yaml's copy."""
    from unet3d.transforms import InstanceLabelsd

    parser = ConfigParser()
    parser.read_config([str(BUNDLE / "configs/train.yaml"), str(BUNDLE / "configs/evaluate.yaml")])
    parser.update({"bundle_root": str(BUNDLE), "device": "$torch.device('cpu')", "threshold": 0.5,
                   "seed_threshold": "$None", "keep_unseeded": "true", "min_size": 12})  # fmt: skip
    to_labels = parser.get_parsed_content("shipped").predictor.to_labels
    labeller = next(t for t in to_labels.transforms if isinstance(t, InstanceLabelsd))
    settings = (labeller.threshold, labeller.seed_threshold, labeller.keep_unseeded, labeller.min_size)
    assert settings == (0.5, None, True, 12)


@pytest.mark.slow
def test_short_training_lowers_the_loss_and_writes_checkpoints(data_dir, tmp_path):
    from monai.bundle import ConfigWorkflow

    wf = ConfigWorkflow(
        config_file=str(BUNDLE / "configs/train.yaml"), workflow_type="train", bundle_root=str(BUNDLE),
        dataset_dir=str(small_set(data_dir)), output_dir=str(tmp_path),
        max_epochs=4, samples_per_epoch=8, batch_size=2, val_interval=4, learning_rate=3e-3,
    )  # fmt: skip
    _, losses = run_recording_losses(wf)
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert len(losses) == 16 and last < 0.8 * first, losses
    assert (tmp_path / "checkpoints/checkpoint_epoch=4.pt").is_file()
    assert (tmp_path / "checkpoints/model.pt").is_file()  # best by validation AP@0.5
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    assert 0 <= evaluator.state.metrics["val_ap50"] <= 1


@pytest.mark.slow
def test_interrupted_training_resumes(data_dir, tmp_path):
    cmd = bundle_cmd("run", "training", "--config_file", "bundles/nuclei/train.yaml",
                     "--dataset_dir", str(small_set(data_dir)), "--output_dir", str(tmp_path),
                     "--max_epochs", "3", "--samples_per_epoch", "16", "--batch_size", "2",
                     "--val_interval", "10")  # fmt: skip
    # 8 iterations per epoch: an epoch lasts seconds, so the kill lands inside epoch 2 (with one
    # iteration per epoch the run could finish between the poll and the kill)
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "checkpoints/checkpoint_epoch=1.pt"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert first.exists()
    res = run(cmd)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert "resuming from iteration 8, epoch 1 until 3 epochs" in log
    assert "Epoch: 2/3" in log and "Epoch: 1/3" not in log
    state = torch.load(tmp_path / "checkpoints/checkpoint_epoch=3.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 24  # 3 epochs x 8 iterations: nothing lost, nothing repeated


def test_bad_dataset_stops_before_training(tmp_path):
    (tmp_path / "data").mkdir()
    res = run(bundle_cmd("run", "training", "--config_file", "bundles/nuclei/train.yaml", "--dataset_dir",
                         str(tmp_path / "data"), "--output_dir", str(tmp_path / "out")))  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path / 'data'}: no nuclei data set found")
    assert "Traceback" not in res.stderr and not (tmp_path / "out/checkpoints").exists()


def test_verify_net_in_out_export_and_metadata(tmp_path):
    assert verify_bundle("nuclei", tmp_path, (1, 1, 64, 96)) == (1, 2, 64, 96)


@pytest.mark.slow
def test_shipped_model_meets_the_bar(data_dir, tmp_path):
    """The shipped model's id maps for the validation split, scored independently of MONAI's loaders."""
    from PIL import Image

    from unet3d.data import nuclei_datalist
    from unet3d.metrics import instance_scores

    res = run(bundle_cmd("run", "--config_file", "['bundles/nuclei/train.yaml','bundles/nuclei/evaluate.yaml']",
                         "--dataset_dir", str(data_dir), "--eval_dir", str(tmp_path)), timeout=1200)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    val = nuclei_datalist(data_dir, require_training=False)["validation"]
    assert summary["images"] == len(val) == 138
    ap50 = []
    for entry in val:
        stem = Path(entry["image"]).stem
        ids = np.array(Image.open(tmp_path / f"{stem}_seg.png")).astype(np.int64)
        truth = np.array(Image.open(entry["label"])).astype(np.int64)
        assert ids.shape == truth.shape
        ap50.append(instance_scores(truth, ids)["ap50"])
    assert np.nanmean(ap50) == pytest.approx(summary["val_ap50"]["mean"], abs=1e-4)
    assert set(summary["groups"]) == {e["source"].split("/")[0] + ":" + e["modality"] for e in val}
    # measured for the shipped model: see docs/README.md
    assert np.nanmean(ap50) >= AP50_BAR, np.nanmean(ap50)
    tissue = [a for a, e in zip(ap50, val, strict=True) if e["source"].startswith("he_nuclei")]
    # a guard just below the shipped H&E figure (docs/README.md)
    assert len(tissue) == 6 and np.mean(tissue) >= 0.53, tissue
    # evaluate runs the shipped pipeline: its id maps are the ones `unet3d segment` writes
    from unet3d.inference import segment

    for entry in (val[0], next(e for e in val if "ctc" in e["source"])):
        (written,) = segment([entry["image"]], "bundles/nuclei", tmp_path / "seg", overwrite=True)
        evaluated = tmp_path / f"{Path(entry['image']).stem}_seg.png"
        np.testing.assert_array_equal(np.array(Image.open(written)), np.array(Image.open(evaluated)))
