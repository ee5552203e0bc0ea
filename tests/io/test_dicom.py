"""Tests for unet3d.io.dicom on the real DICOM series."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from unet3d.io import DicomError, find_series, read_series, select_series
from unet3d.io.dicom import SeveralSeriesError


def test_ct_series_sorted_along_the_normal(data_dir):
    headers = select_series(data_dir / "dicom/ct_abdomen_series")
    assert len(headers) == 20
    z = [float(h.ImagePositionPatient[2]) for h in headers]
    assert z == sorted(z)
    image = read_series(headers)
    assert image.GetSize() == (512, 512, 20)
    assert image.GetSpacing()[2] == pytest.approx(abs(z[1] - z[0]), abs=1e-3)
    assert np.allclose(image.GetOrigin(), [float(v) for v in headers[0].ImagePositionPatient], atol=1e-3)


def test_several_series_need_a_choice(data_dir):
    folder = data_dir / "dicom/mr_brain_and_hippocrop_study3"
    series = find_series(folder)
    assert len(series) == 2
    with pytest.raises(SeveralSeriesError, match="2 series found") as err:
        select_series(folder)
    assert "--" not in str(err.value)  # a library message names no command-line option
    for uid in series:
        assert uid in str(err.value)
    uid, headers = next(iter(series.items()))
    assert [h.SOPInstanceUID for h in select_series(folder, uid)] == [h.SOPInstanceUID for h in headers]
    with pytest.raises(DicomError, match=r"no series 1\.2\.3"):
        select_series(folder, "1.2.3")


def test_empty_folder_and_non_dicom_files(data_dir, tmp_path, caplog):
    with pytest.raises(DicomError, match="no DICOM image series"):
        select_series(tmp_path)
    with pytest.raises(DicomError, match="not a folder"):
        select_series(tmp_path / "missing")
    shutil.copytree(data_dir / "dicom/ct_3slice_with_seg/ct-3slice", tmp_path / "series")
    (tmp_path / "series/readme.txt").write_text("not dicom")
    with caplog.at_level(logging.WARNING):
        assert len(select_series(tmp_path / "series")) == 3
    assert "series: skipped 1 file(s) that are not DICOM: readme.txt" in caplog.text


def test_a_missing_slice_is_a_gap_unless_allowed(data_dir, tmp_path, caplog):
    shutil.copytree(data_dir / "dicom/mr_hippocrop_study1", tmp_path / "series")
    headers = select_series(tmp_path / "series")
    os.remove(headers[10].filename)  # one instance lost in the middle
    with pytest.raises(DicomError, match=r"series: slices are not evenly spaced: 2\.00 mm between"):
        select_series(tmp_path / "series")
    with caplog.at_level(logging.WARNING):
        assert len(select_series(tmp_path / "series", allow_gaps=True)) == len(headers) - 1
    assert "going on as asked" in caplog.text


def test_a_damaged_slice_is_an_error_not_a_warning(data_dir, tmp_path):
    shutil.copytree(data_dir / "dicom/mr_hippocrop_study1", tmp_path / "series")
    victim = Path(select_series(tmp_path / "series")[5].filename)
    victim.write_bytes(b"garbage" * 100)
    with pytest.raises(DicomError, match=f"{victim.name}: not a readable DICOM file in the series folder"):
        select_series(tmp_path / "series")
