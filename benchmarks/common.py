"""Shared pieces of the benchmarks: the machine's convolution throughput, FLOP counting, summaries.

The FLOPs counted are those of convolutions and transposed convolutions (multiply and add count
as two), which are nearly all of a U-Net's arithmetic; normalisation, pooling and activations are
left out, so a network's GFLOP/s understates the work done, never overstates it.
"""

from __future__ import annotations

import copy
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("UNET3D_DATA", REPO.parent / "shared" / "data"))

CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def conv_flops(module: nn.Module, inputs: torch.Tensor, output: torch.Tensor) -> int:
    """FLOPs of one call of a (transposed) convolution: 2 x multiply-adds."""
    kernel = math.prod(module.kernel_size)  # type: ignore[arg-type]
    if isinstance(module, TRANSPOSED):  # every input voxel is spread over a kernel of outputs
        return 2 * inputs.numel() * kernel * module.out_channels // module.groups  # type: ignore[operator]
    return 2 * output.numel() * kernel * module.in_channels // module.groups  # type: ignore[operator]


class FlopCounter:
    """Counts the convolution FLOPs of the network calls it wraps.

    ``counter.wrap(runner)`` returns a callable that runs ``runner`` (the module, a TorchScript
    copy, a closure) and adds the FLOPs of each call. FLOPs per input shape are worked out once,
    with forward hooks on a meta-device copy of ``module`` (shapes only, no arithmetic), so
    counting costs no measurable time and works for runners that hooks cannot see into.
    """

    def __init__(self, module: nn.Module) -> None:
        self.meta = copy.deepcopy(module).to("meta")
        self.flops = 0
        self.calls = 0
        self._per_shape: dict[tuple[int, ...], int] = {}

    def flops_for(self, shape: tuple[int, ...]) -> int:
        if shape not in self._per_shape:
            total = [0]

            def hook(module: nn.Module, args: tuple, output: torch.Tensor) -> None:
                total[0] += conv_flops(module, args[0], output)

            handles = [m.register_forward_hook(hook) for m in self.meta.modules() if isinstance(m, CONVS + TRANSPOSED)]
            with torch.no_grad():
                self.meta(torch.empty(shape, device="meta"))
            for h in handles:
                h.remove()
            self._per_shape[shape] = total[0]
        return self._per_shape[shape]

    def wrap(self, runner: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
        counter = self

        class Counted:
            depth = getattr(self.meta, "depth", None)  # read by the overlap-tile inferer
            valid = getattr(self.meta, "valid", None)

            def __call__(self, x: torch.Tensor, *args, **kwargs) -> torch.Tensor:
                counter.flops += counter.flops_for(tuple(x.shape))
                counter.calls += 1
                return runner(x, *args, **kwargs)

        return Counted()


def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def conv_peak_gflops(repeats: int = 5) -> dict:
    """Measured throughput of one large 3D convolution (64 -> 64 channels, 3x3x3, 64^3 voxels).

    This is the machine's practical limit for the arithmetic a U-Net is made of: a wide
    convolution that PyTorch's oneDNN kernels run at their best. Returns the median GFLOP/s and
    the min-max over ``repeats``.
    """
    conv = nn.Conv3d(64, 64, 3, padding=1).eval()
    x = torch.randn(1, 64, 64, 64, 64)
    flops = 2 * 64 * 64 * 27 * 64**3
    with torch.inference_mode():
        times = timed(lambda: conv(x), repeats)
    rates = [flops / t / 1e9 for t in times]
    return {"gflops_median": statistics.median(rates), "gflops_min": min(rates), "gflops_max": max(rates),
            "threads": torch.get_num_threads()}  # fmt: skip


def summary(values: Sequence[float]) -> dict:
    """Median, min and max of a list of measurements."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def dice(a, b) -> float:
    """Mean Dice over the foreground labels present in either mask (1.0 when both are empty)."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    scores = []
    for label in sorted(set(np.unique(a)) | set(np.unique(b)) - {0}):
        x, y = a == label, b == label
        scores.append(2 * np.sum(x & y) / (np.sum(x) + np.sum(y)))
    return float(np.mean(scores)) if scores else 1.0
