"""Sliding windows as large as the input allows: fewer windows, less overlap computed twice."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from monai.inferers import SlidingWindowInferer


class FittedWindowInferer(SlidingWindowInferer):
    """MONAI's ``SlidingWindowInferer`` whose window grows with the input, up to ``max_roi_size``.

    Per spatial axis the window is the input's size rounded up to a multiple of ``multiple``,
    but at least ``roi_size`` (the training patch: an input no larger than it is inferred exactly
    as by ``SlidingWindowInferer(roi_size)``, one zero-padded window) and at most
    ``max_roi_size``. On a large input fewer windows meet inside structures and each sees more
    context; at the same overlap fraction every voxel is still computed about
    ``(1 / (1 - overlap)) ** 3`` times, whatever the window. A padded network's output depends on its
    window (instance norm statistics, border context), so which ``max_roi_size`` is best is
    measured, not assumed (``benchmarks/window.py``).

    Args:
        roi_size: the smallest window, usually the training patch, ``(x, y, z)`` voxels.
        max_roi_size: the largest window.
        multiple: window sizes are multiples of it (``2 ** depth`` for a U-Net with ``depth``
            poolings, so that every level has whole voxels).
        kwargs: the other ``SlidingWindowInferer`` arguments (``overlap``, ``mode``,
            ``sw_batch_size``, ...), used for every window size.

    Example::

        >>> inferer = FittedWindowInferer((40, 56, 40), (128, 128, 128), overlap=0.25, mode="gaussian")
        >>> inferer.window_for((35, 51, 35))     # (40, 56, 40): the training patch
        >>> inferer.window_for((512, 512, 200))  # (128, 128, 128)
    """

    def __init__(self, roi_size: Sequence[int], max_roi_size: Sequence[int], multiple: int = 8, **kwargs: Any) -> None:
        super().__init__(roi_size=roi_size, **kwargs)
        if len(max_roi_size) != len(roi_size) or any(m < r for m, r in zip(max_roi_size, roi_size, strict=True)):
            raise ValueError(f"max_roi_size {tuple(max_roi_size)} must be at least roi_size {tuple(roi_size)} per axis")
        self.min_roi_size = tuple(int(r) for r in roi_size)
        self.max_roi_size = tuple(int(m) for m in max_roi_size)
        self.multiple = int(multiple)
        self.settings = dict(kwargs)
        self._sized: dict[tuple[int, ...], SlidingWindowInferer] = {}

    def window_for(self, spatial_shape: Sequence[int]) -> tuple[int, ...]:
        """The window for an input of ``spatial_shape`` voxels (see the class)."""
        return tuple(
            min(hi, max(lo, self.multiple * math.ceil(s / self.multiple)))
            for s, lo, hi in zip(spatial_shape, self.min_roi_size, self.max_roi_size, strict=True)
        )

    def __call__(self, inputs: torch.Tensor, network: Any, *args: Any, **kwargs: Any) -> Any:
        """Logits ``(N, C_out, *spatial)`` for ``inputs`` ``(N, C, *spatial)``."""
        window = self.window_for(inputs.shape[2:])
        if window == self.min_roi_size:
            return super().__call__(inputs, network, *args, **kwargs)
        if window not in self._sized:
            self._sized[window] = SlidingWindowInferer(roi_size=window, **self.settings)
        return self._sized[window](inputs, network, *args, **kwargs)
