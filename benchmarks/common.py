"""Shared pieces of the benchmarks: the machine's convolution throughput, FLOP counting, summaries.

FLOPs are counted by PyTorch's ``FlopCounterMode``: convolutions, transposed convolutions and
matrix products (multiply and add count as two), nearly all of a U-Net's arithmetic; normalisation,
pooling and activations are left out, so a network's GFLOP/s understates the work done, never
overstates it.
"""

from __future__ import annotations

import copy
import os
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("UNET3D_DATA", REPO.parent / "shared" / "data"))


class FlopCounter:
    """Counts the FLOPs of the network calls it wraps.

    ``counter.wrap(runner)`` returns a callable that runs ``runner`` (the module, a TorchScript
    copy, a closure) and adds the FLOPs of each call. FLOPs per input shape are worked out once by
    PyTorch's ``FlopCounterMode`` on a meta-device copy of ``module`` (shapes only, no arithmetic),
    so counting costs no measurable time and works for runners it cannot see into.
    """

    def __init__(self, module: nn.Module) -> None:
        self.meta = copy.deepcopy(module).to("meta")
        self.flops = 0
        self.calls = 0
        self._per_shape: dict[tuple[int, ...], int] = {}

    def flops_for(self, shape: tuple[int, ...]) -> int:
        if shape not in self._per_shape:
            with FlopCounterMode(display=False) as mode, torch.no_grad():
                self.meta(torch.empty(shape, device="meta"))
            self._per_shape[shape] = mode.get_total_flops()
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


def read_mask(path: Path):
    """A mask written by ``unet3d segment`` as an array (NIfTI or PNG, the file's own axis order)."""
    import numpy as np

    if path.name.endswith((".nii", ".nii.gz")):
        import nibabel as nib

        return np.asarray(nib.load(path).dataobj)
    from PIL import Image

    with Image.open(path) as im:
        return np.asarray(im)


def dice(a, b) -> float:
    """Mean Dice over the foreground labels present in either mask (1.0 when both are empty)."""
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    scores = []
    for label in sorted((set(np.unique(a).tolist()) | set(np.unique(b).tolist())) - {0}):
        x, y = a == label, b == label
        scores.append(2 * np.sum(x & y) / (np.sum(x) + np.sum(y)))
    return float(np.mean(scores)) if scores else 1.0


def ct_training_set(data_dir: Path, root: Path) -> Path:
    """An MSD-layout training set (``imagesTr/`` + ``labelsTr/``, spleen = 1) cut from the shared
    real CT series and its TotalSegmentator labels (model-made): two cases, the series' upper and
    lower ten slices, 160x160 voxels around the spleen. The labels are stored with their y axis
    flipped, so both are turned to RAS by their affines (checked equal) before cutting.

    Returns ``root``.
    """
    import json

    import nibabel as nib
    import numpy as np
    from monai.transforms import EnsureChannelFirst, LoadImage, Orientation

    dicom = data_dir / "dicom"
    names = json.loads((dicom / "label_names_totalseg_v2.json").read_text())["total"]
    spleen = int(next(k for k, v in names.items() if v == "spleen"))
    load, ras = LoadImage(image_only=True), Orientation("RAS")
    image = ras(EnsureChannelFirst()(load(dicom / "ct_abdomen_series")))
    label = ras(EnsureChannelFirst()(load(dicom / "ct_abdomen_series_totalseg_labels.nii.gz")))
    np.testing.assert_allclose(image.affine, label.affine, atol=1e-3)
    mask = np.asarray(label[0]) == spleen
    xs, ys, _ = np.nonzero(mask)
    cx, cy = int(xs.mean()), int(ys.mean())
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, z in (("ct_a", slice(0, 10)), ("ct_b", slice(10, 20))):
        cut = (slice(cx - 80, cx + 80), slice(cy - 80, cy + 80), z)
        affine = np.asarray(image.affine, dtype=float).copy()
        affine[:3, 3] += affine[:3, :3] @ np.array([s.start for s in cut])
        assert mask[cut].sum() > 1000  # spleen in both cases
        nib.save(
            nib.Nifti1Image(np.asarray(image[0])[cut].astype(np.int16), affine), root / "imagesTr" / f"{name}.nii.gz"
        )
        nib.save(nib.Nifti1Image(mask[cut].astype(np.uint8), affine), root / "labelsTr" / f"{name}.nii.gz")
    return root
