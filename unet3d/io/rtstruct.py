"""DICOM RT Structure Sets (RTSTRUCT): a label map as contours on its source series, and back.

Written with pydicom, not rt-utils (the usual choice; highdicom writes no RTSTRUCT), for four
reasons. rt-utils traces the centres of the boundary pixels, so an object of one or two pixels
becomes a contour of one or two points (no area) and every object loses half a pixel all round;
it scales columns by the row spacing (wrong on non-square pixels); it cannot reference the frames
of a multi-frame image; and it requires ``opencv-python``, whose Qt plugins, loaded as soon as
MONAI imports cv2, stop every Qt application in the environment (napari) from starting. Here each
contour runs half-way between inside and outside pixel centres (marching squares on the mask,
``skimage.measure.find_contours`` at 0.5), so it encloses exactly the mask's pixel centres, and it
is placed in patient coordinates (LPS, mm) through the volume's own affine. Holes are contours of
their own inside their object's (the even-odd rule radiotherapy systems apply); several objects
on a slice are several contours. :func:`read_rtstruct` rasterises contours back by the same rule.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID

import unet3d
from unet3d.io.atomic import atomic_write
from unet3d.io.dicom_seg import TYPE2_PATIENT_STUDY
from unet3d.io.errors import InputError

RTSTRUCT_STORAGE = UID("1.2.840.10008.5.1.4.1.1.481.3")
STUDY_MANAGEMENT = "1.2.840.10008.3.1.2.3.1"  # Detached Study Management (retired), as RT systems reference studies
RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])
# what a structure set must reference in its source (Type 1 there and here)
REFERENCED_UIDS = ("StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID", "SOPClassUID", "SOPInstanceUID")
# colours of labels whose bundle names none (cycled)
DEFAULT_COLOURS = ((255, 0, 255), (0, 235, 235), (255, 255, 0), (255, 0, 0), (0, 132, 255), (0, 240, 0),
                   (255, 175, 0), (0, 208, 255), (180, 255, 105), (255, 20, 147))  # fmt: skip


@dataclass(frozen=True)
class RoiSpec:
    """One structure: the label value in the mask, its name and display colour (RGB, 0-255)."""

    label: int
    name: str
    colour: tuple[int, int, int] | None = None


def slice_contours(mask: np.ndarray) -> list[np.ndarray]:
    """The contours of a 2D binary mask ``(x, y)``: closed polygons ``(points, 2)`` in index
    coordinates, half-way between the mask's pixel centres and the outside's (holes included, as
    contours of their own), without the repeated closing point and without collinear points."""
    from skimage.measure import find_contours

    padded = np.pad(mask.astype(np.float32), 1)  # objects on the edge close inside the padding
    contours = []
    for contour in find_contours(padded, 0.5):
        polygon = contour[:-1] - 1.0
        before, after = np.roll(polygon, 1, axis=0), np.roll(polygon, -1, axis=0)
        turn = np.cross(polygon - before, after - polygon)  # 0 where a point lies on a straight run
        polygon = polygon[np.abs(turn) > 1e-9]
        if len(polygon) >= 3:
            contours.append(polygon)
    return contours


def check_source(source: Sequence[Dataset]) -> None:
    """Refuse a series a structure set cannot reference: one without a UID of :data:`REFERENCED_UIDS`.

    Raises:
        InputError: naming the first file without one and the UID.
    """
    for keyword in REFERENCED_UIDS:
        missing = next((ds for ds in source if not str(ds.get(keyword, "") or "").strip()), None)
        if missing is not None:
            where = getattr(missing, "filename", None) or "the source series"
            raise InputError(f"{where}: no {keyword}; a structure set cannot reference this series (anonymised "
                             f"without UIDs?)")  # fmt: skip


def _sequence(*items: Dataset) -> DicomSequence:
    return DicomSequence(list(items))


def _image_reference(ds: Dataset, frame: int | None) -> Dataset:
    image = Dataset()
    image.ReferencedSOPClassUID = ds.SOPClassUID
    image.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    if frame is not None:
        image.ReferencedFrameNumber = frame + 1
    return image


def _structure_set(series: list[Dataset], frame_order: Sequence[int] | None, description: str) -> FileDataset:
    """The structure set without ROIs: patient, study, series, equipment, frame of reference,
    structure set (referencing every image or frame of the source) and SOP common modules."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = RTSTRUCT_STORAGE, generate_uid()
    meta.TransferSyntaxUID, meta.ImplementationClassUID = ExplicitVRLittleEndian, PYDICOM_IMPLEMENTATION_UID
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    first, now = series[0], datetime.datetime.now()
    date, time = now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: label names may be in any script
    ds.SOPClassUID, ds.SOPInstanceUID = RTSTRUCT_STORAGE, meta.MediaStorageSOPInstanceUID
    ds.InstanceCreationDate, ds.InstanceCreationTime = date, time
    for keyword in TYPE2_PATIENT_STUDY:  # patient and study: the source's (Type 2: may be empty)
        setattr(ds, keyword, first.get(keyword, ""))
    ds.StudyInstanceUID = first.StudyInstanceUID
    ds.Modality, ds.SeriesInstanceUID = "RTSTRUCT", generate_uid()
    ds.SeriesNumber = 9100 + int(first.get("SeriesNumber", 0) or 0) % 1000
    ds.SeriesDate, ds.SeriesTime, ds.SeriesDescription, ds.OperatorsName = date, time, description, ""
    ds.Manufacturer, ds.ManufacturerModelName, ds.SoftwareVersions = "unet3d", "unet3d", unet3d.__version__
    ds.FrameOfReferenceUID = first.FrameOfReferenceUID
    ds.PositionReferenceIndicator = first.get("PositionReferenceIndicator", "")
    ds.InstanceNumber = 1
    ds.StructureSetLabel, ds.StructureSetName = "unet3d", description[:64]
    ds.StructureSetDate, ds.StructureSetTime = date, time
    ds.ApprovalStatus = "UNAPPROVED"
    if frame_order is not None:
        images = [_image_reference(first, frame) for frame in frame_order]
    else:
        images = [_image_reference(image, None) for image in series]
    referenced_series = Dataset()
    referenced_series.SeriesInstanceUID = first.SeriesInstanceUID
    referenced_series.ContourImageSequence = DicomSequence(images)
    study = Dataset()
    study.ReferencedSOPClassUID = STUDY_MANAGEMENT  # what RT systems write here
    study.ReferencedSOPInstanceUID = first.StudyInstanceUID
    study.RTReferencedSeriesSequence = _sequence(referenced_series)
    frame_of_reference = Dataset()
    frame_of_reference.FrameOfReferenceUID = first.FrameOfReferenceUID
    frame_of_reference.RTReferencedStudySequence = _sequence(study)
    ds.ReferencedFrameOfReferenceSequence = _sequence(frame_of_reference)
    ds.StructureSetROISequence, ds.ROIContourSequence, ds.RTROIObservationsSequence = [], [], []
    return ds


