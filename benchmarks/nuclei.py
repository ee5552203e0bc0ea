"""The nuclei bundle: instance quality against a plain MONAI semantic baseline, and time per image.

**Quality** (``--quality``): both models are scored by the bundle's own ``evaluate`` on its fixed
validation split and printed side by side, overall and per data set.

- ``unet3d``: the shipped ``models/model.pt`` (the paper's target: touching nuclei separated by
  background, weighted cross-entropy with the weight map of eq. 2; instances by seeded watershed).
- ``baseline``: trained by the bundle's own training commands as long (same epochs, patches,
  network, augmentation, data and split; the shipped model's two runs: the 30-epoch first run,
  then a second cosine cycle of 20 epochs at lr 1e-3 from its best checkpoint) with MONAI's
  ``DiceCELoss`` on the plain foreground mask (``--separate_touching false --loss_name dice_ce``:
  no touching borders, no weight map); instances are the connected components of its mask (the
  argmax: ``--threshold 0.5 --seed_threshold $None --expand 0``, also for choosing its best
  checkpoint; objects under the bundle's ``min_size`` dropped, as for ``unet3d``).
  Training takes as long as the shipped model's (about 80 min on the 2-core CPU); a finished
  run of either stage in ``--baseline-dir`` (``DIR`` and ``DIR_second_cycle``) is reused.

**Speed** (always): ``unet3d.segment`` on a folder of DSB2018 validation images of 520x696 px,
time per image with start-up excluded: ``(T(n images) - T(1 image)) / (n - 1)``, each in a fresh
process, median of ``--repeats``.

**Large images** (``--large N``): one NxN image (a HeLa validation frame tiled), seconds and peak
memory (the process's maximum RSS) with the shipped ``max_window`` and with the whole image in one
window, each in a fresh process.

    .venv/bin/python benchmarks/nuclei.py                     # speed only (a minute)
    .venv/bin/python benchmarks/nuclei.py --repeats 0 --large 4000   # memory of a large image
    .venv/bin/python benchmarks/nuclei.py --quality           # + baseline training and both evaluations
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO

BUNDLE = REPO / "bundles" / "nuclei"
METRICS = ("val_ap50", "val_map", "val_f1", "val_seg", "val_fg_iou")
BASELINE_TRAINING = ("--separate_touching", "false", "--loss_name", "dice_ce")
BASELINE_INSTANCES = ("--threshold", "0.5", "--seed_threshold", "$None", "--expand", "0")
# the shipped model's second run (bundles/nuclei/docs/README.md), from the first run's best checkpoint
SECOND_CYCLE = ("--learning_rate", "0.001", "--max_epochs", "20", "--val_interval", "5")
CONFIGS = "['bundles/nuclei/train.yaml','bundles/nuclei/evaluate.yaml']"


def monai_bundle(*args: str) -> None:
    cmd = [sys.executable, "-m", "monai.bundle", *args]
    print("$", " ".join(cmd), flush=True)
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {res.stderr[-3000:]}")


def evaluate(dataset_dir: Path, eval_dir: Path, *overrides: str) -> dict:
    monai_bundle("run", "--config_file", CONFIGS, "--dataset_dir", str(dataset_dir), "--eval_dir", str(eval_dir),
                 *overrides)  # fmt: skip
    return json.loads((eval_dir / "summary.json").read_text())


def train_baseline(dataset_dir: Path, run_dir: Path, *extra: str) -> Path:
    """One training run of the baseline into ``run_dir`` (resumed if interrupted); its best checkpoint."""
    done = run_dir / "done"
    if not done.is_file():
        start = time.perf_counter()
        monai_bundle("run", "training", "--config_file", "bundles/nuclei/train.yaml", "--dataset_dir",
                     str(dataset_dir), "--output_dir", str(run_dir), *BASELINE_TRAINING, *BASELINE_INSTANCES,
                     *extra)  # fmt: skip
        done.write_text(f"{time.perf_counter() - start:.0f} s\n")
    print(f"baseline training: {done.read_text().strip()} ({run_dir})")
    return run_dir / "checkpoints" / "model.pt"


def quality(dataset_dir: Path, baseline_dir: Path, out: Path) -> None:
    first = train_baseline(dataset_dir, baseline_dir)
    ckpt = train_baseline(dataset_dir, baseline_dir.with_name(baseline_dir.name + "_second_cycle"),
                          "--init_weights", str(first), *SECOND_CYCLE)  # fmt: skip
    ours = evaluate(dataset_dir, out / "unet3d")
    theirs = evaluate(dataset_dir, out / "baseline", "--validate#handlers#0#load_path", str(ckpt),
                      *BASELINE_INSTANCES)  # fmt: skip
    print(f"\nvalidation split: {ours['images']} images; mean per image (NaN-free)\n")
    print(f"| {'data set':28s} | {'model':8s} | " + " | ".join(f"{m[4:]:>7s}" for m in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    groups = ["all", *sorted(ours.get("groups", {}))]
    for group in groups:
        for name, summary in (("unet3d", ours), ("baseline", theirs)):
            row = (
                {m: summary[m]["mean"] for m in METRICS}
                if group == "all"
                else {m: summary["groups"][group][m] for m in METRICS}
            )
            count = summary["images"] if group == "all" else summary["groups"][group]["images"]
            label = f"{group} ({count})"
            print(f"| {label:28s} | {name:8s} | " + " | ".join(f"{row[m]:7.4f}" for m in METRICS) + " |")
    (out / "quality.json").write_text(json.dumps({"unet3d": ours, "baseline": theirs}, indent=2))


def timed_segment(inputs: list[Path], out: Path) -> float:
    code = (
        "import sys, time; t = time.perf_counter(); import unet3d; "
        f"unet3d.segment({[str(p) for p in inputs]!r}, {str(BUNDLE)!r}, {str(out)!r}, device='cpu'); "
        "print(time.perf_counter() - t)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def speed(dataset_dir: Path, n: int, repeats: int) -> None:
    sys.path.insert(0, str(REPO))
    from unet3d.data import nuclei_datalist

    val = nuclei_datalist(dataset_dir, require_training=False)["validation"]
    from PIL import Image

    sized = [Path(e["image"]) for e in val if Image.open(e["image"]).size == (696, 520)][:n]
    if len(sized) < 2:
        sys.exit("need at least 2 validation images of 520x696 px")
    per_image = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for p in sized:
            shutil.copy(p, folder / p.name)
        files = sorted(folder.iterdir())
        for r in range(repeats):
            t_all = timed_segment([folder], Path(tmp) / f"all{r}")
            t_one = timed_segment(files[:1], Path(tmp) / f"one{r}")
            per_image.append((t_all - t_one) / (len(files) - 1))
            print(f"repeat {r}: {len(files)} images {t_all:.2f} s, 1 image {t_one:.2f} s", flush=True)
    print(f"\n520x696 image in a folder: {statistics.median(per_image):.3f} s per image "
          f"(median of {repeats}; min {min(per_image):.3f}, max {max(per_image):.3f})")  # fmt: skip


def large(dataset_dir: Path, size: int) -> None:
    import numpy as np
    from PIL import Image

    frame = np.asarray(Image.open(dataset_dir / "ctc_fluo_nuclei/N2DL-HeLa/img/t13.tif"))
    tiled = np.tile(frame, (size // frame.shape[0] + 1, size // frame.shape[1] + 1))[:size, :size]
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / f"hela_{size}.tif"
        Image.fromarray(tiled).save(image)
        for name, overrides in (("shipped max_window", {}), ("one window", {"max_window": [size + 8] * 2})):
            code = (
                "import resource, time; import unet3d; from unet3d.inference import BundlePredictor; "
                f"p = BundlePredictor({str(BUNDLE)!r}, device='cpu', overrides={overrides!r}); "
                f"t = time.perf_counter(); unet3d.segment([{str(image)!r}], p, {str(Path(tmp) / name)!r}); "
                "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)"
            )
            res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
            seconds, peak_gb = (float(v) for v in res.stdout.split()[-2:])
            ids = int(np.asarray(Image.open(next((Path(tmp) / name).iterdir()))).max())
            print(f"{size}x{size} px, {name}: {seconds:.1f} s, peak RSS {peak_gb:.2f} GB, {ids} nuclei", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-dir", type=Path, default=DATA)
    parser.add_argument("--quality", action="store_true", help="train the baseline (if needed) and compare")
    parser.add_argument("--baseline-dir", type=Path, default=REPO / "runs" / "nuclei_baseline")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "nuclei_benchmark")
    parser.add_argument("--images", type=int, default=8, help="images in the speed folder")
    parser.add_argument("--repeats", type=int, default=3, help="speed repeats; 0 skips the speed part")
    parser.add_argument("--large", type=int, default=0, metavar="N", help="peak memory of an NxN image; 0: skip")
    args = parser.parse_args(argv)
    if args.repeats > 0:
        speed(args.dataset_dir, args.images, args.repeats)
    if args.large > 0:
        large(args.dataset_dir, args.large)
    if args.quality:
        args.out.mkdir(parents=True, exist_ok=True)
        quality(args.dataset_dir, args.baseline_dir, args.out)


if __name__ == "__main__":
    main()
