"""DICOM SEG writing and reading with highdicom, aligned slice for slice with the source series."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

import unet3d
from unet3d.io.atomic import atomic_write

# Patient and study attributes the SEG copies from its source (Type 2 there: present, may be empty)
TYPE2_PATIENT_STUDY = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
)


@dataclass(frozen=True)
class SegmentSpec:
    """One segment: the label value in the mask and what it is.

    ``category`` and ``type`` are (code value, coding scheme, meaning) triples, e.g. SNOMED CT
    ``("91723000", "SCT", "Anatomical Structure")`` (DICOM CID 7150) and ``("5366008", "SCT",
    "Hippocampus")``, as in ``bundles/hippocampus/configs/metadata.json``.
    """

    label: int
    name: str
    category: tuple[str, str, str] = ("91723000", "SCT", "Anatomical Structure")
    type: tuple[str, str, str] = ("85756007", "SCT", "Tissue")


def write_dicom_seg(
    labels: np.ndarray,
    source: Sequence[Dataset],
    segments: Sequence[SegmentSpec],
    path: str | os.PathLike,
    overwrite: bool = False,
    series_description: str = "unet3d segmentation",
) -> Path:
    """Write a label volume as a binary DICOM SEG that references its source series.

    Args:
        labels: integer label map of shape ``(frames, rows, columns)``, frame ``i`` lying on
            ``source[i]`` (voxel for voxel; 0 = background), or on frame ``i`` of a single
            multi-frame source.
        source: the source series' datasets (headers suffice), in the order of ``labels``' slices;
            or one multi-frame image.
        segments: one :class:`SegmentSpec` per label value to store.
        path: the ``.dcm`` file to write (atomically).
        overwrite: replace an existing file.
        series_description: the SEG series' description.
    """
    import highdicom as hd
    from pydicom.sr.codedict import codes
    from pydicom.sr.coding import Code

    frames = sum(int(ds.get("NumberOfFrames", 1) or 1) for ds in source)
    if labels.shape != (frames, int(source[0].Rows), int(source[0].Columns)):
        raise ValueError(
            f"labels of shape {labels.shape} do not match the series "
            f"({frames} frames of {source[0].Rows}x{source[0].Columns})"
        )
    source = [copy.copy(ds) for ds in source]
    for ds in source:
        if "SpecificCharacterSet" in ds and not ds.SpecificCharacterSet:
            del ds.SpecificCharacterSet  # empty in some series; highdicom rejects '' (default repertoire)
        for keyword in TYPE2_PATIENT_STUDY:
            if keyword not in ds:  # anonymised series drop these; the SEG copies them (Type 2: may be empty)
                setattr(ds, keyword, "")
    descriptions = []
    masks = []
    for number, spec in enumerate(segments, start=1):
        descriptions.append(
            hd.seg.SegmentDescription(
                segment_number=number,
                segment_label=spec.name,
                segmented_property_category=Code(*spec.category),
                segmented_property_type=Code(*spec.type),
                algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
                algorithm_identification=hd.AlgorithmIdentificationSequence(
                    name="unet3d", version=unet3d.__version__, family=codes.cid7162.ArtificialIntelligence
                ),
            )
        )
        masks.append(labels == spec.label)
    pixel_array = np.stack(masks, axis=-1).astype(np.uint8)  # (frames, rows, columns, segments)
    seg = hd.seg.Segmentation(
        source_images=list(source),
        pixel_array=pixel_array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=9000 + int(source[0].get("SeriesNumber", 0) or 0) % 1000,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="unet3d",
        manufacturer_model_name="unet3d",
        software_versions=unet3d.__version__,
        device_serial_number="0",
        series_description=series_description,
        omit_empty_frames=False,
    )
    return atomic_write(path, lambda tmp: seg.save_as(tmp), overwrite=overwrite)


def _pixel_to_patient(ds: Dataset) -> np.ndarray:
    """4x4 matrix mapping (0, row, column, 1) of one source slice to patient coordinates (mm)."""
    iop = np.asarray(ds.ImageOrientationPatient, float)
    row_spacing, col_spacing = (float(v) for v in ds.PixelSpacing)
    m = np.eye(4)
    m[:3, 1] = iop[3:] * row_spacing  # down the rows
    m[:3, 2] = iop[:3] * col_spacing  # along a row
    m[:3, 3] = np.asarray(ds.ImagePositionPatient, float)
    return m


def read_dicom_seg(path: str | os.PathLike, source: Sequence[Dataset]) -> tuple[np.ndarray, dict[int, str]]:
    """Decode a DICOM SEG onto a source series as a label map, aligned by geometry.

    The SEG's frames are placed by their plane positions (not by the instances they reference,
    which some producers do not mark as spatially preserved): every source slice takes the SEG
    plane that lies on it, voxel for voxel. Slices with no SEG plane are 0.

    Args:
        path: the SEG file.
        source: the source series' datasets (headers suffice) in the wanted slice order.

    Returns:
        ``(labels, names)``: ``labels`` of shape ``(slices, rows, columns)`` with segment numbers
        (0 = none; where segments overlap the higher number wins), ``names`` maps segment numbers
        to segment labels.

    Raises:
        ValueError: the SEG's planes are not on the source's pixel grid (other orientation or
            spacing, or a fractional offset); resampling is not done here.
    """
    import highdicom as hd

    seg = hd.seg.segread(str(path))
    numbers = list(seg.get_segment_numbers())
    names = {n: seg.get_segment_description(n).segment_label for n in numbers}
    volume = seg.get_volume(combine_segments=True, skip_overlap_checks=True)
    rows, cols = int(source[0].Rows), int(source[0].Columns)
    labels = np.zeros((len(source), rows, cols), np.uint16)
    to_seg = np.linalg.inv(volume.affine)
    for i, ds in enumerate(source):
        m = to_seg @ _pixel_to_patient(ds)  # source (0, row, col) -> SEG (slice, row, col)
        if not np.allclose(m[:3, 1:3], np.eye(4)[:3, 1:3], atol=1e-3):
            raise ValueError(f"{path}: SEG planes are not on the pixel grid of {ds.filename}")
        offset = m[:3, 3]
        if not np.allclose(offset, np.round(offset), atol=1e-2):
            raise ValueError(f"{path}: SEG plane offset {offset} from {ds.filename} is not whole voxels")
        k, r0, c0 = (int(v) for v in np.round(offset))
        if not 0 <= k < volume.array.shape[0]:
            continue
        plane = volume.array[k]
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r0 + rows, plane.shape[0]), min(c0 + cols, plane.shape[1])
        if rs < re and cs < ce:
            labels[i, rs - r0 : re - r0, cs - c0 : ce - c0] = plane[rs:re, cs:ce]
    return labels, names
