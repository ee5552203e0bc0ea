"""What ``--report`` adds to ``unet3d segment`` on a folder of hippocampus volumes.

    .venv/bin/python benchmarks/report.py [--cases 42] [--repeats 3]

Runs :func:`unet3d.segment` on the first ``--cases`` MSD hippocampus training volumes with the
shipped defaults, without and with ``report=True`` (QC records, thumbnails, the softmax kept for
confidence, ``report.html`` with its histogram), alternating, one predictor for all runs (the
bundle is loaded once, as in one ``unet3d segment`` call). Prints each run's time and the
median overhead. The first run of each kind warms up the process and is not counted.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO


def main(argv: list[str] | None = None) -> None:
    from unet3d.inference import BundlePredictor, segment

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=42)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA / "msd_hippocampus" / "imagesTr")
    args = parser.parse_args(argv)
    cases = sorted(args.data.glob("*.nii.gz"))[: args.cases]
    predictor = BundlePredictor(REPO / "bundles" / "hippocampus", device="cpu")
    times: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        for repeat in range(args.repeats + 1):
            for report in (False, True):
                out = Path(tmp) / f"out_{report}"
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                segment(cases, predictor, out, report=report)
                seconds = time.perf_counter() - start
                if repeat > 0:
                    times[report].append(seconds)
                label = "warm-up" if repeat == 0 else f"repeat {repeat}"
                print(f"{label}: {'with' if report else 'without'} report: {seconds:.2f} s", flush=True)
        size = (Path(tmp) / "out_True" / "report.html").stat().st_size
    plain, with_report = statistics.median(times[False]), statistics.median(times[True])
    print(f"\n{len(cases)} hippocampus volumes, median of {args.repeats}: {plain:.2f} s without, "
          f"{with_report:.2f} s with --report: +{100 * (with_report / plain - 1):.1f} % "
          f"(report.html {size / 1e3:.0f} kB)")  # fmt: skip


if __name__ == "__main__":
    main()
