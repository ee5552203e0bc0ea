"""End-to-end tests of bundles/em: the user's commands, run as the user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import bundle_cmd, check_layout, run, run_recording_losses, verify_bundle

BUNDLE = REPO_ROOT / "bundles/em"


def train_cmd(data_dir: Path, out: Path, *overrides: str) -> list[str]:
    return bundle_cmd(
        "run", "training", "--config_file", "bundles/em/train.yaml",
        "--dataset_dir", str(data_dir / "isbi2012/train"), "--output_dir", str(out), *overrides,
    )  # fmt: skip


def load(name: str) -> dict:
    return yaml.safe_load((BUNDLE / "configs" / name).read_text())


def test_layout_and_links():
    check_layout(BUNDLE)


def test_inference_repeats_train_exactly():
    train, infer = load("train.yaml"), load("inference.yaml")
    for key in ("network_def", "window_size", "sw_batch_size", "inferer", "spatial_dims", "membrane_threshold",
                "seed_threshold", "min_seed_size"):  # fmt: skip
        assert infer[key] == train[key], key
    assert infer["tta"] is True and train["tta"] is False  # shipped with TTA; validation while training without
    image_steps = [t for t in train["load_transforms"] if t["_target_"] != "unet3d.transforms.MembraneLabeld"]
    ours = [infer["load"], *infer["prepare"]["transforms"]]
    for mine, theirs in zip(ours, image_steps, strict=True):
        assert {k: v for k, v in mine.items() if k != "keys"} == {k: v for k, v in theirs.items() if k != "keys"}
    mask_steps = infer["to_probabilities"]["transforms"] + infer["to_labels"]["transforms"]
    assert mask_steps == train["postprocessing"]["transforms"]
    for key in ("train#trainer", "train#dataset#data", "train#handlers", "validate#evaluator", "validate#dataset#data"):
        node = train
        for part in key.split("#"):
            node = node[part]
    for key in ("bundle_root", "device", "dataset_dir", "output_dir", "network_def", "inferer", "preprocessing",
                "postprocessing", "val_interval", "run", "training"):  # fmt: skip
        assert key in train, key


@pytest.mark.slow
def test_short_training_lowers_the_loss_and_writes_checkpoints(data_dir, tmp_path):
    from monai.bundle import ConfigWorkflow

    wf = ConfigWorkflow(
        config_file=str(BUNDLE / "configs/train.yaml"), workflow_type="train", bundle_root=str(BUNDLE),
        dataset_dir=str(data_dir / "isbi2012/train"), output_dir=str(tmp_path),
        max_epochs=4, samples_per_epoch=4, val_interval=4, learning_rate=3e-3,
    )  # fmt: skip
    _, losses = run_recording_losses(wf)
    first, last = np.mean(losses[:4]), np.mean(losses[-4:])
    assert len(losses) == 16 and last < 0.8 * first, losses
    assert (tmp_path / "checkpoints/checkpoint_epoch=4.pt").is_file()
    assert (tmp_path / "checkpoints/model.pt").is_file()  # best by validation Rand error
    evaluator = wf.parser.get_parsed_content("validate#evaluator")
    assert 0 <= evaluator.state.metrics["val_rand_error"] <= 1


@pytest.mark.slow
def test_interrupted_training_resumes(data_dir, tmp_path):
    cmd = train_cmd(data_dir, tmp_path, "--max_epochs", "3", "--samples_per_epoch", "2", "--val_interval", "10")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = tmp_path / "checkpoints/checkpoint_epoch=1.pt"
    deadline = time.time() + 300
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(0.5)  # let the save finish (written to a temp file, then renamed)
    proc.send_signal(signal.SIGKILL)  # interrupted, no clean-up
    proc.wait()
    assert first.exists()
    res = run(cmd)
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stdout + res.stderr
    assert "checkpoint_epoch=1.pt: epoch 1 of 3 done" in log
    assert "Restored all variables" in log  # CheckpointLoader restores the trainer before its run
    assert "resuming from iteration 2, epoch 1 until 3 epochs" in log  # Ignite names the restored epoch
    assert "Epoch: 2/3" in log and "Epoch: 1/3" not in log  # the finished epoch 1 is not run again
    state = torch.load(tmp_path / "checkpoints/checkpoint_epoch=3.pt", weights_only=True)
    assert state["trainer"]["iteration"] == 6  # 3 epochs x 2 samples: nothing lost, nothing repeated


@pytest.mark.parametrize(
    "problem, pattern",
    [("missing", "nope: dataset folder not found"), ("no_label", "slice_00.png: image without a label")],
)
def test_bad_input_stops_before_training(data_dir, tmp_path, problem, pattern):
    root = tmp_path / "nope"
    if problem == "no_label":
        root = tmp_path / "data"
        (root / "images").mkdir(parents=True)
        (root / "labels").mkdir()
        (root / "images/slice_00.png").write_bytes((data_dir / "isbi2012/train/images/slice_00.png").read_bytes())
    res = run(bundle_cmd("run", "training", "--config_file", "bundles/em/train.yaml", "--dataset_dir", str(root),
                         "--output_dir", str(tmp_path / "out")))  # fmt: skip
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith(f"error: {root}")
    assert pattern in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "out/checkpoints").exists()


def test_verify_net_in_out_export_and_metadata(tmp_path):
    assert verify_bundle("em", tmp_path, (1, 1, 188, 188)) == (1, 2, 4, 4)
    bad = tmp_path / "metadata.json"
    meta = json.loads((BUNDLE / "configs/metadata.json").read_text())
    del meta["network_data_format"]
    bad.write_text(json.dumps(meta))
    res = run(bundle_cmd("verify_metadata", "--meta_file", str(bad), "--filepath", "bundles/meta_schema.json"))
    assert res.returncode != 0


@pytest.mark.slow
def test_shipped_model_meets_the_paper_bar(data_dir, tmp_path):
    """The shipped model's masks for validation slices 20-24, scored independently of MONAI's loaders."""
    res = run(bundle_cmd("run", "--config_file", "['bundles/em/train.yaml','bundles/em/evaluate.yaml']",
                         "--dataset_dir", str(data_dir / "isbi2012/train"), "--eval_dir", str(tmp_path)))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["images"] == 5
    from unet3d.metrics import rand_error

    rand, pixel = [], []
    for i in range(20, 25):
        mask = np.array(Image.open(tmp_path / f"slice_{i}_seg.png"))
        truth = (np.array(Image.open(data_dir / f"isbi2012/train/labels/slice_{i}.png")) == 0).astype(np.uint8)
        assert mask.shape == truth.shape and set(np.unique(mask)) <= {0, 1}
        rand.append(rand_error(truth, mask))
        pixel.append(float(np.mean(truth != mask)))
    assert np.mean(rand) == pytest.approx(summary["val_rand_error"]["mean"], abs=1e-4)
    assert np.mean(pixel) == pytest.approx(summary["val_pixel_error"]["mean"], abs=1e-4)
    # The bar; measured for the shipped model: Rand 0.0253, pixel 0.0747
    assert np.mean(rand) <= 0.05 and np.mean(pixel) <= 0.075, (rand, pixel)
    assert os.path.getsize(tmp_path / "per_image.csv") > 0
