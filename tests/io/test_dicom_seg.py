"""Tests for unet3d.io.dicom_seg: alignment proven on a SEG made by another tool (dcmqi)."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from unet3d.io import SegmentSpec, read_dicom_seg, select_series, write_dicom_seg


@pytest.fixture(scope="module")
def ct3(data_dir):
    return data_dir / "dicom/ct_3slice_with_seg"


def nrrd_on_series(nrrd_path, headers) -> np.ndarray:
    """The NRRD label map resampled (nearest) onto each series slice by physical position."""
    ref = sitk.ReadImage(str(nrrd_path))
    arr = sitk.GetArrayFromImage(ref)
    out = []
    for h in headers:
        index = ref.TransformPhysicalPointToIndex([float(v) for v in h.ImagePositionPatient])
        assert index[:2] == (0, 0)
        out.append(arr[index[2]])
    return np.stack(out)


def test_reference_seg_matches_nrrd(ct3):
    headers = select_series(ct3 / "ct-3slice")
    labels, names = read_dicom_seg(ct3 / "liver.dcm", headers)
    assert names == {1: "Liver"}
    expected = nrrd_on_series(ct3 / "liver_seg.nrrd", headers)
    assert labels.shape == expected.shape == (3, 512, 512)
    assert labels.sum() > 100_000
    np.testing.assert_array_equal(labels > 0, expected > 0)


def test_written_seg_references_the_series_and_reads_back(ct3, tmp_path):
    headers = select_series(ct3 / "ct-3slice")
    labels = nrrd_on_series(ct3 / "liver_spine_seg.nrrd", headers).astype(np.uint8)
    assert set(np.unique(labels)) >= {1, 2}
    specs = [SegmentSpec(1, "Liver", type=("10200004", "SCT", "Liver")), SegmentSpec(2, "Spine")]
    out = write_dicom_seg(labels, headers, specs, tmp_path / "seg.dcm")
    ds = pydicom.dcmread(out)
    assert ds.Modality == "SEG" and ds.StudyInstanceUID == headers[0].StudyInstanceUID
    assert ds.FrameOfReferenceUID == headers[0].FrameOfReferenceUID
    ref = ds.ReferencedSeriesSequence[0]
    assert ref.SeriesInstanceUID == headers[0].SeriesInstanceUID
    assert {r.ReferencedSOPInstanceUID for r in ref.ReferencedInstanceSequence} == {h.SOPInstanceUID for h in headers}
    back, names = read_dicom_seg(out, headers)
    assert names == {1: "Liver", 2: "Spine"}
    np.testing.assert_array_equal(back, labels)
    with pytest.raises(FileExistsError, match="output exists"):
        write_dicom_seg(labels, headers, specs, out)
    with pytest.raises(ValueError, match="do not match the series"):
        write_dicom_seg(labels[:2], headers, specs, tmp_path / "bad.dcm", overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["seg.dcm"]  # nothing half-written left
