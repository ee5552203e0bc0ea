"""Start-up of `unet3d segment`: how much of a short run is `import monai`, the project, and the work.

Each figure is the median of ``--repeats`` fresh processes (min-max beside it):

- ``python -c "import monai"``: MONAI's import, which loads all its submodules and, through
  them, torch, ignite, scipy, scikit-image, nibabel, pydicom, matplotlib;
- the project's own modules: the self time of every ``unet3d.*`` module in ``python -X importtime``
  of the segment run (what importing the project adds on top of its libraries);
- ``unet3d segment`` on one hippocampus volume, end to end, and the work it reports
  ("segmented 1 input(s) in X s": the bundle's configs parsed, weights loaded, read, predicted,
  written); the rest is the interpreter, the imports and the command line.

    .venv/bin/python benchmarks/startup.py --repeats 5
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.common import DATA  # noqa: E402


def timed(cmd: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if res.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return time.perf_counter() - start, res


def own_import_seconds(stderr: str) -> float:
    """The summed self time of ``unet3d`` modules in ``-X importtime`` output."""
    total = 0
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m and m.group(2).split(".")[0] == "unet3d":
            total += int(m.group(1))
    return total / 1e6


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dataset-dir", type=Path, default=DATA)
    args = parser.parse_args()
    volume = args.dataset_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    py = sys.executable
    rows: dict[str, list[float]] = {"python alone": [], "import monai": [], "unet3d --version": [],
                                    "unet3d segment (one volume)": [], "  of which the work": [],
                                    "  the rest (interpreter, imports, command line)": [],
                                    "the project's own modules (self import time)": []}  # fmt: skip
    for _ in range(args.repeats):
        rows["python alone"].append(timed([py, "-c", "pass"])[0])
        rows["import monai"].append(timed([py, "-c", "import monai"])[0])
        rows["unet3d --version"].append(timed([py, "-m", "unet3d.cli", "--version"])[0])
        out = Path(tempfile.mkdtemp())
        try:
            cmd = [py, "-X", "importtime", "-m", "unet3d.cli", "segment", str(volume), "--bundle",
                   "bundles/hippocampus", "--output-dir", str(out)]  # fmt: skip
            wall, res = timed(cmd)
        finally:
            shutil.rmtree(out, ignore_errors=True)
        work = float(re.search(r"segmented 1 input\(s\) in ([\d.]+) s", res.stdout).group(1))  # type: ignore[union-attr]
        rows["unet3d segment (one volume)"].append(wall)
        rows["  of which the work"].append(work)
        rows["  the rest (interpreter, imports, command line)"].append(wall - work)
        rows["the project's own modules (self import time)"].append(own_import_seconds(res.stderr))
    print(f"start-up, seconds: median (min-max) of {args.repeats} fresh processes\n")
    print("| step | s |\n|---|---|")
    for name, values in rows.items():
        print(f"| {name} | {summary(values)} |")
    print("\n(`unet3d segment` runs with -X importtime, which adds a little to every import)")


if __name__ == "__main__":
    main()
