"""Compare two folders of masks written by ``unet3d segment`` or a bundle's ``evaluate`` (e.g. by
two releases): which files differ, their Dice (mean over labels), and the lowest Dice.

    .venv/bin/python benchmarks/compare_masks.py OLD_DIR NEW_DIR

Files present on one side only are listed; other files (CSV, JSON) are ignored. Exit status 1
when a mask is missing on one side or differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import dice, read_mask

MASK_SUFFIXES = (".nii.gz", ".nii", ".png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    old, new = ({p.name for p in d.iterdir() if p.name.endswith(MASK_SUFFIXES)} for d in (args.old, args.new))
    for name in sorted(old ^ new):
        print(f"{name}: only in {args.old if name in old else args.new}")
    scores = []
    for name in sorted(old & new):
        a, b = read_mask(args.old / name), read_mask(args.new / name)
        if a.shape != b.shape:
            print(f"{name}: shape {a.shape} against {b.shape}")
            scores.append(0.0)
        elif np.array_equal(a, b):
            scores.append(1.0)
        else:
            scores.append(dice(a, b))
            print(f"{name}: Dice {scores[-1]:.4f}, {int(np.sum(a != b))} voxels differ")
    same = sum(s == 1.0 for s in scores)
    print(f"{len(scores)} masks compared: {same} identical, lowest Dice {min(scores, default=float('nan')):.4f}")
    return 0 if scores and same == len(scores) and not old ^ new else 1


if __name__ == "__main__":
    sys.exit(main())
