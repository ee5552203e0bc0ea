"""``unet3d segment`` on 3D inputs with the shipped hippocampus bundle: geometry, formats, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from tests.conftest import REPO_ROOT
from unet3d.inference import segment
from unet3d.io import read_dicom_seg, select_series

BUNDLE = REPO_ROOT / "bundles/hippocampus"


@pytest.fixture(scope="module")
def bundle3d() -> Path:
    return BUNDLE


@pytest.mark.slow
def test_nifti_in_nifti_out_keeps_geometry(data_dir, bundle3d, tmp_path):
    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    res = cli(str(src), "--bundle", "bundles/hippocampus", "--output-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "segmented 1 input(s)" in res.stdout
    out = tmp_path / "hippocampus_001_seg.nii.gz"
    ref, mask = nib.load(src), nib.load(out)
    assert mask.shape == ref.shape
    np.testing.assert_allclose(mask.affine, ref.affine, atol=1e-6)
    assert set(np.unique(np.asarray(mask.dataobj))) == {0, 1, 2}
    assert mask.header.get_data_dtype() == np.dtype(np.uint8)


@pytest.mark.slow
@pytest.mark.parametrize("series", ["mr_hippocrop_study1", "ct_abdomen_series"])
def test_dicom_seg_equals_nifti_voxel_for_voxel(data_dir, bundle3d, tmp_path, series):
    folder = data_dir / "dicom" / series
    if series == "mr_hippocrop_study1":
        folder = next(p for p in folder.iterdir() if p.is_dir())
    if series == "mr_hippocrop_study1":  # a DICOM series' mask is a DICOM SEG by default
        (default,) = segment([folder], bundle3d, tmp_path / "default")
        assert default.name == f"{folder.name}_seg.dcm"
    # one prediction written in both formats (the CT volume is the slowest input of the suite)
    (seg_path,) = segment([folder], bundle3d, tmp_path, fmt="dicom-seg,nifti")  # the first format's files
    nii_path = tmp_path / f"{folder.name}_seg.nii.gz"
    assert seg_path.name == f"{folder.name}_seg.dcm"
    headers = select_series(folder)
    ds = pydicom.dcmread(seg_path)
    assert ds.ReferencedSeriesSequence[0].SeriesInstanceUID == headers[0].SeriesInstanceUID
    assert ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    referenced = {r.ReferencedSOPInstanceUID for r in ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    assert referenced == {h.SOPInstanceUID for h in headers} and "" not in referenced
    labels, names = read_dicom_seg(seg_path, headers)  # (slices, rows, columns)
    assert set(names.values()) <= {"anterior hippocampus", "posterior hippocampus"}
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
        ([str(data_dir / "dicom/mr_brain_and_hippocrop_study3")], "series found ("),
    ]
    # one run over every bad input (each process pays the start-up again): each is named
    # with its problem on a line of its own, the run exits 1 and writes nothing
    res = cli(*[a for args, _ in cases for a in args], "--bundle", str(bundle3d), "--output-dir", str(out))
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stderr.strip().splitlines()
    for _, message in cases:
        (line,) = [line for line in lines if message in line]
        if message == "series found (":  # the library names no option; the CLI adds the one that helps
            assert line.endswith("; choose one with --series-uid UID"), res.stderr[-2000:]
    assert not out.exists() or not any(out.iterdir())
    locked = tmp_path / "locked"
    locked.write_text("a file where the output folder should be")
    res = cli(str(src), "--bundle", str(bundle3d), "--output-dir", str(locked))
    assert res.returncode == 1 and "locked" in res.stderr
