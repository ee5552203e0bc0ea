"""Inference speed and memory: ``unet3d segment`` against plain MONAI ``sliding_window_inference``.

Both sides use the same bundle network and weights, the same reading, preprocessing, inversion to
the input's geometry and writing; they differ in the window step only:

- ``unet3d``: ``unet3d.segment(...)``, i.e. the bundle's ``inferer`` (3D: gaussian blending, its
  overlap and window batch; 2D EM: overlap-tile with mirrored borders) under ``torch.inference_mode``;
- ``plain``: ``monai.inferers.sliding_window_inference(x, roi_size, sw_batch_size=1, net)`` with
  MONAI's defaults (overlap 0.25, constant blending) under ``torch.no_grad``. For the EM network
  (valid convolutions, output smaller than input) each window is the output tile of the training
  patch (388 px for 572) and the network sees it mirror-padded by its border (92 px), the usual
  way to fit such a network into MONAI's inferer.

A third method, ``unet3d-constant`` (on ``--constant-too`` cases), is ``unet3d`` with plain's
constant blending: it separates what the blending changes in the mask from what the speed-ups
change. Test-time augmentation is off on all sides. Each (method, case, repeat) runs in a fresh
subprocess, so peak resident memory (``ru_maxrss``) is its own. Cases: ``em``, an ISBI 2012 test
slice (512x512); ``hippocampus``, a volume as stored; ``ct_sized``, the real CT series resampled to
512x512x200 voxels and stored with 1 mm spacing, so that the bundle (which works at 1 mm) sees all
52 M voxels. The same run measures the machine's convolution throughput
(:func:`benchmarks.common.conv_peak_gflops`) and reports the share of it that each inference
reaches: convolution FLOPs executed / whole ``segment`` time (reading and writing included).
Prints a table and writes JSON; times are medians over the repeats, with min-max.

    .venv/bin/python benchmarks/infer.py --repeats 3 --ct-repeats 1 --json out/infer.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, FlopCounter, conv_peak_gflops, dice, read_mask, summary

BUNDLES = {"em": "em", "hippocampus": "hippocampus", "ct_sized": "hippocampus"}


def make_ct_sized(path: Path, shape: tuple[int, int, int] = (512, 512, 200)) -> Path:
    """The CT series resampled (linear) to ``shape`` voxels, written as NIfTI with 1 mm spacing."""
    import nibabel as nib
    import numpy as np
    import torch
    import torch.nn.functional as F

    from unet3d.io import read_volume

    ct = read_volume(DATA / "dicom" / "ct_abdomen_series").image
    x = torch.as_tensor(np.asarray(ct), dtype=torch.float32)[None, None]
    y = F.interpolate(x, size=shape, mode="trilinear", align_corners=False)[0, 0].numpy()
    nib.save(nib.Nifti1Image(y.astype(np.int16), np.eye(4)), path)
    return path


def predictor_for(method: str, bundle: str):
    """The ``BundlePredictor`` of one method, counting the convolution FLOPs its network runs.

    ``unet3d``: the bundle's own settings; ``unet3d-constant``: the same with constant blending;
    ``plain``: MONAI's ``sliding_window_inference`` with its defaults under ``torch.no_grad``.
    Test-time augmentation is off on all sides.
    """
    import torch
    from monai.inferers import sliding_window_inference

    from unet3d.inference import BundlePredictor
    from unet3d.inferers.overlap_tile import mirror_pad

    class Counted(BundlePredictor):
        """Counts what the bundle's own choice of runner (eager or frozen) executes."""

        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.counter = FlopCounter(self.network)

        def runner_for(self, image, member=0):
            return self.counter.wrap(super().runner_for(image, member))

    class Plain(Counted):
        """MONAI's defaults (overlap 0.25, constant blending, one window per call), eager network."""

        def logits(self, image, on_member=None):
            net, counted = self.network, self.counter.wrap(self.network)
            if getattr(net, "valid", False):  # valid convolutions: window = output tile, network sees it mirrored
                roi = tuple(net.output_size(self.layout.input_spec["spatial_shape"]))  # the training patch's output
                border = net.border()

                def run(x):
                    return counted(mirror_pad(x, [(border, border)] * (x.dim() - 2)))
            else:
                roi, run = self.window_size, counted
            with torch.no_grad():
                return sliding_window_inference(image[None].to(self.device), roi, 1, run)[0].cpu()

    if method == "plain":
        return Plain(bundle, device="cpu", tta=False)
    return Counted(bundle, device="cpu", tta=False, mode="constant" if method == "unet3d-constant" else None)


