"""DICOM series discovery and reading (pydicom for headers, SimpleITK for the volume)."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from unet3d.io.enhanced import is_multiframe
from unet3d.io.errors import InputError, itk_reason

logger = logging.getLogger(__name__)

SEG_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.66.4"
# files in a series folder that are not slices: skipped with a warning (any other unreadable file
# is a damaged slice, an error); besides these, files of the image formats the registry reads
OTHER_FILE_SUFFIXES = (".txt", ".md", ".json", ".xml", ".csv", ".pdf", ".html", ".gz", ".raw", ".zip", ".log", ".ini")
# slice spacing may vary by this share of the median spacing (or 0.01 mm) before it is a gap
GAP_TOLERANCE = 0.05


class DicomError(InputError):
    """A DICOM input problem; the message names the file or folder."""


class SeveralSeriesError(DicomError):
    """A folder holds several series and none was chosen (the message lists them)."""


class UnevenSpacingError(DicomError):
    """A series' slices are not evenly spaced (a missing or duplicate slice)."""


def find_series(folder: str | os.PathLike, skip_suffixes: Sequence[str] = ()) -> dict[str, list[Dataset]]:
    """Image series in ``folder`` (searched recursively): ``{SeriesInstanceUID: headers}``.

    Headers are read without pixel data. DICOM objects that are not image slices (SEG,
    reports, ...) and files named with ``skip_suffixes`` (the registry passes the suffixes
    of the other formats it reads, ``.nrrd``, ``.png``: inputs of their own) are skipped
    silently; files with a suffix of other formats (``.txt``, ``.json``, ...) are skipped with
    one warning line; any other file that does not read as DICOM is a damaged slice and an
    error. Each series' headers are sorted along the slice normal (ascending position).

    Raises:
        DicomError: ``folder`` is not a folder, holds no DICOM image, or holds a damaged slice.
    """
    images = tuple(s.lower() for s in skip_suffixes)
    root = Path(folder)
    if not root.is_dir():
        raise DicomError(f"{root}: not a folder of DICOM files")
    series: dict[str, list[Dataset]] = {}
    skipped: list[str] = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")):
        if images and path.name.lower().endswith(images):
            continue  # an image of another format: an input of its own (unet3d.inference.expand_inputs)
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, EOFError, ValueError) as e:
            if path.name.lower().endswith(OTHER_FILE_SUFFIXES):
                skipped.append(path.relative_to(root).as_posix())
                continue
            # a file named like a slice that does not read as DICOM: a damaged slice, whose loss
            # would silently stack the others as if contiguous
            raise DicomError(f"{path}: not a readable DICOM file in the series folder {root}") from e
        if ds.get("SOPClassUID") == SEG_SOP_CLASS or "SeriesInstanceUID" not in ds:
            continue
        if "ImagePositionPatient" not in ds and not is_multiframe(ds):
            continue  # not an image slice (a report, a presentation state, ...)
        ds.filename = str(path)
        meta = getattr(ds, "file_meta", None)
        for keyword, meta_keyword in (
            ("SOPClassUID", "MediaStorageSOPClassUID"),
            ("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
        ):
            if not ds.get(keyword) and meta is not None and meta.get(meta_keyword):
                setattr(ds, keyword, meta.get(meta_keyword))  # some anonymisers blank it in the data set only
        series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
    if skipped:
        names = ", ".join(skipped[:5]) + (", ..." if len(skipped) > 5 else "")
        logger.warning(f"{root}: skipped {len(skipped)} file(s) that are not DICOM: {names}")
    if not series:
        raise DicomError(f"{root}: no DICOM image series found")
    for headers in series.values():
        if any(is_multiframe(h) for h in headers):
            continue  # a multi-frame object: its frames are sorted when it is read
        normal = np.cross(*np.reshape(np.asarray(headers[0].ImageOrientationPatient, float), (2, 3)))
        headers.sort(key=lambda d: float(np.dot(normal, np.asarray(d.ImagePositionPatient, float))))
    return series


def _orientation(header: Dataset) -> tuple[float, ...]:
    return tuple(round(float(v), 3) for v in header.ImageOrientationPatient)


def _size(header: Dataset) -> tuple[int, int]:
    return int(header.Rows), int(header.Columns)


def check_geometry(headers: list[Dataset], folder: str | os.PathLike) -> None:
    """Raise if a slice of a series has another orientation or size than the others.

    A localizer (scout) saved in the same series is the usual cause: stacked with the axial
    slices, it would make the positions look uneven and the volume wrong.

    Raises:
        DicomError: naming the odd file, what differs (orientation, rows x columns) and the series.
    """
    from collections import Counter

    usual_orientation = Counter(_orientation(h) for h in headers).most_common(1)[0][0]
    usual_size = Counter(_size(h) for h in headers).most_common(1)[0][0]
    for h in headers:
        odd = []
        if _orientation(h) != usual_orientation:
            odd.append(f"orientation {list(_orientation(h))} where the other slices have {list(usual_orientation)}")
        if _size(h) != usual_size:
            odd.append(f"size {h.Rows}x{h.Columns} where the other slices are {usual_size[0]}x{usual_size[1]}")
        if odd:
            kind = str(h.get("ImageType", "")).upper()
            what = "a localizer" if "LOCALIZER" in kind else "not a slice of this series"
            raise DicomError(f"{h.filename}: {' and '.join(odd)} in series {h.SeriesInstanceUID} of {folder} "
                             f"({what}? move it out of the folder)")  # fmt: skip


def check_positions(z: np.ndarray, where: str | os.PathLike, names: list[str] | None = None) -> None:
    """Raise if positions along the slice normal (sorted, mm) are not evenly spaced.

    Args:
        z: each slice's (or frame's) position along the normal, ascending.
        where: the folder or file, for the message.
        names: what each position is (e.g. ``frame 7``), named in the message; ``None``: slices.

    Raises:
        UnevenSpacingError: naming the two positions around the gap and the usual spacing.
    """
    if len(z) < 3:
        return
    steps = np.diff(z)
    usual = float(np.median(steps))
    bad = np.flatnonzero(np.abs(steps - usual) > max(GAP_TOLERANCE * abs(usual), 0.01))
    if usual <= 0.01 or bad.size:
        i = int(bad[0]) if bad.size else 0
        what = f" ({names[i]} and {names[i + 1]})" if names else ""
        kind = "frames" if names else "slices"
        raise UnevenSpacingError(
            f"{where}: {kind} are not evenly spaced: {steps[i]:.2f} mm between positions {z[i]:.2f} and "
            f"{z[i + 1]:.2f}{what} (elsewhere {usual:.2f} mm; a missing or duplicate {kind[:-1]}?)"
        )


def check_spacing(headers: list[Dataset], folder: str | os.PathLike) -> None:
    """Raise if the slices of a series (sorted along the normal) are not evenly spaced.

    A missing instance or a duplicate position would otherwise be stacked as if contiguous:
    every slice after the gap would be segmented at the wrong place.

    Raises:
        DicomError: naming the folder, the two positions around the gap and the usual spacing.
    """
    if len(headers) < 3:
        return
    normal = np.cross(*np.reshape(np.asarray(headers[0].ImageOrientationPatient, float), (2, 3)))
    z = np.array([float(np.dot(normal, np.asarray(h.ImagePositionPatient, float))) for h in headers])
    check_positions(z, folder)


def select_series(
    folder: str | os.PathLike,
    series_uid: str | None = None,
    allow_gaps: bool = False,
    skip_suffixes: Sequence[str] = (),
) -> list[Dataset]:
    """The headers of one series of ``folder``, sorted along the slice normal.

    Args:
        folder: a series folder, or a folder with several series.
        series_uid: which series, if the folder holds several.
        allow_gaps: accept unevenly spaced slices (they are then stacked as if contiguous; the
            geometry past a gap is wrong), with a warning.
        skip_suffixes: file name endings that are not slices (:func:`find_series`).

    Raises:
        DicomError: several series and no ``series_uid`` (the message lists them), an unknown
            ``series_uid``, a slice of another orientation or size (:func:`check_geometry`), or
            unevenly spaced slices (see :func:`check_spacing`).
    """
    series = find_series(folder, skip_suffixes)
    if series_uid is not None:
        if series_uid not in series:
            raise DicomError(f"{folder}: no series {series_uid}; found: {_describe(series)}")
        headers = series[series_uid]
    elif len(series) > 1:
        raise SeveralSeriesError(f"{folder}: {len(series)} series found ({_describe(series)})")
    else:
        headers = next(iter(series.values()))
    if any(is_multiframe(h) for h in headers):
        if len(headers) > 1:
            files = ", ".join(Path(h.filename).name for h in headers[:4])
            raise DicomError(f"{folder}: series {headers[0].SeriesInstanceUID} holds {len(headers)} objects, "
                             f"multi-frame among them ({files}); give one multi-frame file as the input")  # fmt: skip
        return headers
    check_geometry(headers, folder)
    try:
        check_spacing(headers, folder)
    except DicomError as e:
        if not allow_gaps:
            raise
        logger.warning(f"{e}; going on as asked (allow_gaps)")
    return headers


def _describe(series: dict[str, list[Dataset]]) -> str:
    return "; ".join(
        f"{uid} ({len(h)} slices, {h[0].get('Modality', '?')}, {h[0].get('SeriesDescription', '')!s})"
        for uid, h in series.items()
    )


def read_series(headers: list[Dataset]):  # -> SimpleITK.Image
    """Read the volume of a series (headers from :func:`select_series`) with SimpleITK.

    The returned image's axes are (x, y, z) in SimpleITK's convention, z following the order of
    ``headers``; origin, spacing (mm) and direction come from the DICOM geometry, and the
    modality's rescale (e.g. CT Hounsfield units) is applied.
    """
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([h.filename for h in headers])
    try:
        return reader.Execute()
    except RuntimeError as e:
        for header in headers:  # ITK does not say which file failed: find it
            problem = pixel_data_problem(header.filename)
            if problem:
                raise DicomError(f"{header.filename}: {problem}") from e
        raise DicomError(f"{Path(headers[0].filename).parent}: cannot read the series ({itk_reason(e)})") from e


def pixel_data_problem(path: str | os.PathLike) -> str | None:
    """Why the pixel data of the DICOM file at ``path`` cannot be read, or ``None`` if it can.

    Checks what ITK's error leaves out: the file is complete (a truncated file has less pixel
    data than its rows, columns, samples and bits say) and pydicom can decode it.
    """
    try:
        ds = pydicom.dcmread(path)
        data = ds.get("PixelData")
        if data is None:
            return "no pixel data"
        if not ds.file_meta.TransferSyntaxUID.is_compressed:
            frames = int(ds.get("NumberOfFrames", 1) or 1)
            need = ds.Rows * ds.Columns * ds.get("SamplesPerPixel", 1) * frames * ds.BitsAllocated // 8
            if len(data) < need:
                return f"pixel data truncated ({len(data)} of {need} bytes; the file is damaged or incomplete)"
        ds.pixel_array  # noqa: B018 (decodes the pixels: the check itself)
    except Exception as e:  # pydicom raises many types for damaged files
        return f"cannot decode the pixel data ({' '.join(str(e).split())})"
    return None
