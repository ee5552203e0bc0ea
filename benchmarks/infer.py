"""Inference speed and memory: ``unet3d segment`` against plain MONAI ``sliding_window_inference``.

Both sides use the same bundle network and weights, the same reading, preprocessing (orientation,
spacing, normalisation), inversion to the input's geometry and NIfTI writing; they differ in the
sliding-window step only:

- ``unet3d``: ``unet3d.segment(...)``, i.e. the bundle's ``inferer`` (gaussian blending, its
  overlap and window batch) under ``torch.inference_mode``;
- ``plain``: ``monai.inferers.sliding_window_inference(x, roi_size, sw_batch_size=1, net)`` with
  MONAI's defaults (overlap 0.25, constant blending) under ``torch.no_grad``.

Each (method, case) runs in a fresh subprocess, so peak resident memory (``ru_maxrss``) is its own.
Cases: a hippocampus volume as stored, and a CT-sized volume: the real CT series resampled to
512x512x200 voxels and stored with 1 mm spacing, so that the bundle (which works at 1 mm) sees all
52 M voxels. Prints a table and writes JSON; the figures are medians over ``--repeats`` runs.

    .venv/bin/python benchmarks/infer.py --bundle bundles/hippocampus --repeats 3 --json out/infer.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("UNET3D_DATA", REPO.parent / "shared" / "data"))


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


def dice(a, b) -> float:
    """Mean Dice over the foreground labels present in either mask (1.0 when both are empty)."""
    import numpy as np

    scores = []
    for label in sorted(set(np.unique(a)) | set(np.unique(b)) - {0}):
        x, y = a == label, b == label
        scores.append(2 * np.sum(x & y) / (np.sum(x) + np.sum(y)))
    return float(np.mean(scores)) if scores else 1.0


def worker(method: str, bundle: str, src: str, out_dir: str) -> dict:
    """One timed segmentation in this process; returns seconds, voxels and peak RSS."""
    import numpy as np
    import torch
    from monai.inferers import sliding_window_inference

    from unet3d.segmentation import segment

    voxels = int(np.prod(__import__("nibabel").load(src).shape))
    if method == "plain":
        import unet3d.bundle.predictor as predictor_module

        original_init = predictor_module.BundlePredictor.__init__

        def plain_init(self, *args, **kwargs):
            original_init(self, *args, **kwargs)
            roi = tuple(self.inferer.roi_size)
            self.inferer = lambda x, net: sliding_window_inference(x, roi, 1, net)  # MONAI defaults

        def plain_call(self, image):
            data = self.preprocessing({"image": image})
            with torch.no_grad():
                data["pred"] = self.inferer(data["image"][None].to(self.device), self.network)[0].cpu()
            return self.postprocessing(data)["pred"]

        predictor_module.BundlePredictor.__init__ = plain_init  # type: ignore[method-assign]
        predictor_module.BundlePredictor.__call__ = plain_call  # type: ignore[method-assign]
    start = time.perf_counter()
    segment([src], bundle, out_dir, fmt="nifti", device="cpu", overwrite=True)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "voxels": voxels, "peak_mb": peak_mb, "threads": torch.get_num_threads()}


def run_worker(method: str, bundle: str, src: Path, out_dir: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", method, "--bundle", bundle, "--src", str(src), "--out", str(out_dir)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"{method} on {src} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(REPO / "bundles" / "hippocampus"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ct-repeats", type=int, default=1, help="repeats on the CT-sized volume (slow)")
    parser.add_argument("--cases", nargs="+", default=["hippocampus", "ct_sized"])
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--worker", choices=["unet3d", "plain"], help=argparse.SUPPRESS)
    parser.add_argument("--src", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.bundle, args.src, args.out)))
        return

    import nibabel as nib
    import numpy as np

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        sources = {
            "hippocampus": DATA / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz",
            "ct_sized": Path(tmp) / "ct_sized.nii.gz",
        }
        if "ct_sized" in args.cases:
            make_ct_sized(sources["ct_sized"])
        for case in args.cases:
            src = sources[case]
            repeats = args.ct_repeats if case == "ct_sized" else args.repeats
            masks = {}
            for method in ("unet3d", "plain"):
                out = Path(tmp) / method
                runs = [run_worker(method, args.bundle, src, out) for _ in range(repeats)]
                secs = [r["seconds"] for r in runs]
                masks[method] = np.asarray(nib.load(out / src.name.replace(".nii.gz", "_seg.nii.gz")).dataobj)
                results.append({
                    "case": case, "method": method, "shape": list(nib.load(src).shape), "repeats": repeats,
                    "seconds_median": statistics.median(secs), "seconds_min": min(secs), "seconds_max": max(secs),
                    "voxels_per_s": runs[0]["voxels"] / statistics.median(secs),
                    "peak_rss_mb": max(r["peak_mb"] for r in runs), "threads": runs[0]["threads"],
                })  # fmt: skip
            agreement = dice(masks["unet3d"], masks["plain"])
            for r in results[-2:]:
                r["mask_dice_vs_other"] = agreement
    header = f"{'case':12} {'method':7} {'shape':>16} {'s/volume (min-max)':>24} {'voxels/s':>11} {'peak MB':>8}"
    print(header)
    for r in results:
        span = f"{r['seconds_median']:.2f} ({r['seconds_min']:.2f}-{r['seconds_max']:.2f})"
        shape = "x".join(map(str, r["shape"]))
        rate, peak = r["voxels_per_s"], r["peak_rss_mb"]
        print(f"{r['case']:12} {r['method']:7} {shape:>16} {span:>24} {rate:11.3g} {peak:8.0f}")
    for case in args.cases:
        ours, plain = (next(r for r in results if r["case"] == case and r["method"] == m) for m in ("unet3d", "plain"))
        speedup = plain["seconds_median"] / ours["seconds_median"]
        print(f"{case}: unet3d is {speedup:.2f}x plain MONAI; mask agreement Dice {ours['mask_dice_vs_other']:.4f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"machine": os.uname().machine, "cpus": os.cpu_count(), "results": results}))


if __name__ == "__main__":
    main()
