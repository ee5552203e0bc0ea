"""Tests for unet3d.inference.segment and ``unet3d segment`` with the EM bundle on real slices."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.inference import output_path, segment
from unet3d.io import InputError

BUNDLE = REPO_ROOT / "bundles/em"


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(BUNDLE)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def test_segment_is_a_package_function():
    import unet3d

    assert unet3d.segment is segment


def test_output_names(data_dir, tmp_path):
    slice20 = data_dir / "isbi2012/train/images/slice_20.png"
    assert output_path(slice20, tmp_path) == tmp_path / "slice_20_seg.png"
    volume = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    assert output_path(volume, tmp_path) == tmp_path / "hippocampus_001_seg.nii.gz"
    series = data_dir / "dicom/ct_abdomen_series"
    assert output_path(series, tmp_path) == tmp_path / "ct_abdomen_series_seg.dcm"
    assert output_path(series, tmp_path, "nifti") == tmp_path / "ct_abdomen_series_seg.nii.gz"
    (tmp_path / "b.txt").write_text("x")
    with pytest.raises(InputError, match=r"b\.txt: unsupported input type"):
        output_path(tmp_path / "b.txt", tmp_path)
    with pytest.raises(InputError, match=r"c\.nii\.gz: no such file"):
        output_path(tmp_path / "c.nii.gz", tmp_path)


@pytest.mark.slow
def test_segment_matches_the_bundle_and_keeps_orientation(data_dir, tmp_path):
    """The API's mask equals the bundle's own inference output for the same slice."""
    image = data_dir / "isbi2012/train/images/slice_20.png"
    (out,) = segment([image], BUNDLE, tmp_path / "api")
    (tmp_path / "in").mkdir()
    shutil.copy(image, tmp_path / "in")
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", "bundles/em/inference.yaml",
           "--dataset_dir", str(tmp_path / "in"), "--output_dir", str(tmp_path / "bundle")]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    ours = np.array(Image.open(out))
    theirs = np.array(Image.open(tmp_path / "bundle/slice_20_seg.png"))
    np.testing.assert_array_equal(ours, theirs)
    truth = np.array(Image.open(data_dir / "isbi2012/train/labels/slice_20.png")) == 0
    assert ours.shape == truth.shape and np.mean(ours != truth) < np.mean(ours.T != truth)


@pytest.mark.slow
def test_cli_refuses_to_overwrite_and_names_bad_files(data_dir, tmp_path):
    image = data_dir / "isbi2012/train/images/slice_21.png"
    res = cli(str(image), "--output-dir", str(tmp_path))
    assert res.returncode == 0 and "segmented 1 input(s)" in res.stdout, res.stderr[-2000:]
    before = (tmp_path / "slice_21_seg.png").stat().st_mtime_ns
    res = cli(str(image), "--output-dir", str(tmp_path))
    assert res.returncode == 1 and "output exists; pass --overwrite" in res.stderr
    assert (tmp_path / "slice_21_seg.png").stat().st_mtime_ns == before
    bad = tmp_path / "broken.png"
    bad.write_bytes(image.read_bytes()[:3000])
    rgb = tmp_path / "colour.png"
    Image.new("RGB", (64, 64)).save(rgb)
    res = cli(str(bad), str(rgb), "--output-dir", str(tmp_path / "out"))  # one run: each named on its own line
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1, res.stderr[-2000:]
    for message in ("broken.png: cannot read", "colour.png: RGB image; this bundle takes single-channel (gray) images"):
        assert len([line for line in lines if message in line]) == 1, res.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
