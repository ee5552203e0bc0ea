"""Ignite handlers for bundles: resuming training, and the evaluation report."""

from __future__ import annotations

import csv
import json
import logging
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from ignite.engine import Engine, Events
from monai.handlers import CheckpointLoader

from unet3d.bundle.paths import latest_checkpoint

logger = logging.getLogger(__name__)


class ResumeFromLatest:
    """Resume training from the newest ``checkpoint_epoch=N.pt`` in ``ckpt_dir``, if there is one.

    MONAI's ``CheckpointLoader`` needs a path that exists; this handler looks for the newest
    last-epoch checkpoint (written by ``CheckpointSaver(save_interval=1, epoch_level=True)``) when
    it is attached and delegates to ``CheckpointLoader``. The trainer's state (epoch, iteration)
    is restored with the model, optimizer and scheduler, so an interrupted run loses at most the
    epoch in progress.

    Args:
        ckpt_dir: folder with the checkpoints.
        load_dict: objects to restore, e.g. ``{"model": net, "optimizer": opt, "trainer": trainer}``.
        enabled: set ``False`` to always start afresh.
    """

    def __init__(self, ckpt_dir: str, load_dict: Mapping[str, Any], enabled: bool = True) -> None:
        self.ckpt_dir = ckpt_dir
        self.load_dict = dict(load_dict)
        self.enabled = enabled

    def attach(self, engine: Engine) -> None:
        path = latest_checkpoint(self.ckpt_dir) if self.enabled else None
        if path is None:
            logger.info(f"no checkpoint in {self.ckpt_dir}: training from the start")
            return
        logger.info(f"resuming from {path}")
        CheckpointLoader(load_path=path, load_dict=self.load_dict, map_location={"cuda:0": "cpu"}).attach(engine)


class EvaluationReport:
    """Write per-image metrics to ``per_image.csv`` and their summary to ``summary.json``.

    The metrics are those the evaluator computed with ``save_details=True`` (MONAI's
    ``IgniteMetricHandler`` keeps each image's value in ``engine.state.metric_details``); image
    names come from the batches' ``image`` meta data. Files are written atomically. MONAI's
    ``MetricsSaver`` writes one CSV per metric and no JSON; this writes the one table and the JSON
    summary the bundle promises.

    Args:
        output_dir: folder for the two files (created if missing).
        metric_names: which metrics to report; all in ``metric_details`` if ``None``.
    """

    def __init__(self, output_dir: str, metric_names: Sequence[str] | None = None) -> None:
        self.output_dir = output_dir
        self.metric_names = metric_names
        self._names: list[str] = []

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, lambda _: self._names.clear())
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._collect_names)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _collect_names(self, engine: Engine) -> None:
        batch: Any = engine.state.batch
        items = batch if isinstance(batch, list) else [batch]
        for item in items:
            meta = getattr(item.get("image"), "meta", {}) or item.get("image_meta_dict", {})
            names = meta.get("filename_or_obj", "")
            self._names.extend(names if isinstance(names, (list, tuple)) else [names])

    def _write(self, engine: Engine) -> None:
        details: dict[str, torch.Tensor] = engine.state.metric_details  # type: ignore[attr-defined]
        names = list(self.metric_names or details.keys())
        values = {n: torch.as_tensor(details[n]).reshape(len(self._names), -1)[:, 0].tolist() for n in names}
        os.makedirs(self.output_dir, exist_ok=True)
        csv_path = os.path.join(self.output_dir, "per_image.csv")
        with open(csv_path + ".tmp", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["image", *names])
            for i, image in enumerate(self._names):
                writer.writerow([image, *(f"{values[n][i]:.6f}" for n in names)])
        os.replace(csv_path + ".tmp", csv_path)
        summary: dict[str, Any] = {"images": len(self._names)}
        for n in names:
            v = [x for x in values[n] if not math.isnan(x)]
            summary[n] = {"mean": sum(v) / len(v) if v else math.nan, "min": min(v, default=math.nan)}
            summary[n]["max"] = max(v, default=math.nan)
        json_path = os.path.join(self.output_dir, "summary.json")
        with open(json_path + ".tmp", "w") as f:
            json.dump(summary, f, indent=2)
        os.replace(json_path + ".tmp", json_path)
        logger.info(f"evaluation report: {csv_path}, {json_path}: {json.dumps(summary)}")
