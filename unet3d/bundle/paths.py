"""Where a bundle lives and what it has written: bundle root and checkpoints."""

from __future__ import annotations

import ast
import logging
import os
import re
import sys
import zipfile
from pathlib import Path

logger = logging.getLogger(__name__)


def bundle_root(default: str = ".") -> str:
    """The root folder of the bundle whose config is being run.

    ``python -m monai.bundle run --config_file bundles/em/train.yaml`` names the config on the
    command line; the bundle root is the folder holding it, or the parent of its ``configs/``
    folder (links such as ``bundles/em/train.yaml -> configs/train.yaml`` are resolved). Callers
    that run a bundle programmatically (MONAI Label, tests) override ``bundle_root`` instead.

    Args:
        default: returned when no config file is found on the command line.
    """
    argv = sys.argv
    for i, arg in enumerate(argv):
        value = None
        if arg == "--config_file" and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith("--config_file="):
            value = arg.split("=", 1)[1]
        if value is None:
            continue
        first = value
        if value.strip().startswith("["):
            first = ast.literal_eval(value.strip())[0]
        folder = Path(os.path.realpath(first)).parent
        return str(folder.parent if folder.name == "configs" else folder)
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
