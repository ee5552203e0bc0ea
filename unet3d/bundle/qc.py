"""The QC reference of a bundle: what its validation cases look like to ``unet3d segment --report``."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from unet3d.io.atomic import atomic_write_text

logger = logging.getLogger(__name__)


def store_qc_reference(
    bundle_root: str | os.PathLike,
    datalist: Sequence[Mapping[str, Any]],
    output_dir: str | os.PathLike,
    update_metadata: bool = False,
    device: Any = None,
    tta: bool | None = None,
    weights: Any = None,
) -> dict[str, Any]:
    """Segment the validation images as ``unet3d segment --report`` does and summarise their
    sizes and confidence (:func:`unet3d.report.reference_from_records`).

    The reference goes to ``output_dir/qc_reference.json`` and, with ``update_metadata``, into the
    bundle's ``configs/metadata.json`` as ``qc_reference``, where reports read it to flag results
    that fall outside it. Each bundle's ``evaluate.yaml`` calls this with ``--qc_reference true``.

    Args:
        bundle_root: the bundle folder.
        datalist: the validation entries (``{"image": path, ...}``).
        output_dir: where the validation masks, QC records and the reference are written
            (replacing earlier ones).
        update_metadata: write the reference into the bundle's metadata too.
        device, tta, weights: the :class:`unet3d.inference.BundlePredictor` settings evaluated.

    Returns:
        The reference.
    """
    from unet3d.inference import BundlePredictor, segment
    from unet3d.report import QC_DIR, reference_from_records
    from unet3d.report.records import read_json

    folder = Path(output_dir)
    predictor = BundlePredictor(bundle_root, device=device, tta=tta, weights=weights)
    masks = segment([e["image"] for e in datalist], predictor, folder, overwrite=True, report=True)
    records = [read_json(folder / QC_DIR / f"{m.name}.json") for m in masks]
    reference = reference_from_records([r for r in records if r is not None], predictor.layout.instances)

    atomic_write_text(folder / "qc_reference.json", json.dumps(reference, indent=4) + "\n")
    if update_metadata:
        metadata = dict(predictor.layout.metadata)
        metadata["qc_reference"] = reference
        atomic_write_text(predictor.layout.metadata_file, json.dumps(metadata, indent=4) + "\n")
        logger.info(f"QC reference of {len(records)} cases written to {predictor.layout.metadata_file}")
    return reference
