"""Whole-run progress for training: where the logs go, and how long the run has left."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

from ignite.engine import Engine, Events

logger = logging.getLogger(__name__)


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{max(minutes, 1)} min"


class TrainingProgress:
    """Log where TensorBoard writes when training starts, and the whole run's progress per epoch.

    Ignite's ``ProgressBar`` shows the epoch in progress only. After each epoch this logs, e.g.,
    ``epoch 7/30 done in 1 h 02 min; about 3 h 20 min left (ETA 14:35)``; the estimate is the
    mean wall-clock time of the epochs this run has done (validation included) times the
    epochs left, so a resumed run estimates from its own epochs.

    Args:
        log_dir: the folder of the TensorBoard event files (the bundle's ``output_dir``).
    """

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self._start = 0.0
        self._first_epoch = 0

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.STARTED, self._started)
        engine.add_event_handler(Events.EPOCH_COMPLETED, self._epoch_completed)

    def _started(self, engine: Engine) -> None:
        self._start, self._first_epoch = time.monotonic(), engine.state.epoch
        logger.info(f"TensorBoard logs: {self.log_dir} (view with: tensorboard --logdir {self.log_dir})")

    def _epoch_completed(self, engine: Engine) -> None:
        epoch, total = engine.state.epoch, engine.state.max_epochs or engine.state.epoch
        elapsed = time.monotonic() - self._start
        left = elapsed / max(epoch - self._first_epoch, 1) * (total - epoch)
        message = f"epoch {epoch}/{total} done in {_duration(elapsed)}"
        if epoch < total:
            eta = (datetime.now() + timedelta(seconds=left)).strftime("%H:%M")
            message += f"; about {_duration(left)} left (ETA {eta})"
        logger.info(message)
