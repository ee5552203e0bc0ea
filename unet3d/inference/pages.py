"""2D bundles on stacks: every page (2D plane) of a stack or volume segmented as a single image would be.

Pages go through the bundle's predictor one at a time, so memory holds one page of logits
whatever the stack's length. Instance ids are numbered per page (each page's objects ``1..n``);
on request, objects are linked across consecutive pages by overlap (:func:`stitch`), as Cellpose
does for 3D stacks, into objects with one id through the stack.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def stitch(previous: np.ndarray | None, labels: np.ndarray, next_id: int, iou: float = 0.25) -> tuple[np.ndarray, int]:
    """Give the objects of page ``labels`` the ids of the objects they continue on ``previous``.

    Each object of ``previous`` is matched with the object of ``labels`` it overlaps most; a
    match whose intersection over union is at least ``iou`` keeps the previous id, every other
    object of ``labels`` gets a new id from ``next_id`` on (Cellpose's ``stitch3D`` rule).

    Args:
        previous: the previous page's stitched ids ``(x, y)``, or ``None`` on a stack's first page.
        labels: this page's instance ids ``(x, y)`` (0 = background).
        next_id: the first id not used yet in the stack.
        iou: the least intersection over union that links two objects.

    Returns:
        ``(ids, next_id)``: this page with stitched ids, and the next free id.
    """
    labels = np.asarray(labels)
    current = np.unique(labels[labels > 0])
    if current.size == 0:
        return np.zeros(labels.shape, np.int64), next_id
    cur = np.searchsorted(current, labels) + 1  # 1..n = this page's objects
    cur[labels <= 0] = 0
    ids = np.zeros(current.size + 1, np.int64)  # this page's object -> stitched id (0: none yet)
    if previous is not None and previous.any():
        before = np.unique(previous[previous > 0])
        prev = np.searchsorted(before, previous) + 1
        prev[previous <= 0] = 0
        n, m = current.size + 1, before.size + 1
        overlap = np.bincount(cur.ravel() * m + prev.ravel(), minlength=n * m).reshape(n, m)[1:, 1:].astype(np.float64)
        union = (
            np.bincount(cur.ravel(), minlength=current.size + 1)[1:, None]
            + np.bincount(prev.ravel(), minlength=before.size + 1)[None, 1:]
            - overlap
        )
        ratio = overlap / np.maximum(union, 1)
        ratio[ratio < iou] = 0.0
        ratio[ratio < ratio.max(axis=0, keepdims=True)] = 0.0  # a previous object continues once at most
        matched = ratio.max(axis=1) > 0
        ids[1:][matched] = before[ratio.argmax(axis=1)[matched]]
    fresh = np.flatnonzero(ids[1:] == 0) + 1
    ids[fresh] = np.arange(next_id, next_id + fresh.size)
    return ids[cur], next_id + int(fresh.size)


@dataclass
class PageSummary:
    """What a report needs of a stack, gathered page by page (a few pages kept for the picture)."""

    pages: int = 0
    keep: tuple[int, ...] = ()
    kept: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    confidence_sum: dict[int, float] = field(default_factory=dict)
    confidence_count: dict[int, int] = field(default_factory=dict)


def sample_pages(count: int, most: int = 3) -> tuple[int, ...]:
    """The pages a report shows: the first, the middle and the last (fewer for short stacks)."""
    return tuple(sorted({0, (count - 1) // 2, count - 1}))[:most] if count > 0 else ()


def segment_pages(
    predictor: Any,
    pages: Iterable[Any],
    count: int,
    instances: bool,
    stitch_iou: float | None = None,
    inner: int | None = None,
    summary: PageSummary | None = None,
) -> Iterator[np.ndarray]:
    """Labels of each page, in page order, as the bundle's predictor gives them for a single image.

    Args:
        predictor: a 2D :class:`unet3d.inference.BundlePredictor`.
        pages: each page as the predictor takes a single image: ``(x, y)`` or colour
            ``(x, y, C)`` (MONAI axis order), e.g. ``MetaTensor`` pages.
        count: the number of pages.
        instances: the bundle gives instance ids (then ``stitch_iou`` may link them).
        stitch_iou: link objects across consecutive pages whose intersection over union reaches
            this value (:func:`stitch`); ``None``: ids per page.
        inner: the length of the innermost page axis (e.g. Z of a TZYX hyperstack): stitching
            starts afresh at every multiple of it; ``None``: the whole stack is one run.
        summary: filled with what a QC report needs (a few pages, confidence per label).

    Yields:
        ``(x, y)`` integer labels per page.

    Raises:
        ValueError: stitched ids pass 65535 (what a uint16 mask holds).
    """
    previous, next_id = None, 1
    keep = sample_pages(count)
    if summary is not None:
        summary.pages, summary.keep = count, keep
    for index, page in enumerate(pages):
        prediction = predictor.predict(page, probabilities=summary is not None)
        labels = np.asarray(prediction.labels)
        if instances and stitch_iou is not None:
            if inner and index % inner == 0:
                previous = None
            labels, next_id = stitch(previous, labels, next_id, stitch_iou)
            if next_id - 1 > np.iinfo(np.uint16).max:
                raise ValueError(f"more than {np.iinfo(np.uint16).max} stitched objects; a mask holds at most that")
            previous = labels
        if summary is not None:
            if index in keep:
                summary.kept.append((np.asarray(page), labels))
            if prediction.probabilities is not None:
                top = np.asarray(prediction.probabilities).max(axis=0)
                values = [1] if instances else [int(v) for v in np.unique(labels)]
                for value in values:
                    region = labels > 0 if instances else labels == value
                    summary.confidence_sum[value] = summary.confidence_sum.get(value, 0.0) + float(top[region].sum())
                    summary.confidence_count[value] = summary.confidence_count.get(value, 0) + int(region.sum())
        yield labels
