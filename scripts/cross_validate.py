"""Cross-validation summary of a 3D bundle: every fold's model scored on its own validation fold by
the bundle's ``evaluate``, then Dice over all out-of-fold cases together.

    .venv/bin/python scripts/cross_validate.py --bundle bundles/hippocampus --dataset_dir ../shared/data/msd_hippocampus

Fold K's model is ``<bundle>/runs/fold_K/checkpoints/model.pt`` (what ``--fold K`` training writes);
its scores go to ``runs/fold_K/eval/``; the pooled per-case table and summary to
``runs/cross_validation.csv`` and ``runs/cross_validation.json``. Folds without a model are
listed and left out of the summary.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def evaluate_fold(bundle: Path, dataset_dir: str, fold: int, num_folds: int, weights: Path, eval_dir: Path) -> None:
    configs = str([str(bundle / "train.yaml"), str(bundle / "evaluate.yaml")])
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", configs, "--dataset_dir", dataset_dir,
           "--fold", str(fold), "--num_folds", str(num_folds), "--weights", str(weights),
           "--eval_dir", str(eval_dir)]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"fold {fold}: evaluate failed: {res.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path("bundles/hippocampus"))
    parser.add_argument("--dataset_dir", required=True)
    parser.add_argument("--num_folds", type=int, default=5)
    parser.add_argument("--runs", type=Path, default=None, help="default: <bundle>/runs")
    args = parser.parse_args()
    runs = args.runs or args.bundle / "runs"
    rows: list[dict[str, str]] = []
    for fold in range(args.num_folds):
        weights = runs / f"fold_{fold}" / "checkpoints" / "model.pt"
        if not weights.is_file():
            print(f"fold {fold}: no model ({weights}); left out")
            continue
        eval_dir = runs / f"fold_{fold}" / "eval"
        evaluate_fold(args.bundle, args.dataset_dir, fold, args.num_folds, weights, eval_dir)
        with open(eval_dir / "per_image.csv") as f:
            fold_rows = [dict(r, fold=str(fold)) for r in csv.DictReader(f)]
        scores = np.array([[float(v) for k, v in r.items() if k.startswith("val_")] for r in fold_rows])
        print(f"fold {fold}: {len(fold_rows)} cases, mean of the metrics {np.round(scores.mean(0), 4).tolist()}")
        rows.extend(fold_rows)
    if not rows:
        print("no fold has a model: train one with --fold K first")
        return 1
    metrics = [k for k in rows[0] if k.startswith("val_")]
    summary = {"cases": len(rows), "folds": sorted({int(r["fold"]) for r in rows})}
    summary.update({m: float(np.mean([float(r[m]) for r in rows])) for m in metrics})
    with open(runs / "cross_validation.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["fold", "image", *metrics])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ["fold", "image", *metrics]} for r in rows)
    (runs / "cross_validation.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
