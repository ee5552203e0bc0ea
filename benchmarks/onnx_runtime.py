"""onnxruntime against the PyTorch path (with its frozen copy) on this CPU, through the same predictor.

Both sides are ``unet3d.inference.BundlePredictor`` with the bundle's own settings (TTA off):
the same reading, preprocessing, windows, blending and inversion; only the network differs:
``torch`` (the bundle's network, its frozen copy on inputs of 8 or more windows) or ``onnx``
(``unet3d export``'s model through onnxruntime's CPU provider, ``--runtime onnx``). Cases:

- ``nuclei``: a 520x696 DSB2018 fluorescence image (the nuclei bundle's speed figure);
- ``em``: an ISBI 2012 slice, 512x512 (overlap-tile, valid convolutions);
- ``ct_sized``: the real CT series resampled to 512x512x200 at 1 mm, through the hippocampus
  network (as ``benchmarks/infer.py``): 52 M voxels, several hundred windows.

Seconds per image are ``predictor.predict`` (reading and start-up excluded), median and min-max
over ``--repeats`` after one warm-up run (none for the CT-sized volume: ``--ct-repeats`` runs);
the masks of both runtimes are compared (Dice of each label, instance bundles on the
foreground). The export is made into a temporary copy of each bundle, so the repository's
bundles are not touched.

    .venv/bin/python benchmarks/onnx_runtime.py --repeats 3 --ct-repeats 1 --json out/onnx.json
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, summary
from benchmarks.infer import make_ct_sized
from benchmarks.nuclei import images_of_size

CASES = {"nuclei": "nuclei", "em": "em", "ct_sized": "hippocampus"}


def source(case: str, tmp: Path) -> Path:
    if case == "nuclei":
        (image,) = images_of_size(DATA / "dsb2018_nuclei", (696, 520), 1)
        return image
    if case == "em":
        return DATA / "isbi2012/train/images/slice_20.png"
    return make_ct_sized(tmp / "ct_sized.nii.gz")


def dice(a: np.ndarray, b: np.ndarray, instances: bool) -> float:
    if instances:
        a, b = a > 0, b > 0
    values = [v for v in np.union1d(np.unique(a), np.unique(b)) if v]
    return float(np.mean([2 * np.sum((a == v) & (b == v)) / (np.sum(a == v) + np.sum(b == v)) for v in values]))


def measure(case: str, bundle: Path, path: Path, repeats: int, warmup: int = 1) -> dict:
    from unet3d.inference import BundlePredictor
    from unet3d.io import read_volume

    result: dict = {"case": case, "bundle": bundle.name}
    masks = {}
    for runtime in ("torch", "onnx"):
        predictor = BundlePredictor(bundle, device="cpu", tta=False, runtime=runtime)
        image = read_volume(path, color=predictor.accepts_color).image
        result["shape"] = list(image.shape)
        times = []
        for _ in range(repeats + warmup):  # warm-up runs: first calls (and the frozen copy) left out
            start = time.perf_counter()
            labels = predictor.predict(image).labels
            times.append(time.perf_counter() - start)
        result[runtime] = summary(times[warmup:])
        masks[runtime] = np.asarray(labels)
        print(f"{case} {runtime}: {result[runtime]['median']:.2f} s", flush=True)
    result["dice"] = dice(masks["torch"], masks["onnx"], predictor.layout.instances)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ct-repeats", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from unet3d.inference.onnx_network import export_onnx

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in args.cases:
            bundle = Path(tmp) / CASES[case]
            if not bundle.exists():
                shutil.copytree(REPO / "bundles" / CASES[case], bundle, symlinks=True)
                export_onnx(bundle)
            # a CT-sized run takes minutes: its first call's extra cost (freezing, about 1 s) is noise there
            repeats, warmup = (args.ct_repeats, 0) if case == "ct_sized" else (args.repeats, 1)
            results.append(measure(case, bundle, source(case, Path(tmp)), repeats, warmup))
    print("\n| case | input | torch (frozen on 8+ windows) s | onnxruntime s | onnx / torch | mask Dice |")
    print("|---|---|---|---|---|---|")
    for r in results:
        t, o = (f"{r[k]['median']:.2f} ({r[k]['min']:.2f}-{r[k]['max']:.2f})" for k in ("torch", "onnx"))
        ratio = r["onnx"]["median"] / r["torch"]["median"]
        print(f"| {r['case']} | {'x'.join(map(str, r['shape']))} | {t} | {o} | {ratio:.2f} | {r['dice']:.4f} |")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
