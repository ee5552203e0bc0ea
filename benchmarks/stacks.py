"""Stacks for 2D bundles: seconds per page of a multi-page TIFF against the same pages as single
images, peak memory against stack length, and whether a batch of pages would run faster.

- ``--pages N`` ISBI 2012 test sections (512x512) as one multi-page TIFF and as N PNGs, segmented by
  the EM bundle with one predictor (same settings; ``--tta`` for the bundle's test-time augmentation);
- peak resident memory of `unet3d segment` (a fresh process) on stacks of ``--short`` and
  ``--long`` pages: a stack is read, segmented and written one page at a time, so the peak should
  not grow with the length;
- the EM network alone on a batch of 4 windows against 4 windows one at a time (the CPU case for
  batching pages).

    .venv/bin/python benchmarks/stacks.py --pages 30      # about 4 min
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.common import DATA  # noqa: E402

EM = REPO / "bundles/em"


def isbi_pages(data: Path, count: int) -> np.ndarray:
    from PIL import Image

    files = sorted((data / "isbi2012/test/images").glob("*.png"))
    return np.stack([np.asarray(Image.open(files[i % len(files)])) for i in range(count)])


def per_page(pages: np.ndarray, tta: bool) -> None:
    import tifffile
    from PIL import Image

    from unet3d.inference import BundlePredictor, segment

    predictor = BundlePredictor(EM, device="cpu", tta=tta)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tifffile.imwrite(root / "stack.tif", pages, photometric="minisblack")
        (root / "single").mkdir()
        for i, page in enumerate(pages):
            Image.fromarray(page).save(root / f"single/s{i:03d}.png")
        segment([root / "single/s000.png"], predictor, root / "warm")  # first-call costs out of both
        start = time.perf_counter()
        segment([root / "stack.tif"], predictor, root / "out_stack")
        stack_s = time.perf_counter() - start
        start = time.perf_counter()
        segment([root / "single"], predictor, root / "out_single")
        single_s = time.perf_counter() - start
        same = all(
            np.array_equal(page, np.asarray(Image.open(root / f"out_single/s{i:03d}_seg.png")))
            for i, page in enumerate(tifffile.imread(root / "out_stack/stack_seg.tif"))
        )
    n = len(pages)
    print(f"\nEM bundle (tta={'on' if tta else 'off'}), {n} ISBI sections 512x512, one predictor:\n")
    print("| input | s total | s per page |\n|---|---|---|")
    print(f"| one {n}-page TIFF | {stack_s:.1f} | {stack_s / n:.2f} |")
    print(f"| {n} single PNGs | {single_s:.1f} | {single_s / n:.2f} |")
    print(f"\nmasks identical page for page: {same}")


def peak_memory(pages: np.ndarray, counts: list[int]) -> None:
    import tifffile

    print("\npeak resident memory of `unet3d segment` on a stack (fresh process, EM bundle, tta off):\n")
    print("| pages | MB peak RSS | s |\n|---|---|---|")
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            stack = Path(tmp) / "stack.tif"
            tifffile.imwrite(stack, np.resize(pages, (count, *pages.shape[1:])), photometric="minisblack")
            code = (
                "import resource, sys; from unet3d.cli import main; "
                f"rc = main(['segment', {str(stack)!r}, '--bundle', {str(EM)!r}, '--output-dir', "
                f"{str(Path(tmp) / 'out')!r}, '--no-tta']); "
                "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); sys.exit(rc)"
            )
            start = time.perf_counter()
            res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
            seconds = time.perf_counter() - start
            if res.returncode != 0:
                sys.exit(res.stderr[-2000:])
            print(f"| {count} | {int(res.stdout.split()[-1]) / 1024:.0f} | {seconds:.0f} |")


def batching(repeats: int = 3) -> None:
    import torch

    from unet3d.inference import BundlePredictor

    net = BundlePredictor(EM, device="cpu", tta=False).network.eval()
    window = torch.rand(4, 1, 572, 572)
    times: dict[str, list[float]] = {"4 windows one at a time": [], "a batch of 4 windows": []}
    with torch.inference_mode():
        net(window[:1])
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(4):
                net(window[i : i + 1])
            times["4 windows one at a time"].append(time.perf_counter() - start)
            start = time.perf_counter()
            net(window)
            times["a batch of 4 windows"].append(time.perf_counter() - start)
    print(f"\nEM network alone, 572x572 windows, {torch.get_num_threads()} threads (median of {repeats}):\n")
    print("| run | s |\n|---|---|")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-dir", type=Path, default=DATA)
    parser.add_argument("--pages", type=int, default=30)
    parser.add_argument("--tta", action="store_true", help="the EM bundle's test-time augmentation on")
    parser.add_argument("--short", type=int, default=5)
    parser.add_argument("--long", type=int, default=40)
    args = parser.parse_args()
    pages = isbi_pages(args.dataset_dir, args.pages)
    per_page(pages, args.tta)
    peak_memory(pages, [args.short, args.long])
    batching()
    print(f"\n(this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB peak)")


if __name__ == "__main__":
    main()
