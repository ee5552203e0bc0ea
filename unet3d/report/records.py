"""The QC records a ``unet3d segment --report`` run leaves beside its masks, in ``<output>/qc/``.

- ``qc/<mask file name>.json``: one per input: the input path, time, confidence and (with TTA or
  an ensemble) disagreement per label, the probability map's file name;
- ``qc/<mask file name>.webp``: its thumbnail (:func:`unet3d.report.thumbnails.thumbnail`);
- ``qc/run_<rank>.json``: one per process of a run: the bundle, its label names and QC
  reference, the inputs that failed with their one-line errors, the run's time.

They let ``unet3d report OUTPUT`` rebuild the report later from the masks as they are on disk
(sizes are always recomputed from the masks). Each file is written atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from unet3d.io.atomic import atomic_write, atomic_write_text

QC_DIR = "qc"


def write_record(output_dir: str | os.PathLike, mask: Path, record: Mapping[str, Any], thumbnail: bytes) -> None:
    """Write one input's record and thumbnail, named after its mask file ``mask``."""
    folder = Path(output_dir) / QC_DIR
    folder.mkdir(exist_ok=True)

    def write(tmp: str) -> None:
        Path(tmp).write_bytes(thumbnail)

    atomic_write(folder / f"{mask.name}.webp", write, overwrite=True)
    atomic_write_text(folder / f"{mask.name}.json", json.dumps(dict(record), indent=1))


def write_run(output_dir: str | os.PathLike, run: Mapping[str, Any], rank: int = 0) -> None:
    """Write the run's summary (one file per process under ``torchrun``)."""
    folder = Path(output_dir) / QC_DIR
    folder.mkdir(exist_ok=True)
    atomic_write_text(folder / f"run_{rank}.json", json.dumps(dict(run), indent=1))


def read_json(path: Path) -> dict[str, Any] | None:
    """A record file's content, or ``None`` when it is missing or unreadable (then the report
    shows the mask without it)."""
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return None


def read_runs(output_dir: str | os.PathLike) -> list[dict[str, Any]]:
    """Every process's run summary in ``output_dir/qc`` (none: an empty list)."""
    runs = (read_json(p) for p in sorted((Path(output_dir) / QC_DIR).glob("run_*.json")))
    return [r for r in runs if r is not None]


def read_record(output_dir: str | os.PathLike, mask: Path) -> tuple[dict[str, Any] | None, bytes | None]:
    """The record and thumbnail of a mask, each ``None`` when absent."""
    folder = Path(output_dir) / QC_DIR
    picture = folder / f"{mask.name}.webp"
    return read_json(folder / f"{mask.name}.json"), picture.read_bytes() if picture.is_file() else None
