"""Whole-run training progress: TensorBoard location at the start, the run's ETA after each epoch."""

from __future__ import annotations

import logging
import re

from ignite.engine import Engine

from unet3d.bundle import TrainingProgress


def test_logs_the_log_dir_and_an_eta_per_epoch(caplog, tmp_path):
    engine = Engine(lambda engine, batch: None)
    TrainingProgress(str(tmp_path)).attach(engine)
    with caplog.at_level(logging.INFO, logger="unet3d.bundle.progress"):
        engine.run([0, 1], max_epochs=3)
    lines = [r.getMessage() for r in caplog.records if r.name == "unet3d.bundle.progress"]
    assert lines[0] == f"TensorBoard logs: {tmp_path} (view with: tensorboard --logdir {tmp_path})"
    assert re.fullmatch(r"epoch 1/3 done in 1 min; about 1 min left \(ETA \d\d:\d\d\)", lines[1]), lines
    assert lines[3] == "epoch 3/3 done in 1 min"  # no estimate once the run is done
    # a resumed run estimates from the epochs it has done itself
    engine.state.max_epochs = 5
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="unet3d.bundle.progress"):
        engine.run([0, 1], max_epochs=5)
    lines = [r.getMessage() for r in caplog.records if r.name == "unet3d.bundle.progress"]
    assert lines[1].startswith("epoch 4/5 done") and len(lines) == 3
