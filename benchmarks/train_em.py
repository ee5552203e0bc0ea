"""Training throughput of the EM bundle against a plain PyTorch/MONAI loop, from one run.

Both use the same network definition, cached dataset, augmentation and loss from
bundles/em/configs/train.yaml; the plain loop drops Ignite (no engine, no handlers). Prints
samples/s of each and their ratio (bundle / plain).

    .venv/bin/python benchmarks/train_em.py --data ../shared/data/isbi2012/train --samples 20
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from ignite.engine import Events
from monai.bundle import ConfigWorkflow
from monai.data import DataLoader

BUNDLE = Path(__file__).resolve().parent.parent / "bundles" / "em"


def workflow(data: str, out: str, samples: int, epochs: int) -> ConfigWorkflow:
    wf = ConfigWorkflow(
        config_file=str(BUNDLE / "configs" / "train.yaml"),
        workflow_type="train",
        bundle_root=str(BUNDLE),
        dataset_dir=data,
        output_dir=out,
        max_epochs=epochs,
        samples_per_epoch=samples,
        val_interval=10**6,  # no validation: training throughput only
    )
    wf.initialize()
    return wf


def bundle_rate(data: str, samples: int) -> float:
    """Samples/s of the bundle's SupervisedTrainer over its second epoch (the first warms up)."""
    with tempfile.TemporaryDirectory() as out:
        wf = workflow(data, out, samples, epochs=2)
        trainer = wf.parser.get_parsed_content("train#trainer")
        marks: dict[int, float] = {}
        trainer.add_event_handler(Events.EPOCH_STARTED, lambda e: marks.__setitem__(e.state.epoch, time.perf_counter()))
        trainer.add_event_handler(
            Events.EPOCH_COMPLETED, lambda e: marks.__setitem__(-e.state.epoch, time.perf_counter())
        )
        wf.run()
        return samples / (marks[-2] - marks[2])


def plain_rate(data: str, samples: int) -> float:
    """Samples/s of a hand-written loop on the same dataset, network and loss (second pass timed)."""
    with tempfile.TemporaryDirectory() as out:
        wf = workflow(data, out, samples, epochs=1)
        dataset = wf.parser.get_parsed_content("train#dataset")
        net = wf.parser.get_parsed_content("network_def").train()
        loss_fn = wf.parser.get_parsed_content("loss")
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=samples)
        loader = DataLoader(dataset, batch_size=1, sampler=sampler, num_workers=0)
        elapsed = 0.0
        for _ in range(2):
            start = time.perf_counter()
            for batch in loader:
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(batch["image"]), batch["label"])
                loss.backward()
                opt.step()
            elapsed = time.perf_counter() - start
        return samples / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default = BUNDLE.parent.parent.parent / "shared" / "data" / "isbi2012" / "train"
    parser.add_argument("--data", default=str(default), help="ISBI 2012 train folder (images/, labels/)")
    parser.add_argument("--samples", type=int, default=20, help="572 px tiles per timed epoch")
    args = parser.parse_args()
    torch.manual_seed(0)
    plain = plain_rate(args.data, args.samples)
    bundle = bundle_rate(args.data, args.samples)
    print(f"threads: {torch.get_num_threads()}  tiles per timed epoch: {args.samples} (572x572 in, 388x388 out)")
    print(f"plain PyTorch/MONAI loop: {plain:.3f} samples/s")
    print(f"bundle (SupervisedTrainer): {bundle:.3f} samples/s")
    print(f"ratio bundle/plain: {bundle / plain:.3f}")


if __name__ == "__main__":
    main()
