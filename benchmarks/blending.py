"""What blending the overlapping windows changes: gaussian (the hippocampus bundle's) against
constant (MONAI's default), on data the model knows, with ground truth.

``infer.py`` shows that on the CT-sized volume unet3d's mask differs from plain MONAI's by the
blending alone (unet3d with constant blending equals plain). That volume is abdominal CT, far
outside the hippocampus model's data. This script asks the same question in the model's own
domain and says which blending is closer to the truth: a mosaic of validation volumes of the
bundle's fixed split (never trained on), each in a 40x56x40 cell of a 4x3x3 grid, so
the mosaic (160x168x120 voxels at 1 mm, RAS as stored) needs many overlapping windows. Each
volume is scaled by its own 99th percentile of nonzero intensities before tiling, since the
bundle normalises per input and MSD intensities differ by orders of magnitude between volumes.

Both sides run the bundle's own predictor (``unet3d.bundle.BundlePredictor``: its preprocessing,
network, window size, overlap 0.25 and postprocessing); only the inferer's ``mode`` differs. Printed
per mode: mean Dice (anterior, posterior) against the mosaic of ground-truth labels, and between
the two masks; for scale, the same volumes segmented one by one (one window each, so blending
plays no part) and placed in the same mosaic.

    .venv/bin/python benchmarks/blending.py --json out/blending.json   # about 1 min
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, dice

CELL, GRID = (40, 56, 40), (4, 3, 3)


def tile(volumes: list[np.ndarray], dtype: type) -> np.ndarray:
    """``volumes`` placed in ``GRID`` order into cells of ``CELL`` voxels each (cropped to the
    cell if larger), zero between them."""
    out = np.zeros([c * g for c, g in zip(CELL, GRID, strict=True)], dtype)
    for cell, volume in zip(np.ndindex(*GRID), volumes, strict=False):
        at = tuple(slice(i * c, i * c + min(c, s)) for i, c, s in zip(cell, CELL, volume.shape, strict=True))
        out[at] = volume[tuple(slice(0, a.stop - a.start) for a in at)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default=str(REPO / "bundles" / "hippocampus"))
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()

    import nibabel as nib
    import torch
    from monai.data import MetaTensor

    from unet3d.data import msd_datalist
    from unet3d.inference import BundlePredictor

    pairs = msd_datalist(DATA / "msd_hippocampus")["validation"][: int(np.prod(GRID))]
    images = [np.asarray(nib.load(p["image"]).dataobj, np.float32) for p in pairs]
    labels = [np.asarray(nib.load(p["label"]).dataobj, np.uint8) for p in pairs]
    image = tile([i / np.percentile(i[i > 0], 99) * 1000 for i in images], np.float32)
    label = tile(labels, np.uint8)

    def as_loaded(array: np.ndarray) -> MetaTensor:  # what LoadImage gives for a RAS 1 mm volume
        meta = {"original_channel_dim": "no_channel", "filename_or_obj": "mosaic"}
        return MetaTensor(torch.from_numpy(array), affine=torch.eye(4, dtype=torch.float64), meta=meta)

    predictors = {mode: BundlePredictor(args.bundle, device="cpu", mode=mode) for mode in ("gaussian", "constant")}
    masks = {mode: p(as_loaded(image)).numpy() for mode, p in predictors.items()}
    bundle_inferer = getattr(predictors["gaussian"].inferer, "inferer", predictors["gaussian"].inferer)  # in TTA
    # one window per volume:
    one_by_one = [predictors["gaussian"](as_loaded(i)).numpy().astype(np.uint8) for i in images]  # no blending
    masks["one by one"] = tile(one_by_one, np.uint8)
    rows = [{"method": k, "dice_vs_truth": dice(m, label)} for k, m in masks.items()]
    between = dice(masks["gaussian"], masks["constant"])
    differ = int(np.sum(masks["gaussian"] != masks["constant"]))
    print(f"mosaic of {len(pairs)} validation volumes, {'x'.join(map(str, image.shape))} voxels, "
          f"windows {tuple(bundle_inferer.roi_size)} at overlap {bundle_inferer.overlap}")  # fmt: skip
    for r in rows:
        print(f"  {r['method']:10}: mean Dice (anterior, posterior) against the labels {r['dice_vs_truth']:.4f}")
    fg = {mode: int(np.sum(m > 0)) for mode, m in {**masks, "true": label}.items()}
    print(f"  gaussian against constant: Dice {between:.4f}, {differ} voxels labelled differently "
          f"(foreground: {fg['gaussian']} gaussian, {fg['constant']} constant, {fg['true']} true)")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        result = {"volumes": len(pairs), "shape": list(image.shape), "rows": rows,
                  "dice_gaussian_vs_constant": between, "voxels_differing": differ}  # fmt: skip
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