def worker(method: str, bundle: str, src: str, out_dir: str) -> dict:
    """One timed segmentation in this process: seconds, voxels, FLOPs executed, peak RSS."""
    import torch

    from unet3d.inference import segment
    from unet3d.io import read_volume

    voxels = int(read_volume(src).image.numel())
    start = time.perf_counter()
    predictor = predictor_for(method, bundle)
    written = segment([src], predictor, out_dir, overwrite=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    counter = predictor.counter
    return {"seconds": seconds, "voxels": voxels, "peak_mb": peak_mb, "threads": torch.get_num_threads(),
            "conv_gflop": counter.flops / 1e9, "network_calls": counter.calls, "output": str(written[0])}  # fmt: skip


def run_worker(method: str, bundle: str, src: Path, out_dir: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--bundle", bundle, "--src", str(src), "--out", str(out_dir)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{method} on {src} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def print_table(peak: dict, results: list[dict]) -> None:
    print(f"conv throughput of this machine (64->64 ch, 3x3x3, 64^3, {peak['threads']} threads): "
          f"{peak['gflops_median']:.1f} GFLOP/s ({peak['gflops_min']:.1f}-{peak['gflops_max']:.1f})")  # fmt: skip
    print(f"{'case':12} {'method':15} {'shape':>12} {'s/item (min-max)':>24} {'voxels/s':>9} {'peak MB':>8} "
          f"{'GFLOP/s':>8} {'of peak':>7}")  # fmt: skip
    for r in results:
        t = r["seconds"]
        span = f"{t['median']:.2f} ({t['min']:.2f}-{t['max']:.2f})"
        shape = "x".join(map(str, r["shape"]))
        print(f"{r['case']:12} {r['method']:15} {shape:>12} {span:>24} {r['voxels_per_s']:9.3g} "
              f"{r['peak_rss_mb']:8.0f} {r['gflops']:8.1f} {r['share_of_conv_peak']:7.0%}")  # fmt: skip
    for ours in results:
        if ours["method"] == "plain":
            continue
        plain = next(r for r in results if r["case"] == ours["case"] and r["method"] == "plain")
        speedup = plain["seconds"]["median"] / ours["seconds"]["median"]
        print(f"{ours['case']}: {ours['method']} is {speedup:.2f}x plain MONAI; "
              f"mask agreement with plain: Dice {ours['mask_dice_vs_plain']:.4f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundles", default=str(REPO / "bundles"), help="holds em/ and hippocampus/")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ct-repeats", type=int, default=1, help="repeats on the CT-sized volume (slow)")
    parser.add_argument("--cases", nargs="+", default=["em", "hippocampus", "ct_sized"], choices=list(BUNDLES))
    parser.add_argument("--constant-too", nargs="*", default=["ct_sized"], choices=list(BUNDLES),
                        help="cases also run as unet3d-constant (constant blending)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", choices=["unet3d", "unet3d-constant", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--bundle", help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.bundle, args.src, args.out)))
        return

    peak = conv_peak_gflops()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = {
            "em": DATA / "isbi2012" / "test" / "images" / "slice_00.png",
            "hippocampus": DATA / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz",
            "ct_sized": Path(tmp) / "ct_sized.nii.gz",
        }
        if "ct_sized" in args.cases:
            make_ct_sized(sources["ct_sized"])
        for case in args.cases:
            src, bundle = sources[case], str(Path(args.bundles) / BUNDLES[case])
            repeats = args.ct_repeats if case == "ct_sized" else args.repeats
            masks = {}
            methods = ("unet3d", "unet3d-constant", "plain") if case in args.constant_too else ("unet3d", "plain")
            for method in methods:
                out = Path(tmp) / case / method
                runs = [run_worker(method, bundle, src, out) for _ in range(repeats)]
                masks[method] = read_mask(Path(runs[0]["output"]))
                secs = summary([r["seconds"] for r in runs])
                gflops = runs[0]["conv_gflop"] / secs["median"]
                results.append({
                    "case": case, "method": method, "shape": list(masks[method].shape), "repeats": repeats,
                    "seconds": secs, "voxels_per_s": runs[0]["voxels"] / secs["median"],
                    "peak_rss_mb": max(r["peak_mb"] for r in runs), "threads": runs[0]["threads"],
                    "conv_gflop": runs[0]["conv_gflop"], "network_calls": runs[0]["network_calls"],
                    "gflops": gflops, "share_of_conv_peak": gflops / peak["gflops_median"],
                })  # fmt: skip
            for r in results[-len(methods) :]:
                r["mask_dice_vs_plain"] = dice(masks[r["method"]], masks["plain"])
    print_table(peak, results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        machine = {"machine": os.uname().machine, "cpus": os.cpu_count(), "conv_peak": peak}
        args.json.write_text(json.dumps({**machine, "results": results}, indent=1))


if __name__ == "__main__":
    main()
