"""``unet3d plan`` against the shipped bundles, given the same training time on this machine.

Each task plans a bundle from the data set (``--time-budget`` = the shipped model's training
time), trains it with the bundle's own command (a rerun resumes), evaluates it on the shipped
bundle's validation split, evaluates the shipped bundle there too, and prints both:

- ``hippocampus``: ``../shared/data/msd_hippocampus``, fold 0 of 5 (the shipped split); mean Dice
  of anterior and posterior. The shipped model trained 78 min (bundles/hippocampus/docs).
- ``em``: ``../shared/data/isbi2012/train``, validation slices 20-24 (the shipped split, set by
  overriding the planned bundle's ``datalist``); pixel error of the membrane decision, as
  ``bundles/em`` reports it (the planned bundle's class 0 is the labels' 0, membrane). The shipped
  model trained about 200 min in three runs (bundles/em/docs).
- ``nrrd``: ``../shared/data/nrrd``, three anisotropic MR cases: that it plans, trains and
  evaluates (5 minutes).

    .venv/bin/python benchmarks/plan.py --task nrrd
    .venv/bin/python benchmarks/plan.py --task hippocampus            # about 80 min
    .venv/bin/python benchmarks/plan.py --task em --minutes 200       # about 3.5 h

Figures go to ``benchmarks/README.md`` by hand, with the date and the split.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import numpy as np

from benchmarks.common import DATA, REPO

TASKS = {
    "hippocampus": {"data": "msd_hippocampus", "minutes": 78, "shipped": "hippocampus", "overrides": ()},
    "em": {"data": "isbi2012/train", "minutes": 200, "shipped": "em",
           "overrides": ("--datalist", "$unet3d.bundle.or_exit(unet3d.data.folder_datalist, @dataset_dir)")},
    "nrrd": {"data": "nrrd", "minutes": 5, "shipped": None, "overrides": ()},
}  # fmt: skip


def run(*cmd: str) -> float:
    """Run a command from the repository; its seconds. A failure ends the benchmark with its error."""
    print("$", " ".join(cmd), flush=True)
    start = time.perf_counter()
    res = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {res.stderr[-3000:]}")
    return time.perf_counter() - start


def pixel_error(eval_dir: Path, labels: Path, membrane_class: int) -> float:
    """1 - accuracy of the membrane decision over the masks in ``eval_dir`` against the ISBI labels
    (0 = membrane), as ``unet3d.metrics.PixelError`` on the shipped bundle."""
    from PIL import Image

    errors = []
    for mask_path in sorted(eval_dir.glob("*_seg.png")):
        mask = np.asarray(Image.open(mask_path))  # written in the input's own orientation
        label = np.asarray(Image.open(labels / mask_path.name.replace("_seg", "")))
        if mask.shape != label.shape:
            sys.exit(f"{mask_path}: shape {mask.shape}, its label's {label.shape}")
        errors.append(float(np.mean((mask == membrane_class) != (label == 0))))
    return float(np.mean(errors))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--minutes", type=float, default=None, help="training time (default: the shipped model's)")
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "plan_benchmark")
    args = parser.parse_args()
    task = TASKS[args.task]
    minutes = args.minutes or task["minutes"]
    work = args.work / args.task
    bundle = work / "bundle"
    py = sys.executable
    figures: dict = {"task": args.task, "minutes": minutes}
    if not bundle.exists():
        figures["plan_s"] = run(py, "-m", "unet3d.cli", "plan", str(DATA / task["data"]), "--output", str(bundle),
                                "--time-budget", str(minutes))  # fmt: skip
    done = work / "trained"
    if not done.exists():
        seconds = run(py, "-m", "monai.bundle", "run", "training", "--config_file", str(bundle / "configs/train.yaml"),
                      *task["overrides"])  # fmt: skip
        done.write_text(f"{seconds:.0f}\n")
    figures["train_s"] = float(done.read_text())
    configs = f"['{bundle}/configs/train.yaml','{bundle}/configs/evaluate.yaml']"
    run(py, "-m", "monai.bundle", "run", "--config_file", configs, "--eval_dir", str(work / "eval_planned"),
        *task["overrides"])  # fmt: skip
    figures["planned"] = json.loads((work / "eval_planned/summary.json").read_text())
    if task["shipped"]:
        shipped = REPO / "bundles" / task["shipped"]
        configs = f"['{shipped}/configs/train.yaml','{shipped}/configs/evaluate.yaml']"
        run(py, "-m", "monai.bundle", "run", "--config_file", configs, "--dataset_dir", str(DATA / task["data"]),
            "--eval_dir", str(work / "eval_shipped"))  # fmt: skip
        figures["shipped"] = json.loads((work / "eval_shipped/summary.json").read_text())
    if args.task == "em":
        labels = DATA / task["data"] / "labels"
        figures["planned_pixel_error"] = pixel_error(work / "eval_planned", labels, membrane_class=0)
        figures["shipped_pixel_error"] = figures["shipped"]["val_pixel_error"]["mean"]
    (work / "figures.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
