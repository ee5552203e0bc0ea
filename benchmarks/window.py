"""Larger inference windows for the hippocampus bundle: validation Dice, mosaic Dice, CT-sized time.

The bundle infers with its 40x56x40 training patch; on a large input each voxel is then computed
about 2.4 times (overlap 0.25). ``unet3d.inferers.FittedWindowInferer`` lets the window grow with
the input up to a maximum (never below the training patch). A padded network with instance norm
gives other outputs in other windows, so each maximum is measured:

- validation Dice: the 42 volumes of fold 0 (never trained on), one by one, as ``segment`` runs
  them (each volume is at most 43x59x47 voxels, so only windows between the patch and that size
  change anything there);
- mosaic Dice: the 36 validation volumes tiled into 160x168x120 voxels (``blending.py``'s mosaic),
  where windows span several volumes, as they would span a large scan;
- CT-sized: seconds to segment the 512x512x200 volume of ``infer.py`` (one run each, ``segment``
  with the bundle's other settings), its mask's Dice against the shipped window's mask, and plain
  MONAI's ``sliding_window_inference`` with its defaults on the training patch (``infer.py``'s
  ``plain``) in the same run for the speed-up.

    .venv/bin/python benchmarks/window.py [--settings 40x56x40@0.25 128x128x128@0.125 ...] [--no-ct]

At overlap 0.25 every voxel is computed about 1.33^3 = 2.4 times whatever the window; a larger
window can keep the same overlap in voxels at a smaller fraction, so settings are window@overlap.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.blending import GRID, tile
from benchmarks.common import DATA, REPO, dice

BUNDLE = REPO / "bundles" / "hippocampus"


def label_dice(pred: np.ndarray, truth: np.ndarray) -> list[float]:
    """Dice of labels 1 (anterior) and 2 (posterior), as the bundle's evaluate scores a case."""
    return [float(2 * np.sum((pred == v) & (truth == v)) / (np.sum(pred == v) + np.sum(truth == v))) for v in (1, 2)]


def predictor(window: tuple[int, ...] | None, overlap: float | None = None):
    """The bundle's predictor (TTA off) with windows up to ``window`` at ``overlap`` (``None``:
    the bundle's); ``window=None``: plain MONAI."""
    from unet3d.inference import BundlePredictor
    from unet3d.inferers import FittedWindowInferer

    if window is None:
        from benchmarks.infer import predictor_for

        return predictor_for("plain", str(BUNDLE))
    base = BundlePredictor(BUNDLE, device="cpu", tta=False)
    shipped = base.inferer.inferer if hasattr(base.inferer, "inferer") else base.inferer
    patch = tuple(base.layout.input_spec["spatial_shape"])
    overlap = shipped.overlap if overlap is None else overlap
    settings = {"overlap": overlap, "mode": shipped.mode, "sw_batch_size": shipped.sw_batch_size}
    return BundlePredictor(BUNDLE, device="cpu", tta=False, inferer=FittedWindowInferer(patch, window, **settings))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    settings = ["40x56x40@0.25", "48x64x48@0.25", "80x112x80@0.25", "128x128x128@0.25", "128x128x128@0.125"]
    parser.add_argument("--settings", nargs="+", default=settings, help="largest window XxYxZ voxels @ overlap")
    parser.add_argument("--no-ct", action="store_true", help="skip the CT-sized timing (several minutes)")
    parser.add_argument("--offset", type=int, nargs=3, default=[0, 0, 0],
                        help="zero voxels before the mosaic per axis (windows meet its cells elsewhere)")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    import nibabel as nib
    import torch
    from monai.data import MetaTensor

    from benchmarks.infer import make_ct_sized
    from unet3d.data import msd_datalist
    from unet3d.inference import segment
    from unet3d.io import read_volume

    pairs = msd_datalist(DATA / "msd_hippocampus")["validation"]
    volumes = [read_volume(p["image"]).image for p in pairs]
    labels = [np.asarray(nib.load(p["label"]).dataobj, np.uint8) for p in pairs]
    mosaic_pairs = pairs[: int(np.prod(GRID))]
    images = [np.asarray(nib.load(p["image"]).dataobj, np.float32) for p in mosaic_pairs]
    mosaic = tile([i / np.percentile(i[i > 0], 99) * 1000 for i in images], np.float32)
    mosaic_label = tile(labels[: len(mosaic_pairs)], np.uint8)
    shift = [(o, 0) for o in args.offset]
    mosaic, mosaic_label = np.pad(mosaic, shift), np.pad(mosaic_label, shift)
    meta = {"original_channel_dim": "no_channel", "filename_or_obj": "mosaic"}
    mosaic_image = MetaTensor(torch.from_numpy(mosaic), affine=torch.eye(4, dtype=torch.float64), meta=meta)

    rows = []
    tmp = Path(tempfile.mkdtemp())
    ct = make_ct_sized(tmp / "ct_sized.nii.gz") if not args.no_ct else None
    reference_mask = None
    for name in [*args.settings, *([] if args.no_ct else ["plain"])]:
        size, _, overlap = name.partition("@")
        window = None if name == "plain" else tuple(int(v) for v in size.split("x"))
        p = predictor(window, float(overlap) if overlap else None)
        row: dict = {"window": name}
        if window is not None:
            per_case = [label_dice(p(v.clone()).numpy(), lab) for v, lab in zip(volumes, labels, strict=True)]
            row["val_dice"] = float(np.mean(per_case))
            row["val_anterior"], row["val_posterior"] = (float(v) for v in np.mean(per_case, axis=0))
            row["mosaic_dice"] = dice(p(mosaic_image.clone()).numpy(), mosaic_label)
        if ct is not None:
            start = time.perf_counter()
            written = segment([ct], p, tmp / name, overwrite=True)
            row["ct_seconds"] = time.perf_counter() - start
            mask = np.asarray(nib.load(written[0]).dataobj)
            reference_mask = mask if reference_mask is None else reference_mask
            row["ct_dice_vs_first"] = dice(mask, reference_mask)
        rows.append(row)
        print(json.dumps(row), flush=True)
    plain = next((r["ct_seconds"] for r in rows if r["window"] == "plain"), None)
    print(f"\n{'window@overlap':>18} {'val Dice':>9} {'ant':>7} {'post':>7} {'mosaic':>7} {'CT s':>7} {'x plain':>7} "
          f"{'CT Dice':>8}")  # fmt: skip
    nan = float("nan")
    for r in rows:
        speed = f"{plain / r['ct_seconds']:.2f}" if plain and "ct_seconds" in r else ""
        print(f"{r['window']:>18} {r.get('val_dice', nan):9.4f} {r.get('val_anterior', nan):7.4f} "
              f"{r.get('val_posterior', nan):7.4f} {r.get('mosaic_dice', nan):7.4f} "
              f"{r.get('ct_seconds', nan):7.1f} {speed:>7} {r.get('ct_dice_vs_first', nan):8.4f}")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
