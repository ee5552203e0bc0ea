"""Size the training to a time budget by running the planned bundle's own trainer and evaluator briefly.

Timing the network alone on random tensors missed half of an epoch on a CPU: loading and
augmenting each batch, the loss on real labels, the engine's handlers, and the speed of the
machine at the moment. So the planned bundle is rendered into a temporary folder and its
``train#trainer`` runs a few iterations on the first training cases (as cached), and its
``validate#evaluator`` one validation case: what is timed is what the training will run.
"""

from __future__ import annotations

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


def _repeat(entries: list, n: int) -> list:
    """The first ``n`` of ``entries`` repeated as needed (a data set may have fewer cases than ``n``)."""
    return [dict(entries[i % len(entries)]) for i in range(n)]


def time_bundle(p: Plans, iterations: int = 10, warmup: int = 2) -> tuple[float, float]:
    """Seconds per training iteration (a batch: loading from the cache, augmentation, forward,
    backward, update) and per validation case (sliding windows, postprocessing, metric) of the
    planned bundle on this machine's CPU.

    Args:
        p: the plans (rendered into a temporary bundle; nothing is written elsewhere).
        iterations: timed training iterations, after ``warmup`` untimed ones.
        warmup: iterations left out of the timing (allocation, first calls); at least 1, since
            the first timed gap starts where the last warm-up iteration ends.

    Returns:
        ``(iteration_s, validation_case_s)``: the mean of the timed iterations, and one validation case.
    """
    from ignite.engine import Events
    from monai.bundle import ConfigParser

    if warmup < 1 or iterations < 1:
        raise ValueError(f"warmup {warmup} and iterations {iterations}: both at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        render_configs(p, Path(tmp))
        parser = ConfigParser()
        parser.read_config(str(Path(tmp) / "configs" / "train.yaml"))
        parser.update({"bundle_root": tmp, "device": "$torch.device('cpu')", "max_epochs": 1})
        datalist = parser.get_parsed_content("datalist")
        parser["train"]["datalist"] = _repeat(datalist["training"], p.batch_size * (iterations + warmup))
        parser["validate"]["datalist"] = _repeat(datalist["validation"] or datalist["training"], 1)
        # no validation, progress bar or logs inside the timing run; the scheduler's cost is nil
        parser["train"]["handlers"] = []
        parser["validate"]["handlers"] = []
        parser["train"]["dataset"]["progress"] = parser["validate"]["dataset"]["progress"] = False
        parser.parse(reset=True)  # the datalist above was parsed with the original config
        trainer = parser.get_parsed_content("train#trainer")
        evaluator = parser.get_parsed_content("validate#evaluator")
        completed: list[float] = []
        trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: completed.append(time.perf_counter()))
        trainer.run()
        start = time.perf_counter()
        evaluator.run()
        validation_case_s = time.perf_counter() - start
    return statistics.fmean(np.diff(completed[warmup - 1 :])), validation_case_s


def fit_to_budget(p: Plans, fp: Fingerprint, minutes: float) -> Plans:
    """``p`` with ``max_epochs`` and ``val_interval`` that fit ``minutes`` of training here
    (:func:`unet3d.plan.rules.epochs_for`), from a short timed run of the bundle (:func:`time_bundle`)."""
    iteration_s, validation_case_s = time_bundle(p)
    n_val = math.ceil(len(fp.cases) / p.num_folds)
    n_train = max(1, len(fp.cases) - n_val)
    epoch_s = math.ceil(n_train / p.batch_size) * iteration_s
    epochs, interval = rules.epochs_for(minutes * 60, epoch_s, n_val * validation_case_s)
    reason = (f"{epochs} epochs, validation every {interval}: {minutes:g} minutes at {iteration_s:.2f} s per "
              f"training iteration of {p.batch_size} patches and {validation_case_s:.1f} s per validation case "
              f"(timed by running the bundle's trainer and evaluator briefly), {n_train} training and {n_val} "
              f"validation cases")  # fmt: skip
    return dataclasses.replace(p, max_epochs=epochs, val_interval=interval, seconds_per_step=iteration_s,
                               reasons=[*p.reasons, reason])  # fmt: skip
