"""A napari layer's data through a 2D bundle, without Qt: single images and stacks, page by page.

napari holds an image as ``(..., rows, columns)``, or ``(..., rows, columns, 3|4)`` for an RGB(A)
layer; a bundle's predictor takes MONAI's ``(x, y[, C])`` (:func:`unet3d.inference.inputs.page_tensor`
converts). Every leading axis (z, time, ...) is a page: each page is segmented as the image alone
would be (:func:`unet3d.inference.pages.segment_pages`, as ``unet3d segment`` does for stacks).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

import unet3d
from unet3d.inference.inputs import page_tensor
from unet3d.inference.layout import BundleLayout, find_bundles
from unet3d.inference.pages import segment_pages


def default_bundles_dir() -> Path:
    """Where the shipped bundles are: ``$UNET3D_BUNDLES``, else ``bundles/`` of the checkout the
    package is installed from (editable install), else ``./bundles``."""
    if os.environ.get("UNET3D_BUNDLES"):
        return Path(os.environ["UNET3D_BUNDLES"])
    checkout = Path(unet3d.__file__).resolve().parent.parent / "bundles"
    return checkout if checkout.is_dir() else Path("bundles")


def bundles_2d(folder: str | os.PathLike | None = None) -> dict[str, BundleLayout]:
    """The 2D bundles with weights under ``folder`` (default :func:`default_bundles_dir`), by name."""
    found = find_bundles(folder or default_bundles_dir())
    return {name: layout for name, layout in found.items() if layout.spatial_dims == 2 and layout.has_weights}


def pages_of(data: Any, rgb: bool) -> tuple[np.ndarray, tuple[int, ...]]:
    """A layer's data as pages ``(pages, rows, columns[, C])`` and the leading shape they came from.

    Raises:
        ValueError: fewer than two image axes.
    """
    array = np.asarray(data)
    image_axes = 3 if rgb else 2
    if array.ndim < image_axes:
        raise ValueError(f"a layer of shape {array.shape} is not an image")
    leading = array.shape[: array.ndim - image_axes]
    return array.reshape(-1, *array.shape[array.ndim - image_axes :]), leading


def segment_layer(
    predictor: Any, data: Any, rgb: bool, probabilities: bool = False
) -> Generator[int, None, tuple[np.ndarray, np.ndarray | None]]:
    """Segment a layer's data with a 2D bundle's predictor, page by page.

    Args:
        predictor: a 2D :class:`unet3d.inference.BundlePredictor`.
        data: the layer's data, ``(..., rows, columns)`` or RGB(A) ``(..., rows, columns, C)``.
        rgb: whether the last axis holds colours (napari's ``layer.rgb``).
        probabilities: also return the softmax ``(classes, rows, columns)`` of a single image.

    Yields:
        The number of pages done (0, 1, ..., pages), for a progress bar; the generator's return
        value is ``(labels, probabilities or None)``: labels shaped as ``data`` without colours,
        uint8 classes or uint16 instance ids (the bundle's ``mask_dtype``).

    Raises:
        ValueError: a colour layer for a bundle that takes gray images; a bundle that is not 2D.
    """
    if predictor.spatial_dims != 2:
        raise ValueError(f"{predictor.layout.root}: a {predictor.spatial_dims}D bundle; the plugin runs 2D bundles")
    if rgb and not predictor.accepts_color:
        raise ValueError(f"{predictor.layout.name} takes gray images; this layer is RGB")
    pages, leading = pages_of(data, rgb)
    dtype = predictor.layout.mask_dtype
    yield 0
    if not leading:  # a single image
        prediction = predictor.predict(page_tensor(pages[0], "napari layer"), probabilities=probabilities)
        yield 1
        probs = np.asarray(prediction.probabilities).swapaxes(1, 2) if probabilities else None
        return np.asarray(prediction.labels).T.astype(dtype), probs
    labels = np.zeros((len(pages), *pages.shape[1:3]), dtype)
    tensors = (page_tensor(page, "napari layer") for page in pages)
    for i, page_labels in enumerate(segment_pages(predictor, tensors, len(pages), predictor.layout.instances)):
        labels[i] = page_labels.T
        yield i + 1
    return labels.reshape(*leading, *labels.shape[1:]), None
