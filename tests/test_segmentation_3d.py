"""``unet3d segment`` on 3D inputs: geometry, formats and bad input, with a small 3D test bundle.

The bundle is the 3D bundles' inference pipeline (orientation, spacing, per-volume intensity
normalisation, sliding-window inference, inversion to the input's geometry) with a small
randomly initialised network: these tests check geometry and formats, not accuracy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
import torch
import yaml

from tests.conftest import REPO_ROOT
from unet3d.io import read_dicom_seg, select_series
from unet3d.segmentation import segment

INFERENCE = {
    "imports": ["$import torch", "$import monai", "$import unet3d"],
    "bundle_root": ".",
    "device": "$torch.device('cpu')",
    "network_def": {
        "_target_": "unet3d.networks.UNet", "spatial_dims": 3, "in_channels": 1, "out_channels": 3,
        "features": [4, 8, 16], "padding": "same", "norm": "instance",
    },
    "preprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "LoadImaged", "keys": "image"},
        {"_target_": "EnsureChannelFirstd", "keys": "image"},
        {"_target_": "Orientationd", "keys": "image", "axcodes": "RAS"},
        {"_target_": "Spacingd", "keys": "image", "pixdim": [2.0, 2.0, 2.0], "mode": "bilinear"},
        {"_target_": "NormalizeIntensityd", "keys": "image", "nonzero": True, "channel_wise": True},
    ]},
    "inferer": {"_target_": "SlidingWindowInferer", "roi_size": [32, 32, 32], "sw_batch_size": 4, "mode": "gaussian"},
    "postprocessing": {"_target_": "Compose", "transforms": [
        {"_target_": "Activationsd", "keys": "pred", "softmax": True},
        {"_target_": "Invertd", "keys": "pred", "transform": "@preprocessing", "orig_keys": "image",
         "nearest_interp": False, "to_tensor": True},
        {"_target_": "AsDiscreted", "keys": "pred", "argmax": True},
    ]},
}  # fmt: skip
METADATA = {
    "version": "0.0.1",
    "network_data_format": {
        "inputs": {"image": {"num_channels": 1, "spatial_shape": [32, 32, 32]}},
        "outputs": {"pred": {"num_channels": 3, "channel_def": {"0": "background", "1": "anterior", "2": "posterior"}}},
    },
    "dicom_seg_codes": {"1": {"type": ["5366008", "SCT", "Hippocampus"]}},
}


@pytest.fixture(scope="module")
def bundle3d(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bundle3d")
    (root / "configs").mkdir()
    (root / "models").mkdir()
    (root / "configs/inference.yaml").write_text(yaml.safe_dump(INFERENCE))
    (root / "configs/metadata.json").write_text(json.dumps(METADATA))
    from unet3d.networks import UNet

    torch.manual_seed(0)
    net = UNet(3, 1, 3, features=(4, 8, 16), padding="same", norm="instance")
    torch.save(net.state_dict(), root / "models/model.pt")
    return root


@pytest.mark.slow
def test_nifti_in_nifti_out_keeps_geometry(data_dir, bundle3d, tmp_path):
    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    (out,) = segment([src], bundle3d, tmp_path)
    assert out == tmp_path / "hippocampus_001_seg.nii.gz"
    ref, mask = nib.load(src), nib.load(out)
    assert mask.shape == ref.shape
    np.testing.assert_allclose(mask.affine, ref.affine, atol=1e-6)
    assert set(np.unique(np.asarray(mask.dataobj))) <= {0, 1, 2}


@pytest.mark.slow
@pytest.mark.parametrize("series", ["mr_hippocrop_study1", "ct_abdomen_series"])
def test_dicom_seg_equals_nifti_voxel_for_voxel(data_dir, bundle3d, tmp_path, series):
    folder = data_dir / "dicom" / series
    if series == "mr_hippocrop_study1":
        folder = next(p for p in folder.iterdir() if p.is_dir())
    (seg_path,) = segment([folder], bundle3d, tmp_path)
    (nii_path,) = segment([folder], bundle3d, tmp_path, fmt="nifti")
    assert seg_path.name == f"{folder.name}_seg.dcm"
    headers = select_series(folder)
    ds = pydicom.dcmread(seg_path)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == headers[0].SeriesInstanceUID
    assert ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    referenced = {r.ReferencedSOPInstanceUID for r in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == {h.SOPInstanceUID for h in headers} and "" not in referenced
    labels, names = read_dicom_seg(seg_path, headers)  # (slices, rows, columns)
    assert set(names.values()) <= {"anterior", "posterior"}
    nifti = np.asarray(nib.load(nii_path).dataobj)  # (x, y, z) = (columns, rows, slices)
    assert nifti.any()
    np.testing.assert_array_equal(labels.transpose(2, 1, 0), nifti)


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


@pytest.mark.slow
def test_cli_bad_inputs_exit_non_zero_with_nothing_written(data_dir, bundle3d, tmp_path):
    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_003.nii.gz"
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(src.read_bytes()[:4000])
    four = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8, 2), np.float32), np.eye(4)), four)
    nan = tmp_path / "nan.nii.gz"
    nib.save(nib.Nifti1Image(np.full((8, 8, 8), np.inf, np.float32), np.eye(4)), nan)
    empty = tmp_path / "empty_series"
    empty.mkdir()
    out = tmp_path / "out"
    cases = [
        ([str(cut)], "cut.nii.gz: cannot read"),
        ([str(four)], "four.nii.gz: shape (8, 8, 8, 2) has extra channels"),
        ([str(nan)], "nan.nii.gz: image contains NaN or infinite values"),
        ([str(empty)], "empty_series: no DICOM image series found"),
        ([str(data_dir / "dicom/mr_brain_and_hippocrop_study3")], "2 series found, choose one with --series-uid"),
    ]
    for args, message in cases:
        res = cli(*args, "--bundle", str(bundle3d), "--output-dir", str(out))
        assert res.returncode == 1, res.stdout + res.stderr
        assert message in res.stderr.strip().splitlines()[-1], res.stderr[-2000:]
        assert not out.exists() or not any(out.iterdir())
    locked = tmp_path / "locked"
    locked.write_text("a file where the output folder should be")
    res = cli(str(src), "--bundle", str(bundle3d), "--output-dir", str(locked))
    assert res.returncode == 1 and "locked" in res.stderr
