"""What a bundle's validation cases look like, and which new results fall outside it.

The reference is stored in the bundle's ``configs/metadata.json`` under ``qc_reference``
(:func:`reference_from_records` on a ``--report`` run over the validation cases; each bundle's
``evaluate.yaml`` does it with ``--qc_reference true``). A result is flagged when:

- a label is empty that no validation case had empty;
- a label's size (3D: volume in mm^3; 2D: object count for instance bundles, else area in
  pixels) is more than ``z`` (3) standard deviations of the validation cases' log size from
  their mean log size;
- a label's confidence (mean maximum softmax inside it) is more than ``z`` standard deviations
  below the validation mean.

Without a reference only empty labels are flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

Z_LIMIT = 3.0  # the flags' threshold in standard deviations, the default of `flags`


def size_key(entry: Mapping[str, Any], instances: bool) -> str:
    """The size a label is judged by: ``volume_mm3`` (3D), ``objects`` (2D instance bundles) or
    ``area_px`` (other 2D bundles)."""
    if "volume_mm3" in entry:
        return "volume_mm3"
    return "objects" if instances else "area_px"


def _mean_sd(values: Sequence[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    return float(array.mean()), float(array.std(ddof=1)) if len(array) > 1 else 0.0


def reference_from_records(records: Sequence[Mapping[str, Any]], instances: bool = False) -> dict[str, Any]:
    """The distribution of each label's size and confidence over records (one per validation case).

    Args:
        records: report records, each with ``labels`` (name -> :func:`label_statistics` entry)
            and ``confidence`` (name -> value or ``None``).
        instances: the bundle's masks hold instance ids.

    Returns:
        ``{"cases": n, "labels": {name: {"size": key, "log_size_mean", "log_size_sd",
        "empty_fraction", "confidence_mean", "confidence_sd"}}}``.
    """
    labels: dict[str, Any] = {}
    names = sorted({name for r in records for name in r["labels"]})
    for name in names:
        entries = [r["labels"][name] for r in records if name in r["labels"]]
        key = size_key(entries[0], instances)
        sizes = [float(e[key]) for e in entries if e["voxels"] > 0]
        conf = [float(c) for r in records if (c := r.get("confidence", {}).get(name)) is not None]
        log_mean, log_sd = _mean_sd([math.log(s) for s in sizes]) if sizes else (float("nan"), 0.0)
        conf_mean, conf_sd = _mean_sd(conf) if conf else (float("nan"), 0.0)
        labels[name] = {
            "size": key,
            "log_size_mean": log_mean,
            "log_size_sd": log_sd,
            "empty_fraction": 1.0 - len(sizes) / len(entries),
            "confidence_mean": conf_mean,
            "confidence_sd": conf_sd,
        }
    return {"cases": len(records), "labels": labels}


def flags(record: Mapping[str, Any], reference: Mapping[str, Any] | None, z: float = Z_LIMIT) -> list[str]:
    """Why a result needs a look, one short phrase per reason (empty when none); see the module."""
    found = []
    ref_labels = (reference or {}).get("labels", {})
    for name, entry in record["labels"].items():
        ref = ref_labels.get(name)
        if entry["voxels"] == 0:
            if ref is None or ref["empty_fraction"] == 0:
                found.append(f"{name}: empty")
            continue
        if ref is None:
            continue
        size = float(entry.get(ref["size"], 0))
        if size > 0 and ref["log_size_sd"] > 0:
            deviation = (math.log(size) - ref["log_size_mean"]) / ref["log_size_sd"]
            if abs(deviation) > z:
                word = "large" if deviation > 0 else "small"
                found.append(f"{name}: {ref['size'].split('_')[0]} {word} ({deviation:+.1f} SD)")
        conf = record.get("confidence", {}).get(name)
        if conf is not None and ref["confidence_sd"] > 0:
            deviation = (conf - ref["confidence_mean"]) / ref["confidence_sd"]
            if deviation < -z:
                found.append(f"{name}: low confidence ({deviation:+.1f} SD)")
    return found
