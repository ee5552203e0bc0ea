"""GPU figures (#19): training throughput with and without AMP, CT-sized inference at each
precision (time, peak GPU memory), and mask agreement with the CPU.

- **Training**: each bundle's own ``train.yaml`` (``SupervisedTrainer``, its cached data moved to
  ``data_device``, ``ThreadDataLoader``), run for ``--warmup`` + ``--iterations`` iterations with
  ``amp`` off, then on, on the same cached data; samples/s over the timed iterations (a sample is
  one patch or tile: the batch's first axis). Data: the first training cases of each bundle's
  real data set; ``spleen_ct``: the shared CT series with its spleen label
  (:func:`benchmarks.common.ct_training_set`; the bundle ships no weights and no CT labels exist
  here, so this is throughput only).
- **Inference**: the hippocampus bundle's ``BundlePredictor`` on the CT-sized volume
  (``benchmarks/infer.py``: the real CT series resampled to 512x512x200 voxels at 1 mm, 52 M
  voxels) on ``--device`` at fp32 eager, fp32 frozen, and mixed precision frozen; seconds (after
  one warm-up run), peak GPU memory (``torch.cuda.max_memory_allocated``), and the mask's Dice
  against the CPU's fp32 mask (mean over the labels present).

Prints a table; ``--json FILE`` writes the figures. Sized to finish well within 8 minutes on one
GPU (an estimate: no GPU has run it yet). ``--device cpu`` is a dry run of every step with tiny
sizes (a CT-sized volume of 128x128x64, 2 timed iterations, bf16 as the mixed precision: CPUs
have no fast fp16), for CI machines and for checking the script before a GPU is lent.

    .venv/bin/python benchmarks/gpu.py --json out/gpu.json      # on a GPU machine
    .venv/bin/python benchmarks/gpu.py --device cpu             # dry run, about 5 min here
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, ct_training_set, dice

# per bundle: the data set and the overrides that make a short run on a few cached cases
TRAINING = {
    "em": ("isbi2012/train", {"train#datalist": "$@datalist['training'][:4]", "samples_per_epoch": 10_000}),
    "hippocampus": ("msd_hippocampus", {"train#datalist": "$@datalist['training'][:16]"}),
    "nuclei": ("ctc_fluo_nuclei/N2DH-GOWT1", {"samples_per_epoch": 10_000}),
    "spleen_ct": (None, {"num_folds": 2}),
}


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def stamper(stamps: list[float], samples: list[int], device: str, total: int):
    """An iteration handler: records the time and the batch size, stops the run after ``total``."""

    def stamp(engine) -> None:
        sync(device)
        stamps.append(time.perf_counter())
        samples.append(int(engine.state.output["image"].shape[0]))
        if len(stamps) > total:
            engine.terminate()

    return stamp


def training_throughput(bundle: str, device: str, warmup: int, iterations: int, work: Path) -> dict:
    """Samples/s of the bundle's trainer with ``amp`` off and on (same cached data)."""
    from ignite.engine import Events
    from monai.bundle import ConfigWorkflow

    folder, overrides = TRAINING[bundle]
    data = ct_training_set(DATA, work / "ct") if folder is None else DATA / folder
    result: dict = {}
    dataset = None
    for amp in (False, True):
        given = dict(overrides, **({"train#dataset": dataset} if dataset is not None else {}))
        wf = ConfigWorkflow(
            config_file=str(REPO / "bundles" / bundle / "configs/train.yaml"), workflow_type="train",
            bundle_root=str(REPO / "bundles" / bundle), dataset_dir=str(data), output_dir=str(work / bundle),
            device=f"$torch.device('{device}')", amp=amp, max_epochs=10_000, val_interval=10_000, resume=False,
            **given,
        )  # fmt: skip
        wf.initialize()
        dataset = wf.parser.get_parsed_content("train#dataset")
        trainer = wf.parser.get_parsed_content("train#trainer")
        stamps: list[float] = []
        samples: list[int] = []
        trainer.add_event_handler(Events.ITERATION_COMPLETED, stamper(stamps, samples, device, warmup + iterations))
        trainer.run()
        timed = sum(samples[warmup + 1 :])
        result["amp" if amp else "fp32"] = timed / (stamps[-1] - stamps[warmup])
        result["batch"] = samples[-1]
    return result


