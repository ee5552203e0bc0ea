"""Cross-validation summary of a 3D bundle: every fold's model scored on its own validation fold by
the bundle's ``evaluate``, then Dice over all out-of-fold cases together.

    .venv/bin/python scripts/cross_validate.py --bundle bundles/hippocampus --dataset_dir ../shared/data/msd_hippocampus

Fold K's model is ``<bundle>/runs/fold_K/checkpoints/model.pt`` (what ``--fold K`` training writes);
its scores go to ``runs/fold_K/eval/``; the pooled per-case table and summary to
``runs/cross_validation.csv`` and ``runs/cross_validation.json``. Folds without a model are
listed and left out of the summary.

Nested (``--test_fold T``, models trained with ``--test_fold T --fold K``): the models are in
``runs/test_T/fold_K/``, the summary pools the inner folds, and ``--ensemble`` then scores the
ensemble of the available fold models on the held-out fold T, which none of them has seen
(``runs/test_T/ensemble/``), plus any ``--extra`` weight files in the ensemble (e.g. the shipped
``models/model.pt`` when it was validated on fold T, never trained on it).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def evaluate_fold(bundle: Path, dataset_dir: str, fold: int, num_folds: int, weights: list[Path], eval_dir: Path,
                  *overrides: str) -> None:  # fmt: skip
    configs = str([str(bundle / "train.yaml"), str(bundle / "evaluate.yaml")])
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", configs, "--dataset_dir", dataset_dir,
           "--fold", str(fold), "--num_folds", str(num_folds), "--weights", str([str(w) for w in weights]),
           "--eval_dir", str(eval_dir), *overrides]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        sys.exit(f"fold {fold}: evaluate failed: {res.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", type=Path, default=Path("bundles/hippocampus"))
    parser.add_argument("--dataset_dir", required=True)
    parser.add_argument("--num_folds", type=int, default=5)
    parser.add_argument("--runs", type=Path, default=None, help="default: <bundle>/runs")
    parser.add_argument("--test_fold", type=int, default=None, help="nested: the held-out fold the models never saw")
    parser.add_argument("--ensemble", action="store_true", help="score the fold models' ensemble on --test_fold")
    parser.add_argument("--extra", type=Path, nargs="*", default=[], help="more weight files for --ensemble")
    args = parser.parse_args()
    runs = args.runs or args.bundle / "runs"
    nested: tuple[str, ...] = ()
    if args.test_fold is not None:
        runs, nested = runs / f"test_{args.test_fold}", ("--test_fold", str(args.test_fold))
    rows: list[dict[str, str]] = []
    models: list[Path] = []
    for fold in range(args.num_folds):
        weights = runs / f"fold_{fold}" / "checkpoints" / "model.pt"
        if fold == args.test_fold:
            continue
        if not weights.is_file():
            print(f"fold {fold}: no model ({weights}); left out")
            continue
        models.append(weights)
        eval_dir = runs / f"fold_{fold}" / "eval"
        evaluate_fold(args.bundle, args.dataset_dir, fold, args.num_folds, [weights], eval_dir, *nested)
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
    if args.ensemble and args.test_fold is not None:
        members = models + args.extra
        inner = next(k for k in range(args.num_folds) if k != args.test_fold)  # any: only the test split is scored
        eval_dir = runs / "ensemble"
        evaluate_fold(args.bundle, args.dataset_dir, inner, args.num_folds, members, eval_dir, *nested,
                      "--eval_split", "test")  # fmt: skip
        result = json.loads((eval_dir / "summary.json").read_text())
        print(f"ensemble of {len(members)} on test fold {args.test_fold}:",
              json.dumps({k: v["mean"] for k, v in result.items() if isinstance(v, dict)}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