def _contour_item(ds: Dataset, frame: int | None, points: np.ndarray, number: int) -> Dataset:
    item = Dataset()
    item.ContourImageSequence = _sequence(_image_reference(ds, frame))
    item.ContourGeometricType = "CLOSED_PLANAR"
    item.ContourNumber = number
    item.NumberOfContourPoints = len(points)
    item.ContourData = [f"{v:.3f}" for v in points.ravel()]  # mm; DS values hold 16 characters at most
    return item


def write_rtstruct(
    labels: np.ndarray,
    affine: np.ndarray,
    source: Sequence[Dataset],
    rois: Sequence[RoiSpec],
    path: str | os.PathLike,
    frame_order: Sequence[int] | None = None,
    overwrite: bool = False,
    series_description: str = "unet3d segmentation",
) -> Path:
    """Write a label map as an RT Structure Set referencing its source series.

    Args:
        labels: integer label map ``(x, y, z)`` (MONAI axis order: x along a row of the source
            images, y down the rows, z over the slices) on the source's grid.
        affine: ``(4, 4)`` voxel index to RAS mm, the mask's (the input's) geometry.
        source: the series' headers in ``z`` order, or the one multi-frame object's.
        rois: one :class:`RoiSpec` per structure; labels absent from the mask get an empty ROI.
        path: the ``.dcm`` to write (atomically).
        frame_order: for a multi-frame source, its frame (0-based) at each ``z``.
        overwrite: replace an existing file.
        series_description: the structure set series' description.

    Raises:
        ValueError: the mask's slices do not match the source's.
        InputError: the source lacks a UID the structure set must reference (:data:`REFERENCED_UIDS`).
    """
    rows, cols = int(source[0].Rows), int(source[0].Columns)
    planes = len(frame_order) if frame_order is not None else len(source)
    if labels.shape != (cols, rows, planes):
        raise ValueError(f"labels of shape {labels.shape} do not match the series ({planes} planes of {rows}x{cols})")
    check_source(source)
    series = list(source)
    ds = _structure_set(series, frame_order, series_description)
    to_lps = RAS_TO_LPS @ np.asarray(affine, dtype=np.float64)
    present = set(np.unique(labels).tolist())
    for number, roi in enumerate(rois, start=1):
        colour = list(roi.colour or DEFAULT_COLOURS[(roi.label - 1) % len(DEFAULT_COLOURS)])
        contours: list[Dataset] = []
        for z in range(planes) if roi.label in present else ():
            mask = labels[:, :, z] == roi.label
            if not mask.any():
                continue
            ref, frame = (series[0], frame_order[z]) if frame_order is not None else (series[z], None)
            for polygon in slice_contours(mask):
                index = np.column_stack([polygon, np.full(len(polygon), z), np.ones(len(polygon))])
                points = (index @ to_lps.T)[:, :3]
                contours.append(_contour_item(ref, frame, points, len(contours) + 1))
        structure = Dataset()
        structure.ROINumber, structure.ReferencedFrameOfReferenceUID = number, ds.FrameOfReferenceUID
        structure.ROIName, structure.ROIGenerationAlgorithm = roi.name[:64], "AUTOMATIC"
        roi_contour = Dataset()
        roi_contour.ROIDisplayColor, roi_contour.ReferencedROINumber = colour, number
        if contours:
            roi_contour.ContourSequence = DicomSequence(contours)
        observation = Dataset()
        observation.ObservationNumber, observation.ReferencedROINumber = number, number
        observation.ROIObservationDescription = "unet3d segmentation"
        observation.RTROIInterpretedType, observation.ROIInterpreter = "ORGAN", ""
        ds.StructureSetROISequence.append(structure)
        ds.ROIContourSequence.append(roi_contour)
        ds.RTROIObservationsSequence.append(observation)
    return atomic_write(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True), overwrite=overwrite)


