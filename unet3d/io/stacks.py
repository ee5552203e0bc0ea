"""Multi-page TIFF stacks (z-stacks, time-lapses, OME-TIFF, ImageJ hyperstacks) read and written page by page.

A 2D bundle segments a stack one page (one 2D plane) at a time, so that a long stack never has to
be in memory whole: :class:`TiffStack` reads one page on demand and :func:`write_page_stack`
writes the mask pages as they come, into one multi-page TIFF with the input's page layout.

Axes are tifffile's (``T`` time, ``Z`` depth, ``C`` channel, ``Y`` rows, ``X`` columns, ``S``
samples of a colour pixel, ``Q``/``I`` unnamed pages). From OME metadata where present (the axes
and physical sizes of OME-TIFF), else from ImageJ's tags, else every page is one plane of the
stack. A page is a ``(Y, X)`` or colour ``(Y, X, S)`` plane; every axis before ``Y`` is a page
axis, and the pages are numbered in file order (C order over the page axes).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from unet3d.io.atomic import atomic_write
from unet3d.io.errors import InputError

TIFF_SUFFIXES = (".tif", ".tiff")
# OME Pixels attributes a mask keeps (sizes of one pixel, plane step, time step, their units)
_OME_KEEP = ("PhysicalSizeX", "PhysicalSizeY", "PhysicalSizeZ", "TimeIncrement")


def tiff_pages(path: str | os.PathLike, color: bool = False) -> int:
    """The number of 2D planes in a TIFF file from its header: 1 for a single image, 0 if the
    file is not a TIFF that tifffile reads (the 2D image reader then reports the problem).

    Args:
        path: the file.
        color: pages may be colour; for a gray bundle a single planar 3- or 4-sample image
            (``SYX``) counts as that many pages (see :func:`open_tiff_stack`).
    """
    import tifffile

    if not str(path).lower().endswith(TIFF_SUFFIXES):
        return 0
    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            axes, shape = series.axes, series.shape
    except Exception:  # (tifffile raises many kinds; the image reader names the problem)
        return 0
    if axes == "SYX" and not color:
        return int(shape[0])
    return math.prod(n for a, n in zip(axes, shape, strict=True) if a not in "YXSC") or 1


def _ome_pixels(xml: str) -> dict[str, str]:
    """The attributes of the first OME ``Pixels`` element."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(xml)
    pixels = next((e for e in root.iter() if e.tag.endswith("}Pixels") or e.tag == "Pixels"), None)
    return dict(pixels.attrib) if pixels is not None else {}


