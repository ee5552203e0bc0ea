"""Size the training to a time budget: the planned network's step and the bundle's own augmentation, timed.

A step of the network alone misses most of an epoch on a CPU when patches are small: the random
augmentation (affine, elastic) of each sample costs as much or more. So the bundle's own
``train#augmentation`` (from its rendered ``train.yaml``) is timed on a few real cases too.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from unet3d.plan import rules
from unet3d.plan.fingerprint import Fingerprint
from unet3d.plan.plans import Plans
from unet3d.plan.writer import render_configs


def time_training_step(spatial_dims: int, channels: int, classes: int, features: list[int], patch: list[int],
                       batch: int, steps: int = 3) -> tuple[float, float]:  # fmt: skip
    """Seconds per training step (forward, backward, update) of the planned network on a batch of
    random patches, and per inference window; the median of ``steps`` after one warm-up."""
    import torch
    from monai.losses import DiceCELoss

    from unet3d.networks import UNet

    net = UNet(spatial_dims, channels, classes, features=features, padding="same", norm="instance")
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss = DiceCELoss(to_onehot_y=True, softmax=True)
    x = torch.randn(batch, channels, *patch)
    y = torch.randint(0, classes, (batch, 1, *patch))
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss(net(x), y).backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    net.eval()
    with torch.inference_mode():
        start = time.perf_counter()
        net(x[:1])
        window = time.perf_counter() - start
    return float(np.median(times[1:])), window


def time_augmentation(p: Plans, samples: int = 4, rounds: int = 5) -> float:
    """Seconds per training sample of the planned bundle's random augmentation
    (``train#augmentation`` of its ``train.yaml``), on its first training cases as cached: the
    mean of ``samples x rounds`` draws (the transforms fire at random, so the mean, not the median)."""
    from monai.bundle import ConfigParser
    from monai.transforms import Compose

    with tempfile.TemporaryDirectory() as tmp:
        render_configs(p, Path(tmp))
        parser = ConfigParser()
        parser.read_config(str(Path(tmp) / "configs" / "train.yaml"))
        parser.update({"bundle_root": tmp, "device": "$torch.device('cpu')"})
        entries = parser.get_parsed_content("datalist")["training"][:samples]
        cached = [Compose(parser.get_parsed_content("load_transforms"))(dict(e)) for e in entries]
        augment = Compose(parser.get_parsed_content("train#augmentation"))
        times = []
        for _ in range(rounds):
            for case in cached:
                start = time.perf_counter()
                augment(copy.deepcopy(case))
                times.append(time.perf_counter() - start)
    return statistics.fmean(times)


def fit_to_budget(p: Plans, fp: Fingerprint, minutes: float) -> Plans:
    """``p`` with ``max_epochs`` and ``val_interval`` that fit ``minutes`` of training here
    (:func:`unet3d.plan.rules.epochs_for`), from timed network steps and augmentation."""
    step_s, window_s = time_training_step(p.spatial_dims, p.channels, len(p.label_values), p.features,
                                          p.patch_size, p.batch_size)  # fmt: skip
    augment_s = time_augmentation(p)
    n_train = max(1, len(fp.cases) - math.ceil(len(fp.cases) / p.num_folds))
    epoch_s = math.ceil(n_train / p.batch_size) * step_s + n_train * augment_s
    windows = np.prod([max(1, math.ceil(m / (s * 0.75))) for m, s in zip(p.median_shape, p.patch_size, strict=True)])
    validation_s = math.ceil(len(fp.cases) / p.num_folds) * float(windows) * window_s * 1.5
    epochs, interval = rules.epochs_for(minutes * 60, epoch_s, validation_s)
    reason = (f"{epochs} epochs, validation every {interval}: {minutes:g} minutes at {step_s:.2f} s per network "
              f"step of {p.batch_size} patches and {augment_s:.2f} s of augmentation per sample (both measured), "
              f"{n_train} training cases")  # fmt: skip
    return dataclasses.replace(p, max_epochs=epochs, val_interval=interval, seconds_per_step=step_s,
                               reasons=[*p.reasons, reason])  # fmt: skip