def inference(device: str, precision: str, shape: tuple[int, int, int], work: Path, repeats: int = 1) -> dict:
    """The hippocampus bundle on the CT-sized volume: seconds, peak GPU MB, and the masks."""
    import numpy as np
    import torch

    from benchmarks.infer import make_ct_sized
    from unet3d.inference import BundlePredictor
    from unet3d.io import read_volume

    path = work / f"ct_{'x'.join(map(str, shape))}.nii.gz"
    if not path.exists():
        make_ct_sized(path, shape)
    image = read_volume(path).image
    rows = {}
    cpu = BundlePredictor(REPO / "bundles/hippocampus", device="cpu", precision="fp32")
    reference = np.asarray(cpu(image.clone()))
    for name, freeze in (("fp32 eager", 0), ("fp32 frozen", 8), (f"{precision} frozen", 8)):
        wanted = name.split()[0]
        predictor = BundlePredictor(
            REPO / "bundles/hippocampus", device=device, precision=wanted, freeze_min_windows=freeze
        )
        predictor(image.clone())  # warm-up: cuDNN's algorithm choice, the frozen copy, allocations
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(repeats):
            sync(device)
            start = time.perf_counter()
            mask = np.asarray(predictor(image.clone()))
            sync(device)
            times.append(time.perf_counter() - start)
        peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else None
        rows[name] = {
            "seconds": min(times),
            "peak_gpu_mb": peak,
            "dice_vs_cpu": dice(mask, reference),
            "labelled_voxels": int((mask > 0).sum()),
        }
    return rows


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda, cuda:1, ... or cpu for a dry run")
    parser.add_argument("--iterations", type=int, default=None, help="timed training iterations (GPU 20, CPU 2)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed first iterations (GPU 3, CPU 1)")
    parser.add_argument("--bundles", nargs="+", default=list(TRAINING), choices=list(TRAINING))
    parser.add_argument("--ct-shape", type=int, nargs=3, default=None, metavar="N",
                        help="the CT-sized volume's voxels (GPU 512 512 200, CPU dry run 128 128 64)")  # fmt: skip
    parser.add_argument("--json", default=None, help="write the figures here")
    args = parser.parse_args(argv)
    on_gpu = args.device.startswith("cuda")
    if on_gpu and not torch.cuda.is_available():
        print(f"error: --device {args.device}: no CUDA device here (use --device cpu for a dry run)", file=sys.stderr)
        return 1
    iterations = args.iterations or (20 if on_gpu else 2)
    warmup = args.warmup or (3 if on_gpu else 1)
    precision = "fp16" if on_gpu else "bf16"
    shape = tuple(args.ct_shape or ((512, 512, 200) if on_gpu else (128, 128, 64)))
    machine = torch.cuda.get_device_name(args.device) if on_gpu else f"CPU, {torch.get_num_threads()} threads"
    print(f"# {machine}; torch {torch.__version__}")
    figures: dict = {"device": machine, "torch": torch.__version__, "training": {}, "inference": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        print("\n| bundle | batch | samples/s fp32 | samples/s AMP | AMP speed-up |\n|---|---|---|---|---|")
        for bundle in args.bundles:
            row = training_throughput(bundle, args.device, warmup, iterations, work)
            figures["training"][bundle] = row
            speedup = row["amp"] / row["fp32"]
            print(f"| {bundle} | {row['batch']} | {row['fp32']:.2f} | {row['amp']:.2f} | {speedup:.2f}x |")
        rows = inference(args.device, precision, shape, work)
        figures["inference"] = {"shape": shape, **rows}
        voxels = shape[0] * shape[1] * shape[2] / 1e6
        print(f"\nhippocampus bundle on a CT-sized volume ({'x'.join(map(str, shape))}, {voxels:.0f} M voxels)")
        print("\n| precision | seconds | peak GPU MB | Dice vs CPU fp32 | labelled voxels |\n|---|---|---|---|---|")
        for name, r in rows.items():
            peak = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "n/a"
            print(f"| {name} | {r['seconds']:.2f} | {peak} | {r['dice_vs_cpu']:.4f} | {r['labelled_voxels']} |")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
