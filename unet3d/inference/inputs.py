"""One input of ``unet3d segment``: read, segmented (whole, or page by page for a 2D bundle), written.

Three cases, by the input and the bundle's dimension:

- an image or volume of the bundle's own dimension: segmented whole (:meth:`BundlePredictor.predict`);
- a multi-page TIFF for a 2D bundle: read, segmented and written one page at a time
  (:mod:`unet3d.io.stacks`), so a long stack never lies in memory whole;
- a 3D volume (NIfTI, NRRD, MHA, DICOM) for a 2D bundle: segmented plane by plane along its last
  axis (``z``), the mask written in the volume's geometry as for a 3D bundle.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from monai.data.utils import affine_to_spacing

from unet3d.inference.layout import BundleLayout
from unet3d.inference.pages import PageSummary, segment_pages
from unet3d.inference.predictor import BundlePredictor, Prediction
from unet3d.io.channel_files import read_channel_files
from unet3d.io.errors import InputError
from unet3d.io.formats import check_outputs, output_tags, read_volume, write_mask
from unet3d.io.stacks import open_tiff_stack, tiff_pages, write_page_stack
from unet3d.io.volume import Volume
from unet3d.io.writers import write_probabilities
from unet3d.report import confidence, encoded, label_statistics, thumbnail, write_record
from unet3d.report.stats import mask_statistics, reported_labels


def probabilities_path(mask_path: Path, spatial_dims: int) -> Path:
    """Where ``--probabilities`` puts an input's softmax: ``<stem>_prob.nii.gz`` for volumes
    (DICOM inputs included, beside their SEG), ``<stem>_prob.tif`` for 2D images."""
    name = next((mask_path.name.split(f"_{t}.")[0] for t in output_tags() if f"_{t}." in mask_path.name),
                mask_path.name)  # fmt: skip
    return mask_path.with_name(f"{name}_prob{'.nii.gz' if spatial_dims == 3 else '.tif'}")


def page_tensor(page: np.ndarray, source: str | os.PathLike) -> Any:
    """A page as read from a file, ``(rows, columns[, samples])``, as the predictor takes a single
    2D image: a float32 ``MetaTensor`` ``(x, y[, samples])`` (MONAI axis order)."""
    import torch
    from monai.data import MetaTensor

    array = np.asarray(page, np.float32)
    array = np.ascontiguousarray(array.swapaxes(0, 1))
    meta = {"filename_or_obj": str(source), "original_channel_dim": -1 if array.ndim == 3 else float("nan")}
    return MetaTensor(torch.from_numpy(array), meta=meta)


def thumbnail_of(volume: Volume, mask: np.ndarray, instances: bool) -> np.ndarray:
    """The report's overlay picture of an input and its mask (:func:`unet3d.report.thumbnail`)."""
    affine = np.asarray(volume.image.affine) if len(volume.spatial_shape) == 3 else None
    return thumbnail(volume.first_channel, mask, affine, instances)


def pages_thumbnail(summary: PageSummary, instances: bool) -> np.ndarray:
    """A stack's picture: its sampled pages (first, middle, last) side by side."""
    panels: list[np.ndarray] = []
    for image, labels in summary.kept:
        picture = thumbnail(image, labels, None, instances)
        if panels:
            panels.append(np.full((picture.shape[0], 2, 3), 255, np.uint8))
        panels.append(picture)
    height = min(p.shape[0] for p in panels)
    return np.concatenate([p[:height] for p in panels], axis=1)


def qc_record(volume: Volume, mask: np.ndarray, prediction: Prediction, layout: BundleLayout, seconds: float) -> dict:
    """One input's QC record: sizes per label, confidence and disagreement (label names as keys)."""
    names = layout.channel_def
    labels = reported_labels(names, [int(v) for v in np.unique(mask)], layout.instances)
    spacing = affine_to_spacing(np.asarray(volume.image.affine, dtype=np.float64), r=3).tolist()
    record = {
        "input": str(Path(volume.path).resolve()),
        "seconds": seconds,
        "members": prediction.members,
        "labels": label_statistics(mask, spacing, names, layout.instances),
        "confidence": None,
        "disagreement": None,
    }
    if prediction.probabilities is not None:
        record["confidence"] = confidence(np.asarray(prediction.probabilities), mask, labels, layout.instances)
    if prediction.disagreement is not None:
        record["disagreement"] = {name: prediction.disagreement.get(value) for value, name in labels.items()}
    return record


