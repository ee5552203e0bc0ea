"""``unet3d segment --format dicom-seg,rtstruct``: a SEG and a structure set per series that agree."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pydicom
import pytest

from tests.conftest import REPO_ROOT
from unet3d.io import read_dicom_seg, read_volume, select_series
from unet3d.io.rtstruct import read_rtstruct

pytestmark = pytest.mark.slow
BUNDLE = REPO_ROOT / "bundles/hippocampus"
MR_CROP = "dicom/mr_hippocrop_study1/13_HCropVolume"


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(BUNDLE)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


def test_seg_and_rtstruct_of_an_mr_series_agree(data_dir, tmp_path, dciodvfy):
    series = data_dir / MR_CROP
    res = cli(str(series), "--format", "dicom-seg,rtstruct", "--output-dir", str(tmp_path))
    assert res.returncode == 0, res.stderr[-2000:]
    seg, rt = tmp_path / "13_HCropVolume_seg.dcm", tmp_path / "13_HCropVolume_rtstruct.dcm"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([seg.name, rt.name])
    assert dciodvfy(rt) == []
    ds = pydicom.dcmread(rt)
    assert ds.Modality == "RTSTRUCT" and ds.Manufacturer == "unet3d"
    names = [r.ROIName for r in ds.StructureSetROISequence]
    assert names == ["anterior hippocampus", "posterior hippocampus"]  # the bundle's label names
    assert [list(map(int, r.ROIDisplayColor)) for r in ds.ROIContourSequence] == [[255, 200, 0], [0, 160, 255]]
    headers = select_series(series)
    referenced = {c.ContourImageSequence[0].ReferencedSOPInstanceUID for r in ds.ROIContourSequence
                  for c in r.ContourSequence}  # fmt: skip
    assert referenced <= {h.SOPInstanceUID for h in headers}
    volume = read_volume(series)
    contours, _ = read_rtstruct(rt, volume.spatial_shape, np.asarray(volume.image.affine))
    planes, _ = read_dicom_seg(seg, headers)  # (slices, rows, columns)
    mask = planes.transpose(2, 1, 0)
    for value in (1, 2):
        a, b = mask == value, contours == value
        assert a.sum() > 100
        assert 2 * np.sum(a & b) / (a.sum() + b.sum()) >= 0.95


def test_a_failed_rtstruct_leaves_no_seg_and_report_needs_a_mask(data_dir, tmp_path):
    series = data_dir / "dicom/ct_abdomen_series"  # anonymised without study and series UIDs
    res = cli(str(series), "--format", "dicom-seg,rtstruct", "--output-dir", str(tmp_path / "out"))
    assert res.returncode == 1
    assert "no StudyInstanceUID; a structure set cannot reference" in res.stderr
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    res = cli(str(data_dir / MR_CROP), "--format", "rtstruct", "--report", "--output-dir", str(tmp_path / "r"))
    assert res.returncode == 1 and "name a mask format first" in res.stderr


def test_dicom_outputs_of_a_nifti_volume_are_refused(data_dir, tmp_path):
    from unet3d.inference import SegmentationFailures, segment

    case = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    for fmt, what in (("dicom-seg", "DICOM SEG"), ("rtstruct", "RTSTRUCT"), ("nifti,rtstruct", "RTSTRUCT")):
        out = tmp_path / fmt.replace(",", "_")
        with pytest.raises(SegmentationFailures, match=f"{what} output needs a DICOM series as input"):
            segment([case], BUNDLE, out, fmt=fmt)
        assert list(out.iterdir()) == []  # not even the NIfTI of the first format
