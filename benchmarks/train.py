"""Training throughput of a bundle against plain PyTorch/MONAI loops, from one run.

All three use the network, loss, optimizer, transforms and batch size of the bundle's
``configs/train.yaml``; they differ in how the loop and the data are run:

- ``bundle``: the bundle's own ``train#trainer`` (MONAI ``SupervisedTrainer`` with its handlers:
  stats, TensorBoard, checkpoints, progress bar) on its ``CacheDataset`` (deterministic transforms
  and, for EM, the paper's weight maps computed once);
- ``plain``: the loop one writes by hand: ``monai.data.Dataset`` with the same transform chain
  (deterministic transforms redone every time a sample is drawn), a ``DataLoader`` with the same
  batch size and sampling, ``zero_grad / forward / loss / backward / step``;
- ``plain-cached``: the same hand-written loop on the bundle's ``CacheDataset``: what the engine
  and handlers cost by themselves;
- ``bundle-thread``: the bundle's trainer with MONAI's ``ThreadDataLoader`` (the next batch
  augmented in a thread), what the bundles use on a GPU, in place of the ``DataLoader`` they use
  on a CPU: what the thread changes on this CPU.

Each is timed over ``--repeats`` epochs after one warm-up epoch (samples/s: median, min-max);
validation is off. Prints a table and the ratios bundle / plain, and writes JSON with ``--json``.

    .venv/bin/python benchmarks/train.py --bundle em --samples 20
    .venv/bin/python benchmarks/train.py --bundle hippocampus --samples 24
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, summary

DATASETS = {"em": DATA / "isbi2012" / "train", "hippocampus": DATA / "msd_hippocampus"}


def parsed_workflow(bundle: str, out: str, samples: int, epochs: int, **settings):
    """The bundle's train workflow, initialised, limited to ``samples`` per epoch and no validation;
    ``settings``: more config overrides."""
    from monai.bundle import ConfigWorkflow

    root = REPO / "bundles" / bundle
    overrides = {"max_epochs": epochs, "val_interval": 10**6, "resume": False, **settings}
    wf = ConfigWorkflow(
        config_file=str(root / "configs" / "train.yaml"), workflow_type="train", bundle_root=str(root),
        dataset_dir=str(DATASETS[bundle]), output_dir=out, **overrides,
    )  # fmt: skip
    if "samples_per_epoch" in wf.parser:  # EM: random tiles drawn per epoch
        wf.parser["samples_per_epoch"] = samples
    else:  # one pass over the first `samples` training volumes
        wf.parser["train#datalist"] = f"$@datalist['training'][:{samples}]"
    wf.initialize()
    return wf


def bundle_rates(bundle: str, samples: int, repeats: int, **settings) -> list[float]:
    """Samples/s of the bundle's SupervisedTrainer, per epoch after the first."""
    from ignite.engine import Events

    with tempfile.TemporaryDirectory() as out:
        wf = parsed_workflow(bundle, out, samples, epochs=1 + repeats, **settings)
        trainer = wf.parser.get_parsed_content("train#trainer")
        starts: dict[int, float] = {}
        rates: list[float] = []
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: starts.update({e.state.epoch: time.perf_counter()}))

        def done(engine) -> None:
            if engine.state.epoch > 1:
                rates.append(samples / (time.perf_counter() - starts[engine.state.epoch]))

        trainer.add_event_handler(Events.EPOCH_COMPLETED, done)
        wf.run()
        return rates


def plain_rates(bundle: str, samples: int, repeats: int, cached: bool) -> list[float]:
    """Samples/s of a hand-written loop, per epoch after the first."""
    from monai.data import DataLoader, Dataset

    with tempfile.TemporaryDirectory() as out:
        wf = parsed_workflow(bundle, out, samples, epochs=1)
        p = wf.parser
        cache = p.get_parsed_content("train#dataset")
        dataset = cache if cached else Dataset(data=cache.data, transform=cache.transform)
        loader_cfg = p.get_parsed_content("train#dataloader")
        sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=samples)
        shuffle = "samples_per_epoch" not in p
        loader = DataLoader(dataset, batch_size=loader_cfg.batch_size, num_workers=loader_cfg.num_workers,
                            sampler=None if shuffle else sampler, shuffle=shuffle)  # fmt: skip
        device = p.get_parsed_content("device")
        net, loss_fn, opt = (p.get_parsed_content(k) for k in ("network", "loss", "optimizer"))
        net.train()
        rates = []
        for epoch in range(1 + repeats):
            start = time.perf_counter()
            for batch in loader:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(batch["image"].to(device)), batch["label"].to(device))
                loss.backward()
                opt.step()
            if epoch:
                rates.append(samples / (time.perf_counter() - start))
        return rates


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", choices=list(DATASETS), default="em")
    parser.add_argument("--samples", type=int, default=20, help="samples (EM tiles, hippocampus volumes) per epoch")
    parser.add_argument("--repeats", type=int, default=2, help="timed epochs per method (after one warm-up)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    rates = {
        "plain": plain_rates(args.bundle, args.samples, args.repeats, cached=False),
        "plain-cached": plain_rates(args.bundle, args.samples, args.repeats, cached=True),
        "bundle": bundle_rates(args.bundle, args.samples, args.repeats),
        "bundle-thread": bundle_rates(
            args.bundle, args.samples, args.repeats, **{"train#dataloader#_target_": "ThreadDataLoader"}
        ),
    }
    stats = {k: summary(v) for k, v in rates.items()}
    print(f"{args.bundle}: {args.samples} samples per epoch, {args.repeats} timed epochs, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    print(f"{'method':14} {'samples/s median (min-max)':>28}")
    for name, s in stats.items():
        print(f"{name:14} {s['median']:12.3f} ({s['min']:.3f}-{s['max']:.3f})")
    others = ("plain", "plain-cached", "bundle-thread")
    ratios = {f"bundle/{k}": stats["bundle"]["median"] / stats[k]["median"] for k in others}
    for name, r in ratios.items():
        print(f"ratio {name}: {r:.3f}")
    result = {"bundle": args.bundle, "samples": args.samples, "cpus": os.cpu_count(), "rates": stats, **ratios}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