def even_odd_fill(shape: Sequence[int], polygons: Sequence[np.ndarray]) -> np.ndarray:
    """The pixels of a 2D grid ``shape`` whose centres lie inside an odd number of ``polygons``
    (closed, ``(points, 2)`` in index coordinates), by scanlines: one pass over the edges of all
    polygons at once, which is the even-odd rule (skimage's ``polygon`` per contour costs the
    bounding box times the vertices, for every contour)."""
    mask = np.zeros(tuple(shape), bool)
    start = np.concatenate(list(polygons))
    end = np.concatenate([np.roll(p, -1, axis=0) for p in polygons])
    low, high = np.minimum(start[:, 1], end[:, 1]), np.maximum(start[:, 1], end[:, 1])
    first, last = max(0, int(np.ceil(low.min()))), min(shape[1] - 1, int(np.floor(high.max())))
    for j in range(first, last + 1):  # the scanline through the pixel centres (:, j)
        crossing = (low <= j) & (j < high)
        a, b = start[crossing], end[crossing]
        x = np.sort(a[:, 0] + (j - a[:, 1]) / (b[:, 1] - a[:, 1]) * (b[:, 0] - a[:, 0]))
        for x0, x1 in zip(x[0::2], x[1::2], strict=True):
            mask[max(0, int(np.ceil(x0))) : int(np.floor(x1)) + 1, j] = True
    return mask


def read_rtstruct(
    path: str | os.PathLike, shape: Sequence[int], affine: np.ndarray
) -> tuple[np.ndarray, dict[int, str]]:
    """Rasterise an RT Structure Set onto a grid: a pixel belongs to a structure when its centre
    lies inside an odd number of the structure's contours on its slice (the even-odd rule).

    Args:
        path: the RTSTRUCT file.
        shape: the grid ``(x, y, z)``.
        affine: ``(4, 4)`` voxel index to RAS mm of the grid.

    Returns:
        ``(labels, names)``: ``labels`` ``(x, y, z)`` uint16 with ROI numbers (a later ROI wins
        where two overlap), ``names`` ROI number -> ROI name.

    Raises:
        ValueError: a contour does not lie on one slice of the grid.
    """
    import pydicom

    ds = pydicom.dcmread(path)
    names = {int(r.ROINumber): str(r.ROIName) for r in ds.StructureSetROISequence}
    labels = np.zeros(tuple(int(s) for s in shape), np.uint16)
    to_index = np.linalg.inv(RAS_TO_LPS @ np.asarray(affine, dtype=np.float64))
    for roi in ds.ROIContourSequence:
        number = int(roi.ReferencedROINumber)
        planes: dict[int, list[np.ndarray]] = {}
        for contour in roi.get("ContourSequence", []):
            points = np.asarray(contour.ContourData, dtype=np.float64).reshape(-1, 3)
            index = (np.column_stack([points, np.ones(len(points))]) @ to_index.T)[:, :3]
            z = float(np.round(index[:, 2].mean()))
            if not np.allclose(index[:, 2], z, atol=1e-2) or not 0 <= z < labels.shape[2]:
                raise ValueError(f"{path}: a contour of ROI {number} does not lie on a slice of the grid")
            planes.setdefault(int(z), []).append(index[:, :2])
        for z, polygons in planes.items():
            labels[:, :, z][even_odd_fill(labels.shape[:2], polygons)] = number
    return labels, names