@dataclass
class InputJob:
    """One input to segment into ``out`` (format ``fmt``) with ``predictor``."""

    path: Path
    out: Path
    fmt: str
    predictor: BundlePredictor
    output_dir: Path
    overwrite: bool = False
    stitch_iou: float | None = None
    also: list[tuple[Path, str]] = field(default_factory=list)  # more outputs of the mask: (path, format)
    more_channels: list[Path] = field(default_factory=list)  # nnU-Net's channel files after ``path`` (_0000)

    @property
    def layout(self) -> BundleLayout:
        return self.predictor.layout

    def run(self, series_uid: str | None, allow_gaps: bool, probabilities: bool, report: bool) -> Path:
        """Segment and write; returns the mask file. Raises :class:`InputError` for a bad input."""
        began = time.perf_counter()
        if self.predictor.spatial_dims == 2 and tiff_pages(self.path) > 1:
            return self._tiff_stack(probabilities, report, began)
        color = self.predictor.accepts_color
        if self.more_channels:
            volume = read_channel_files([self.path, *self.more_channels], allow_gaps=allow_gaps)
        else:
            volume = read_volume(self.path, series_uid=series_uid, color=color, allow_gaps=allow_gaps,
                                 channels=self.layout.volume_channels)  # fmt: skip
        check_outputs(volume, self.fmt, *(f for _, f in self.also))  # before segmenting
        dims, wanted = len(volume.spatial_shape), self.predictor.spatial_dims
        if dims == 3 and wanted == 2:
            return self._volume_pages(volume, probabilities, report, began)
        if dims != wanted:
            raise InputError(f"{self.path}: {dims}D input for a {wanted}D bundle ({self.layout.root})")
        try:
            prediction = self.predictor.predict(volume.image, probabilities=probabilities or report, agreement=report)
        except ValueError as e:
            raise InputError(f"{self.path}: {e}") from e
        mask = np.asarray(prediction.labels)
        prob_out = probabilities_path(self.out, wanted)
        if probabilities:
            assert prediction.probabilities is not None
            write_probabilities(volume, np.asarray(prediction.probabilities), prob_out, self.overwrite)
        written = self._write(volume, mask)
        if report:
            record = qc_record(volume, mask, prediction, self.layout, time.perf_counter() - began)
            record["probabilities"] = prob_out.name if probabilities else None
            write_record(self.output_dir, self.out, record, encoded(thumbnail_of(volume, mask, self.layout.instances)))
        return written

    def _write(self, volume: Volume, mask: np.ndarray) -> Path:
        """The mask in each format asked for; if one fails, those written for this input are removed."""
        layout = self.layout
        written: list[Path] = []
        try:
            for out, fmt in [(self.out, self.fmt), *self.also]:
                written.append(write_mask(volume, mask, out, fmt, self.overwrite, layout.channel_def,
                                          layout.dicom_seg_codes, dtype=layout.mask_dtype))  # fmt: skip
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        return written[0]

    def _no_probabilities(self, probabilities: bool) -> None:
        if probabilities:
            raise InputError(f"{self.path}: probabilities are not written for inputs segmented page by page")

    def _pages(self, pages: Any, count: int, inner: int | None, summary: PageSummary | None) -> Any:
        try:
            yield from segment_pages(self.predictor, pages, count, self.layout.instances, self.stitch_iou, inner,
                                     summary)  # fmt: skip
        except InputError:
            raise
        except ValueError as e:
            raise InputError(f"{self.path}: {e}") from e

    def _tiff_stack(self, probabilities: bool, report: bool, began: float) -> Path:
        self._no_probabilities(probabilities)
        if self.fmt != "tiff" or self.also:
            raise InputError(f"{self.path}: a stack's mask is written as a multi-page TIFF; {self.fmt} takes one image")
        summary = PageSummary() if report else None
        with open_tiff_stack(self.path, color=self.predictor.accepts_color) as stack:
            pages = (page_tensor(stack.page(i), self.path) for i in range(stack.pages))
            inner = stack.page_shape[-1] if len(stack.page_shape) > 1 else None
            labels = self._pages(pages, stack.pages, inner, summary)
            dtype = self.layout.mask_dtype
            written = write_page_stack(self.out, (page.T for page in labels), stack, dtype, self.overwrite)
        if summary is not None:
            self._record(summary, time.perf_counter() - began)
        return written

    def _volume_pages(self, volume: Volume, probabilities: bool, report: bool, began: float) -> Path:
        self._no_probabilities(probabilities)
        image = np.asarray(volume.image)
        summary = PageSummary() if report else None
        pages = (page_tensor(image[..., k].T, self.path) for k in range(image.shape[-1]))
        mask = np.stack(list(self._pages(pages, image.shape[-1], None, summary)), axis=-1)
        written = self._write(volume, mask)
        if summary is not None:
            self._record(summary, time.perf_counter() - began)
        return written

    def _record(self, summary: PageSummary, seconds: float) -> None:
        layout = self.layout
        stats, _ = mask_statistics(self.out, layout.channel_def, layout.instances)
        names = reported_labels(layout.channel_def, list(summary.confidence_count), layout.instances)
        counts = summary.confidence_count
        score = {names[v]: summary.confidence_sum[v] / n for v, n in counts.items() if n and v in names}
        record = {
            "input": str(self.path.resolve()),
            "seconds": seconds,
            "members": self.predictor.members,
            "pages": summary.pages,
            "pages_shown": [i + 1 for i in summary.keep],
            "labels": stats,
            "confidence": score or None,
            "disagreement": None,
            "probabilities": None,
        }
        write_record(self.output_dir, self.out, record, encoded(pages_thumbnail(summary, layout.instances)))
