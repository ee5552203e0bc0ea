"""Ignite handlers for bundles: resuming training, and the evaluation report."""

from __future__ import annotations

import csv
import io
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
from unet3d.io.atomic import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)


class ResumeFromLatest:
    """Resume training from the newest ``checkpoint_epoch=N.pt`` in ``ckpt_dir``, if there is one.

    MONAI's ``CheckpointLoader`` needs a path that exists; this handler looks for the newest
    last-epoch checkpoint (written by ``CheckpointSaver(save_interval=1, epoch_level=True)``) and
    loads it with ``CheckpointLoader`` when it is attached (before the run starts). The trainer's
    state (epoch, iteration) is restored with the model, optimizer and scheduler, so an interrupted
    run loses at most the epoch in progress.

    Without a checkpoint to resume from, training starts from ``init_weights`` when given (a
    model state dict such as the bundle's ``models/model.pt``: fine-tuning) or from scratch.

    Args:
        ckpt_dir: folder with the checkpoints.
        load_dict: objects to restore, e.g. ``{"model": net, "optimizer": opt, "trainer": trainer}``.
        enabled: set ``False`` to always start afresh.
        init_weights: weights for ``load_dict["model"]`` when there is nothing to resume; ``None``
            or ``""`` for a random initialisation.
    """

    def __init__(
        self, ckpt_dir: str, load_dict: Mapping[str, Any], enabled: bool = True, init_weights: str | None = None
    ) -> None:
        self.ckpt_dir = ckpt_dir
        self.load_dict = dict(load_dict)
        self.enabled = enabled
        self.init_weights = init_weights

    def attach(self, engine: Engine) -> None:
        path = latest_checkpoint(self.ckpt_dir) if self.enabled else None
        if path is None and self.init_weights:
            if not os.path.isfile(self.init_weights):
                raise FileNotFoundError(f"{self.init_weights}: init_weights not found")
            logger.info(f"no checkpoint in {self.ckpt_dir}: fine-tuning from {self.init_weights}")
            state = torch.load(self.init_weights, map_location="cpu", weights_only=True)
            self.load_dict["model"].load_state_dict(state.get("model", state))
            return
        if path is None:
            logger.info(f"no checkpoint in {self.ckpt_dir}: training from the start")
            return
        # loaded now, not on the engine's STARTED event, so that Ignite's "Engine run resuming from
        # iteration N, epoch E" names the restored epoch instead of "epoch 0"
        CheckpointLoader(load_path=path, load_dict=self.load_dict, map_location={"cuda:0": "cpu"})(engine)
        logger.info(f"resumed from {path}: epoch {engine.state.epoch} of {engine.state.max_epochs} done")


class EvaluationReport:
    """Write per-image metrics to ``per_image.csv`` and their summary to ``summary.json``.

    The metrics are those the evaluator computed with ``save_details=True`` (MONAI's
    ``IgniteMetricHandler`` keeps each image's value in ``engine.state.metric_details``); image
    names come from the batches' ``image`` meta data. Files are written atomically. MONAI's
    ``MetricsSaver`` writes one CSV per metric and no JSON; this writes the one table and the JSON
    summary the bundle promises.

    A metric with one value per class (e.g. ``MeanDice`` of several foreground classes) gets one
    column per class, ``<metric>_<class name>``, besides its per-image mean over classes.

    Args:
        output_dir: folder for the two files (created if missing).
        metric_names: which metrics to report; all in ``metric_details`` if ``None``.
        class_names: names of the classes of multi-class metrics, in channel order (e.g.
            ``["anterior", "posterior"]``); ``class_0``, ``class_1``, ... if ``None``.
        groups: image path to group name (e.g. the data set it comes from); the CSV gets a
            ``group`` column and the summary a ``groups`` entry with each group's mean and count.
    """

    def __init__(
        self,
        output_dir: str,
        metric_names: Sequence[str] | None = None,
        class_names: Sequence[str] | None = None,
        groups: Mapping[str, str] | None = None,
    ) -> None:
        self.output_dir = output_dir
        self.metric_names = metric_names
        self.class_names = class_names
        self.groups = dict(groups) if groups else None
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
        values: dict[str, list[float]] = {}
        for metric in self.metric_names or details.keys():
            table = torch.as_tensor(details[metric], dtype=torch.float64).reshape(len(self._names), -1)
            values[metric] = table.nanmean(dim=1).tolist()
            if table.shape[1] > 1:
                for k in range(table.shape[1]):
                    label = self.class_names[k] if self.class_names else f"class_{k}"
                    values[f"{metric}_{label}"] = table[:, k].tolist()
        names = list(values)
        os.makedirs(self.output_dir, exist_ok=True)
        csv_path = os.path.join(self.output_dir, "per_image.csv")
        lines = io.StringIO(newline="")
        writer = csv.writer(lines)
        group_column = ["group"] if self.groups else []
        writer.writerow(["image", *group_column, *names])
        for i, image in enumerate(self._names):
            in_group = [self.groups.get(image, "")] if self.groups else []
            writer.writerow([image, *in_group, *(f"{values[n][i]:.6f}" for n in names)])
        atomic_write_text(csv_path, lines.getvalue())
        summary: dict[str, Any] = {"images": len(self._names)}
        for n in names:
            v = [x for x in values[n] if not math.isnan(x)]
            summary[n] = {"mean": sum(v) / len(v) if v else math.nan, "min": min(v, default=math.nan)}
            summary[n]["max"] = max(v, default=math.nan)
        if self.groups:
            summary["groups"] = {}
            for group in sorted(set(self.groups.get(image, "") for image in self._names)):
                rows = [i for i, image in enumerate(self._names) if self.groups.get(image, "") == group]
                entry: dict[str, Any] = {"images": len(rows)}
                for n in names:
                    v = [values[n][i] for i in rows if not math.isnan(values[n][i])]
                    entry[n] = sum(v) / len(v) if v else math.nan
                summary["groups"][group] = entry
        json_path = os.path.join(self.output_dir, "summary.json")
        atomic_write_text(json_path, json.dumps(summary, indent=2))
        logger.info(f"evaluation report: {csv_path}, {json_path}: {json.dumps(summary)}")


class PublishBestModel:
    """When training completes, copy the best checkpoint over the bundle's ``models/model.pt``.

    MONAI Label serves ``models/model.pt``; after ``/train`` the next ``/infer`` must use the new
    weights, so its training runs switch this on (``publish_model: true``). The copy is atomic
    (temporary file, then rename). A command-line training leaves the shipped weights alone
    unless asked, as the project never overwrites what a user has without being told to.

    Args:
        source: the best checkpoint written by ``CheckpointSaver`` (a state dict or ``{"model": ...}``).
        target: the bundle's ``models/model.pt``.
        enabled: off by default.
    """

    def __init__(self, source: str, target: str, enabled: bool = False) -> None:
        self.source, self.target, self.enabled = source, target, enabled

    def attach(self, engine: Engine) -> None:
        if self.enabled:
            engine.add_event_handler(Events.COMPLETED, self._publish)

    def _publish(self, engine: Engine) -> None:
        if not os.path.isfile(self.source):
            logger.warning(f"{self.source}: no best checkpoint (no validation ran?); {self.target} kept")
            return
        state = torch.load(self.source, map_location="cpu", weights_only=True)
        os.makedirs(os.path.dirname(self.target) or ".", exist_ok=True)  # a bundle shipped without weights
        atomic_write(self.target, lambda tmp: torch.save(state.get("model", state), tmp), overwrite=True)
        logger.info(f"published {self.source} as {self.target}")
