"""RT Structure Sets on real series: contours that give the mask back, valid by dciodvfy."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest
from scipy import ndimage

from unet3d.io import InputError, read_volume
from unet3d.io.rtstruct import RoiSpec, read_rtstruct, slice_contours, write_rtstruct

CT = "dicom/ct_3slice_with_seg"
MR_T1 = "dicom/mr_brain_and_hippocrop_study3/11-T1post-18670"  # 320 rows x 280 columns, 0.6875 mm
MR_CROP = "dicom/mr_hippocrop_study1/13_HCropVolume"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.sum(a & b) / max(1, np.sum(a) + np.sum(b)))


def round_trip(volume, labels, rois, path, dciodvfy) -> np.ndarray:
    affine = np.asarray(volume.image.affine)
    write_rtstruct(labels, affine, volume.dicom_headers, rois, path)
    assert dciodvfy(path) == []
    back, names = read_rtstruct(path, labels.shape, affine)
    assert names == {i: roi.name for i, roi in enumerate(rois, start=1)}
    return back


def test_ct_organs_round_trip(data_dir, tmp_path, dciodvfy):
    volume = read_volume(data_dir / CT / "ct-3slice")
    labels = np.zeros(volume.spatial_shape, np.uint8)
    for value, organ in enumerate(("liver", "spine", "heart"), start=1):
        # the NRRD label maps lie on the series' grid (dcmqi's test data)
        organ_mask = np.asarray(read_volume(data_dir / CT / f"{organ}_seg.nrrd").image) > 0
        labels[organ_mask & (labels == 0)] = value
    rois = [RoiSpec(1, "liver", (220, 120, 90)), RoiSpec(2, "spine"), RoiSpec(3, "heart")]
    back = round_trip(volume, labels, rois, tmp_path / "ct_rtstruct.dcm", dciodvfy)
    for value in (1, 2, 3):
        assert (labels == value).sum() > 1000
        assert dice(labels == value, back == value) >= 0.95
    ds = pydicom.dcmread(tmp_path / "ct_rtstruct.dcm")
    assert [int(c) for c in ds.ROIContourSequence[0].ROIDisplayColor] == [220, 120, 90]
    assert ds.FrameOfReferenceUID == volume.dicom_headers[0].FrameOfReferenceUID
    assert ds.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0].RTReferencedSeriesSequence[
        0].SeriesInstanceUID == volume.dicom_headers[0].SeriesInstanceUID  # fmt: skip


def test_holes_components_and_tiny_objects_on_non_square_mr(data_dir, tmp_path, dciodvfy):
    """A thresholded T1 (many objects per slice, holes inside them) plus objects of one and two
    pixels, on 320x280 images: the pitfalls of pixel-centre contours and of swapped row and
    column spacing."""
    volume = read_volume(data_dir / MR_T1)
    image = ndimage.gaussian_filter(np.asarray(volume.image), (1.5, 1.5, 0))  # specks of noise would only be slow
    mask = image > np.percentile(image, 70)
    holes = ndimage.binary_fill_holes(mask[:, :, 10]) & ~mask[:, :, 10]
    assert holes.sum() > 50 and ndimage.label(mask[:, :, 10])[1] > 3
    labels = mask.astype(np.uint8)
    labels[:, :, 0] = 0
    labels[5, 7, 0] = 2  # one pixel
    labels[20:22, 30, 0] = 2  # two pixels in a line
    labels[40, 40:43, 0] = 2  # three pixels in a line
    back = round_trip(volume, labels, [RoiSpec(1, "bright"), RoiSpec(2, "specks")], tmp_path / "t1.dcm", dciodvfy)
    np.testing.assert_array_equal(back, labels)
    for polygon in slice_contours(labels[:, :, 0] == 2):
        assert len(polygon) >= 3


def test_contours_lie_on_their_referenced_slices(data_dir, tmp_path):
    """Each contour's points lie in the plane of the image it references, by ImagePositionPatient
    (not SliceLocation) along the slice normal."""
    volume = read_volume(data_dir / MR_CROP)
    labels = (np.asarray(volume.image) > np.percentile(np.asarray(volume.image), 80)).astype(np.uint8)
    path = write_rtstruct(labels, np.asarray(volume.image.affine), volume.dicom_headers, [RoiSpec(1, "bright")],
                          tmp_path / "crop.dcm")  # fmt: skip
    by_uid = {h.SOPInstanceUID: h for h in volume.dicom_headers}
    contours = pydicom.dcmread(path).ROIContourSequence[0].ContourSequence
    assert len(contours) >= labels.shape[2] - 2
    for contour in contours:
        header = by_uid[contour.ContourImageSequence[0].ReferencedSOPInstanceUID]
        iop = np.asarray(header.ImageOrientationPatient, float)
        normal = np.cross(iop[:3], iop[3:])
        points = np.asarray(contour.ContourData, float).reshape(-1, 3)
        np.testing.assert_allclose(points @ normal, np.dot(normal, np.asarray(header.ImagePositionPatient, float)),
                                   atol=1e-2)  # fmt: skip
        assert int(contour.NumberOfContourPoints) == len(points) >= 3


def test_a_series_without_uids_is_refused(data_dir, tmp_path):
    volume = read_volume(data_dir / "dicom/ct_abdomen_series")  # anonymised: no study or series UID
    labels = np.zeros(volume.spatial_shape, np.uint8)
    with pytest.raises(InputError, match="no StudyInstanceUID; a structure set cannot reference"):
        write_rtstruct(labels, np.asarray(volume.image.affine), volume.dicom_headers, [RoiSpec(1, "x")],
                       tmp_path / "x.dcm")  # fmt: skip
    assert list(tmp_path.iterdir()) == []
