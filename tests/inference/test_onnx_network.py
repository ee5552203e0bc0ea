"""The ONNX export of each bundle with weights, run through onnxruntime: the same masks as PyTorch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.inference import BundlePredictor
from unet3d.inference.onnx_network import OnnxNetwork, export_onnx, settings_path
from unet3d.io import read_volume

pytest.importorskip("onnxruntime")

# a real input per bundle: an ISBI slice (EM), an H&E tissue region (nuclei), an MSD volume (hippocampus)
CASES = {
    "em": "isbi2012/train/images/slice_20.png",
    "nuclei": "he_nuclei/monuseg2018_train/TCGA-A7-A13E-01Z-00-DX1/images/TCGA-A7-A13E-01Z-00-DX1.png",
    "hippocampus": "msd_hippocampus/imagesTr/hippocampus_001.nii.gz",
}


def _copy(bundle: str, tmp_path):
    return shutil.copytree(REPO_ROOT / "bundles" / bundle, tmp_path / bundle, symlinks=True)


def dice(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean Dice over the foreground labels either mask has (instance ids: foreground vs background)."""
    a, b = a.numpy(), b.numpy()
    values = [v for v in np.union1d(np.unique(a), np.unique(b)) if v != 0]
    scores = [2 * np.sum((a == v) & (b == v)) / (np.sum(a == v) + np.sum(b == v)) for v in values]
    return float(np.mean(scores)) if scores else 1.0


@pytest.mark.slow
@pytest.mark.parametrize("bundle", sorted(CASES))
def test_onnx_masks_match_torch(bundle, data_dir, tmp_path):
    root = _copy(bundle, tmp_path)
    (model,) = export_onnx(root)
    assert model == root / "models/model.onnx"
    meta = json.loads(settings_path(model).read_text())
    assert meta["network"]["spatial_dims"] == (3 if bundle == "hippocampus" else 2)
    assert "prepare" in meta["inference_config"] and "to_labels" in meta["inference_config"]
    path = data_dir / CASES[bundle]
    if bundle == "nuclei":  # a 256x256 region of the 1000x1000 tissue image keeps the test short
        Image.open(path).convert("RGB").crop((300, 300, 556, 556)).save(tmp_path / "region.png")
        path = tmp_path / "region.png"
    predictor = BundlePredictor(root, device="cpu")
    image = read_volume(path, color=predictor.accepts_color).image
    torch_mask = predictor(image)
    onnx = BundlePredictor(root, runtime="onnx")
    assert all(isinstance(n, OnnxNetwork) for n in onnx.networks)
    onnx_mask = onnx(image)
    assert onnx_mask.shape == torch_mask.shape
    if bundle == "nuclei":  # instance ids may be numbered alike or not: compare the foreground
        assert dice(torch_mask > 0, onnx_mask > 0) >= 0.999
    else:
        assert dice(torch_mask, onnx_mask) >= 0.999


def test_stale_or_missing_export_is_refused(tmp_path):
    root = _copy("hippocampus", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"model\.onnx: not found; export it"):
        BundlePredictor(root, runtime="onnx")
    export_onnx(root)
    with pytest.raises(FileExistsError, match=r"model\.onnx: output exists"):
        export_onnx(root)
    state = torch.load(root / "models/model.pt", weights_only=True)
    key = next(iter(state))
    state[key] = state[key] + 1
    torch.save(state, root / "models/model.pt")
    with pytest.raises(ValueError, match="exported from other weights"):
        BundlePredictor(root, runtime="onnx")
    with pytest.raises(ValueError, match="fp32 on the CPU"):
        BundlePredictor(root, runtime="onnx", precision="bf16")


@pytest.mark.slow
def test_cli_export_then_segment_with_onnx(data_dir, tmp_path):
    root = _copy("hippocampus", tmp_path)
    cli = [sys.executable, "-m", "unet3d.cli"]
    res = subprocess.run([*cli, "export", str(root), "--format", "onnx"], capture_output=True, text=True,
                         cwd=REPO_ROOT, timeout=300)  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    assert "exported:" in res.stdout and (root / "models/model.onnx.json").is_file()
    case = data_dir / CASES["hippocampus"]
    segment = [*cli, "segment", str(case), "--bundle", str(root), "--runtime", "onnx", "--output-dir", str(tmp_path)]
    res = subprocess.run(segment, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    written = torch.as_tensor(np.asarray(read_volume(tmp_path / "hippocampus_001_seg.nii.gz").image))
    expected = BundlePredictor(root, device="cpu")(read_volume(case).image)
    assert written.shape == expected.shape and dice(written, expected) >= 0.999
