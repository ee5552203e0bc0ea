"""The nuclei bundle: instance quality against a plain MONAI semantic baseline, and time per image.

**Quality** (``--quality``): both models are scored by the bundle's own ``evaluate`` on its fixed
validation split and printed side by side, overall and per data set.

- ``unet3d``: the shipped ``models/model.pt`` (the paper's target: touching nuclei separated by
  background, weighted cross-entropy with the weight map of eq. 2; instances by seeded watershed).
- ``baseline``: trained by the bundle's own training commands as long (same epochs, patches,
  network, augmentation, data and split; the shipped model's two runs: the first run of
  ``train.yaml``'s epochs,
  then a second cosine cycle of 20 epochs at lr 1e-3 from its best checkpoint) with MONAI's
  ``DiceCELoss`` on the plain foreground mask (``--separate_touching false --loss_name dice_ce``:
  no touching borders, no weight map); instances are the connected components of its mask (the
  argmax: ``--threshold 0.5 --seed_threshold $None --expand 0``, also for choosing its best
  checkpoint; objects under the bundle's ``min_size`` dropped, as for ``unet3d``).
  Training takes as long as the shipped model's (its docs give the time); a finished
  run of either stage in ``--baseline-dir`` (``DIR`` and ``DIR_second_cycle``) is reused.

**Speed** (always): ``unet3d.segment`` on a folder of DSB2018 fluorescence images of 520x696 px
and on a folder of 1000x1000 H&E tissue images, time per image with start-up excluded:
``(T(n images) - T(1 image)) / (n - 1)``, each in a fresh process, median of ``--repeats``.

**Per modality** (with ``--quality``): the validation images grouped into the three kinds the
bundle is judged on (:func:`kind`): fluorescence, brightfield/stained cells, H&E tissue.

**Large images** (``--large N``): one NxN image (a HeLa validation frame tiled), seconds and peak
memory (the process's maximum RSS) with the shipped ``window_size`` and with the whole image in one
window, each in a fresh process.

    .venv/bin/python benchmarks/nuclei.py                     # speed only (a minute)
    .venv/bin/python benchmarks/nuclei.py --diameter auto     # speed with the size probe
    .venv/bin/python benchmarks/nuclei.py --repeats 0 --large 4000   # memory of a large image
    .venv/bin/python benchmarks/nuclei.py --repeats 0 --modality    # the modality decision's errors
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
import numpy as np

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


def kind(group: str) -> str:
    """The modality a validation group (``<data set>:<modality>``) is reported under: the issue's
    three kinds of image (H&E tissue sections, brightfield/stained cells, fluorescence)."""
    source, modality = group.rsplit(":", 1)
    if source.startswith("he_nuclei"):
        return "H&E tissue"
    return "fluorescence" if modality == "fluorescence" else "brightfield/stained"


def per_kind(eval_dir: Path) -> dict[str, dict[str, float]]:
    """Mean of each metric per :func:`kind` over the images of ``per_image.csv`` (NaN-free)."""
    import csv
    import math

    rows: dict[str, list[dict]] = {}
    with open(eval_dir / "per_image.csv", newline="") as f:
        for row in csv.DictReader(f):
            rows.setdefault(kind(row["group"]), []).append(row)
    table = {}
    for name, members in sorted(rows.items()):
        table[name] = {"images": float(len(members))}
        for m in METRICS:
            values = [float(r[m]) for r in members if r.get(m) not in (None, "") and not math.isnan(float(r[m]))]
            table[name][m] = statistics.fmean(values) if values else float("nan")
    return table


def quality(dataset_dir: Path, baseline_dir: Path, out: Path) -> None:
    first = train_baseline(dataset_dir, baseline_dir)
    ckpt = train_baseline(dataset_dir, baseline_dir.with_name(baseline_dir.name + "_second_cycle"),
                          "--init_weights", str(first), *SECOND_CYCLE)  # fmt: skip
    ours = evaluate(dataset_dir, out / "unet3d")
    theirs = evaluate(dataset_dir, out / "baseline", "--weights", str(ckpt),
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
    kinds = {"unet3d": per_kind(out / "unet3d"), "baseline": per_kind(out / "baseline")}
    print("\nper modality (the issue's acceptance: AP@0.5 fluorescence >= 0.82, H&E tissue >= 0.65, "
          "brightfield/stained >= 0.60)\n")  # fmt: skip
    print(f"| {'modality':28s} | {'model':8s} | " + " | ".join(f"{m[4:]:>7s}" for m in METRICS) + " |")
    print("|---|---|" + "---|" * len(METRICS))
    for name in kinds["unet3d"]:
        for model, table in kinds.items():
            row = table[name]
            label = f"{name} ({int(row['images'])})"
            print(f"| {label:28s} | {model:8s} | " + " | ".join(f"{row[m]:7.4f}" for m in METRICS) + " |")
    (out / "quality.json").write_text(json.dumps({"unet3d": ours, "baseline": theirs, "per_modality": kinds}, indent=2))


def timed_segment(inputs: list[Path], out: Path, diameter: str | None = None) -> float:
    code = (
        "import sys, time; t = time.perf_counter(); import unet3d; "
        f"unet3d.segment({[str(p) for p in inputs]!r}, {str(BUNDLE)!r}, {str(out)!r}, device='cpu', "
        f"diameter={diameter!r}); "
        "print(time.perf_counter() - t)"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return float(res.stdout.strip().splitlines()[-1])


def images_of_size(folder: Path, size: tuple[int, int], n: int) -> list[Path]:
    """Up to ``n`` images of ``size`` (width, height) px in a DSB2018-layout folder, sorted."""
    from PIL import Image

    found = []
    for image in sorted(folder.glob("*/images/*.png")):
        with Image.open(image) as im:
            if im.size == size:
                found.append(image)
        if len(found) == n:
            break
    return found


def speed(images: list[Path], label: str, repeats: int, diameter: str | None = None) -> None:
    """Seconds per image of ``unet3d segment`` on a folder of ``images``, start-up excluded
    (``diameter``: ``unet3d segment --diameter``; ``None``: the bundle's own)."""
    if len(images) < 2:
        sys.exit(f"need at least 2 images for {label}")
    per_image = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "in"
        folder.mkdir()
        for p in images:
            shutil.copy(p, folder / p.name)
        files = sorted(folder.iterdir())
        for r in range(repeats):
            t_all = timed_segment([folder], Path(tmp) / f"all{r}", diameter)
            t_one = timed_segment(files[:1], Path(tmp) / f"one{r}", diameter)
            per_image.append((t_all - t_one) / (len(files) - 1))
            print(f"{label}, repeat {r}: {len(files)} images {t_all:.2f} s, 1 image {t_one:.2f} s", flush=True)
    print(f"\n{label} in a folder: {statistics.median(per_image):.3f} s per image "
          f"(median of {repeats}; min {min(per_image):.3f}, max {max(per_image):.3f})\n")  # fmt: skip


def large(dataset_dir: Path, size: int) -> None:
    import numpy as np
    from PIL import Image

    frame = np.asarray(Image.open(dataset_dir / "ctc_fluo_nuclei/N2DL-HeLa/img/t13.tif"))
    tiled = np.tile(frame, (size // frame.shape[0] + 1, size // frame.shape[1] + 1))[:size, :size]
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / f"hela_{size}.tif"
        Image.fromarray(tiled).save(image)
        for name, overrides in (("shipped window_size", {}), ("one window", {"window_size": [size + 16] * 2})):
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


def separation_of(x: np.ndarray, nuclei: np.ndarray) -> float:
    """Nuclei against background: the difference of the means over the pooled standard deviation."""
    inside, outside = x[nuclei], x[~nuclei]
    return float((inside.mean() - outside.mean()) / np.sqrt((inside.var() + outside.var()) / 2))


def modality_decision(dataset_dir: Path) -> None:
    """How often the modality decision is wrong, on every image of the data (training and
    validation); the truth comes from the label: nuclei darker than their background (brightfield,
    stained) or brighter (fluorescence). Also how well the channel the bundle reads separates
    nuclei from background, against inverted luma, on the stained images: the difference of the
    means over the pooled standard deviation (pixels)."""
    from PIL import Image

    from unet3d.data import nuclei_datalist
    from unet3d.transforms.modality import LUMA, bright_nuclei, nuclei_modality

    data = nuclei_datalist(dataset_dir, val_fraction=1.0, require_training=False)["validation"]
    wrong, counts, separation = [], {}, {}
    for entry in data:
        with Image.open(entry["image"]) as im:
            pixels = np.asarray(im.convert("RGB") if im.mode in ("RGBA", "P", "CMYK") else im, np.float32)
        image = pixels[None] if pixels.ndim == 2 else np.moveaxis(pixels, -1, 0)
        nuclei = np.asarray(Image.open(entry["label"])) > 0
        rgb = image if image.shape[0] == 3 else np.repeat(image[:1], 3, axis=0)
        luma = sum(w * rgb[i] for i, w in enumerate(LUMA))
        truth = "dark" if luma[nuclei].mean() < luma[~nuclei].mean() else "bright"
        decided = nuclei_modality(image)
        counts[decided] = counts.get(decided, 0) + 1
        if (decided == "fluorescence") != (truth == "bright"):
            wrong.append(f"{entry['image']}: decided {decided}, nuclei {truth}")
        if decided == "stained":
            group = entry["source"].split("/")[0]
            separation.setdefault(group, []).append(
                (separation_of(bright_nuclei(image)[0], nuclei), separation_of(luma.max() + luma.min() - luma, nuclei))
            )
    print(f"modality decision on {len(data)} images: {counts}; wrong on {len(wrong)}")
    for line in wrong:
        print("  ", line)
    for group, pairs in sorted(separation.items()):
        h, inverted = (statistics.fmean(v) for v in zip(*pairs, strict=True))
        print(f"stained images of {group} ({len(pairs)}): nuclei/background separation, hematoxylin channel "
              f"{h:.2f}, inverted luma {inverted:.2f}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset-dir", type=Path, default=DATA)
    parser.add_argument("--quality", action="store_true", help="train the baseline (if needed) and compare")
    parser.add_argument("--baseline-dir", type=Path, default=REPO / "runs" / "nuclei_baseline")
    parser.add_argument("--out", type=Path, default=REPO / "runs" / "nuclei_benchmark")
    parser.add_argument("--images", type=int, default=8, help="images in the speed folder")
    parser.add_argument("--repeats", type=int, default=3, help="speed repeats; 0 skips the speed part")
    parser.add_argument("--modality", action="store_true", help="how often the modality decision is wrong")
    parser.add_argument("--diameter", default=None, help="speed with `unet3d segment --diameter` (off, auto, PX)")
    parser.add_argument("--large", type=int, default=0, metavar="N", help="peak memory of an NxN image; 0: skip")
    args = parser.parse_args(argv)
    if args.repeats > 0:
        fluorescence = images_of_size(args.dataset_dir / "dsb2018_nuclei", (696, 520), args.images)
        speed(fluorescence, "520x696 fluorescence (DSB2018)", args.repeats, args.diameter)
        tissue = images_of_size(args.dataset_dir / "he_nuclei" / "monuseg2018_train", (1000, 1000), args.images)
        speed(tissue, "1000x1000 H&E tissue (MoNuSeg)", args.repeats, args.diameter)
    if args.large > 0:
        large(args.dataset_dir, args.large)
    if args.modality:
        modality_decision(args.dataset_dir)
    if args.quality:
        args.out.mkdir(parents=True, exist_ok=True)
        quality(args.dataset_dir, args.baseline_dir, args.out)


if __name__ == "__main__":
    main()
