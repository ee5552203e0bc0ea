"""What ``--report`` adds to ``unet3d segment`` on a folder of hippocampus volumes.

    .venv/bin/python benchmarks/report.py [--cases 208] [--repeats 3]

Runs :func:`unet3d.segment` on the first ``--cases`` MSD hippocampus training volumes (default:
the whole folder, 208) with the
shipped defaults, without and with ``report=True`` (QC records, thumbnails, the softmax kept for
confidence, ``report.html`` with its histogram), alternating, one predictor for all runs (the
bundle is loaded once, as in one ``unet3d segment`` call). Prints each run's time and the
median of the paired overheads (each repeat's with-report time over its without-report time).
The first run of each kind warms up the process and is not counted. The report's fixed cost
(importing matplotlib, the histogram, the page: about 0.5 s) weighs more on small folders.

``--page-rows N`` then copies the run's masks and QC records to ``N`` inputs, builds that report
and times opening it in headless Chromium (Playwright; ``apt-get install chromium``): from
navigation to the ``load`` event, which waits for every picture.
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
    parser.add_argument("--cases", type=int, default=0, help="volumes to segment; 0: all in --data")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA / "msd_hippocampus" / "imagesTr")
    parser.add_argument("--page-rows", type=int, default=1000, help="rows of the page-opening test; 0 skips it")
    args = parser.parse_args(argv)
    cases = sorted(args.data.glob("*.nii.gz"))[: args.cases or None]
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
        overhead = statistics.median(w / p - 1 for p, w in zip(times[False], times[True], strict=True))
        print(f"\n{len(cases)} hippocampus volumes, median of {args.repeats}: {plain:.2f} s without, "
              f"{with_report:.2f} s with --report; paired overhead +{100 * overhead:.1f} % "
              f"(report.html {size / 1e3:.0f} kB)")  # fmt: skip
        if args.page_rows:
            open_page(Path(tmp) / "out_True", Path(tmp) / "big", args.page_rows)


def open_page(run: Path, folder: Path, rows: int) -> None:
    """Copy ``run``'s masks and records to ``rows`` inputs, build the report, open it in Chromium."""
    from playwright.sync_api import sync_playwright

    from unet3d.report import QC_DIR, build_report, mask_files

    masks = mask_files(run)
    (folder / QC_DIR).mkdir(parents=True)
    shutil.copy(run / QC_DIR / "run_0.json", folder / QC_DIR)
    for i in range(rows):
        mask = masks[i % len(masks)]
        name = f"case_{i:05d}_seg.nii.gz"
        shutil.copy(mask, folder / name)
        for suffix in (".json", ".webp"):
            shutil.copy(run / QC_DIR / f"{mask.name}{suffix}", folder / QC_DIR / f"{name}{suffix}")
    start = time.perf_counter()
    report = build_report(folder)
    built = time.perf_counter() - start
    with sync_playwright() as p:
        executable = shutil.which("chromium") or "/usr/bin/chromium"
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        page = browser.new_page()
        start = time.perf_counter()
        page.goto(report.as_uri(), wait_until="load")  # the load event waits for every image
        loaded = time.perf_counter() - start
        ok = page.evaluate("Array.from(document.images).filter((i) => i.complete && i.naturalWidth > 0).length")
        browser.close()
    print(f"{rows} rows: report built in {built:.1f} s, {report.stat().st_size / 1e6:.1f} MB; Chromium: "
          f"load event (all {ok} images decoded) after {loaded:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
