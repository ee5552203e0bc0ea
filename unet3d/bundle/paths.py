"""Where a bundle lives and what it has written: bundle root and checkpoints."""

from __future__ import annotations

import inspect
import logging
import os
import re
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)


def bundle_root(default: str = ".") -> str:
    """The root folder of the bundle whose config MONAI is running.

    MONAI's ``ConfigWorkflow`` (what ``python -m monai.bundle run --config_file
    bundles/em/train.yaml`` builds) resolves the folder of the first config file as its
    ``config_root_path`` but does not put it into the config (model-zoo bundles say
    ``bundle_root: "."`` and must be run from their folder). This reads that resolved folder from
    the running workflow, so a bundle runs from any working directory: the bundle root is the
    folder (``bundles/em`` for the link ``bundles/em/train.yaml``), or the parent of a ``configs/``
    folder (``bundles/em/configs/train.yaml``). Code that parses a bundle's config itself (the predictor,
    MONAI Label, tests) sets ``bundle_root`` instead.

    Kept as a frame walk because MONAI (1.6) offers no other way: ``ConfigWorkflow`` neither puts
    ``config_root_path`` into the config nor passes it to expressions, and ``bundle_root: "."``
    would tie every command to the bundle's folder.

    Args:
        default: returned when the config is not being run by a ``ConfigWorkflow``.
    """
    from monai.bundle import ConfigWorkflow

    frame = inspect.currentframe()
    while frame is not None:
        workflow = frame.f_locals.get("self")
        if isinstance(workflow, ConfigWorkflow):
            folder = Path(os.path.realpath(workflow.config_root_path))
            return str(folder.parent if folder.name == "configs" else folder)
        frame = frame.f_back
    return default


def latest_checkpoint(ckpt_dir: str | os.PathLike, prefix: str = "checkpoint_epoch=") -> str | None:
    """The complete checkpoint with the highest epoch number in ``ckpt_dir`` (``checkpoint_epoch=N.pt``).

    A checkpoint cut short (a full disk or a kill while it was written) is skipped with a warning:
    ``torch.save`` writes a zip archive whose directory comes last, so an incomplete file is not a
    zip archive. ``None`` when there is no complete checkpoint.
    """
    folder = Path(ckpt_dir)
    if not folder.is_dir():
        return None
    found = []
    for p in folder.glob(f"{prefix}*.pt"):
        m = re.fullmatch(re.escape(prefix) + r"(\d+)\.pt", p.name)
        if m:
            found.append((int(m.group(1)), p))
    for _, path in sorted(found, reverse=True):
        if zipfile.is_zipfile(path):
            return str(path)
        logger.warning(f"{path}: incomplete checkpoint (cut short while it was written), skipped")
    return None