@dataclass
class TiffStack:
    """A multi-page TIFF opened for reading page by page (use as a context manager).

    Attributes:
        path: the file.
        axes: the page axes then ``YX`` (and ``S`` for colour pages), e.g. ``ZYX``, ``TZYX``, ``QYXS``.
        shape: the sizes along ``axes``.
        kind: ``ome``, ``imagej`` or ``tiff`` (the metadata the mask is written with).
        metadata: what the mask keeps: OME physical sizes, ImageJ spacing/unit/frame interval.
        resolution: the first page's X and Y resolution tags and unit, if any.
    """

    path: Path
    axes: str
    shape: tuple[int, ...]
    kind: str = "tiff"
    metadata: dict[str, Any] = field(default_factory=dict)
    resolution: tuple[Any, ...] | None = None
    _tif: Any = None
    _planar_pages: np.ndarray | None = None

    @property
    def page_axes(self) -> str:
        return self.axes[: self.axes.index("Y")]

    @property
    def page_shape(self) -> tuple[int, ...]:
        """The sizes of the page axes (e.g. ``(T, Z)``)."""
        return self.shape[: len(self.page_axes)]

    @property
    def pages(self) -> int:
        return math.prod(self.page_shape)

    @property
    def colour(self) -> bool:
        return self.axes.endswith("S")

    def page(self, index: int) -> np.ndarray:
        """Page ``index`` (file order) as ``(Y, X)`` or ``(Y, X, S)``, in the file's dtype."""
        if not 0 <= index < self.pages:
            raise IndexError(f"page {index} of a {self.pages}-page stack")
        if self._planar_pages is not None:
            return self._planar_pages[index]
        try:
            return np.asarray(self._tif.asarray(key=index, series=0))
        except Exception as e:  # tifffile raises many kinds for damaged pages
            reason = " ".join(str(e).split())
            raise InputError(f"{self.path}: page {index + 1} cannot be read ({type(e).__name__}: {reason})") from e

    def close(self) -> None:
        if self._tif is not None:
            self._tif.close()
            self._tif = None

    def __enter__(self) -> TiffStack:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_tiff_stack(path: str | os.PathLike, color: bool = False) -> TiffStack:
    """Open a multi-page TIFF for page-by-page reading.

    Args:
        path: the TIFF file.
        color: the bundle takes colour pages (``S`` of 3 or 4 samples stays with each page); for a
            bundle that takes gray pages, a single planar 3- or 4-sample page (what
            ``tifffile.imwrite`` makes of a ``(3, rows, cols)`` stack by default) is read as pages.

    Raises:
        InputError: not a readable TIFF, several channels per plane (``C`` > 1), colour pages for
            a gray bundle.
    """
    import tifffile

    p = Path(path)
    try:
        tif = tifffile.TiffFile(p)
    except Exception as e:  # (tifffile raises many kinds for damaged files)
        raise InputError(f"{p}: not a readable TIFF ({type(e).__name__}: {' '.join(str(e).split())})") from e
    try:
        series = tif.series[0]
        axes, shape = series.axes, tuple(int(n) for n in series.shape)
        stack = TiffStack(p, axes, shape, _tif=tif)
        if tif.is_ome and tif.ome_metadata:
            attrs = _ome_pixels(tif.ome_metadata)
            stack.kind = "ome"
            for key in _OME_KEEP:
                if key in attrs:
                    stack.metadata[key] = float(attrs[key])
                    if f"{key}Unit" in attrs:
                        stack.metadata[f"{key}Unit"] = attrs[f"{key}Unit"]
        elif tif.is_imagej:
            stack.kind = "imagej"
            ij = tif.imagej_metadata or {}
            stack.metadata = {k: ij[k] for k in ("spacing", "unit", "finterval") if k in ij}
        page = tif.pages.first
        if "XResolution" in page.tags and "YResolution" in page.tags:
            stack.resolution = (*page.resolution, int(page.resolutionunit))
        channels = dict(zip(axes, shape, strict=True)).get("C", 1)
        if channels > 1:
            raise InputError(f"{p}: {channels} channels per plane (axes {axes}); save the channel to segment alone")
        if "C" in axes:  # one channel: not a page axis
            stack.axes = axes.replace("C", "")
            stack.shape = tuple(n for a, n in zip(axes, shape, strict=True) if a != "C")
        if stack.axes == "SYX" and not color:
            stack._planar_pages = np.asarray(tif.asarray(series=0))  # a few planes: cheap
            stack.axes = "QYX"
        elif "S" in stack.axes and not (color and stack.axes.endswith("S")):
            raise InputError(f"{p}: colour pages (axes {axes}); this bundle takes single-channel (gray) images")
    except InputError:
        tif.close()
        raise
    except Exception as e:
        tif.close()
        raise InputError(f"{p}: not a readable TIFF stack ({type(e).__name__}: {' '.join(str(e).split())})") from e
    return stack


def write_page_stack(
    path: str | os.PathLike, pages: Iterable[np.ndarray], like: TiffStack, dtype: str, overwrite: bool = False
) -> Path:
    """Write mask pages ``(Y, X)`` as one multi-page TIFF laid out like the input stack ``like``.

    The pages are written as they come from ``pages`` (a generator may compute them), so memory
    holds one page at a time. The file has the input's page axes and order; OME-TIFF input gives
    OME-TIFF with its physical sizes, ImageJ input an ImageJ hyperstack with its spacing, unit and
    frame interval, and the resolution tags are kept. Atomic: an error or an interruption leaves
    no file.

    Args:
        path: the output ``.tif``.
        pages: ``like.pages`` label pages, in file order.
        like: the input stack.
        dtype: ``uint8`` or ``uint16``.
        overwrite: replace an existing file.
    """
    import tifffile

    axes = like.page_axes + "YX"
    shape = (*like.page_shape, *like.shape[len(like.page_axes) : len(like.page_axes) + 2])
    options: dict[str, Any] = {"shape": shape, "dtype": dtype, "photometric": "minisblack"}
    if like.kind == "ome" and set(like.page_axes) <= set("TZ"):
        options.update(ome=True, metadata={"axes": axes, **like.metadata})
    elif like.kind == "imagej" and set(like.page_axes) <= set("TZ"):
        options.update(imagej=True, metadata={"axes": axes, **like.metadata})
    else:
        options["metadata"] = {"axes": axes}
    if like.resolution:
        options.update(resolution=like.resolution[:2], resolutionunit=like.resolution[2])
    count = 0

    def checked() -> Iterator[np.ndarray]:
        nonlocal count
        for page in pages:
            count += 1
            if count > like.pages:
                break
            yield np.ascontiguousarray(page, dtype=dtype)

    def write(tmp: str) -> None:
        tifffile.imwrite(tmp, checked(), **options)
        if count != like.pages:
            raise ValueError(f"{count} mask pages for a {like.pages}-page stack")

    return atomic_write(path, write, overwrite=overwrite)
