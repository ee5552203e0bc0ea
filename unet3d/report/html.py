"""``report.html``: one self-contained page (pictures embedded) over the masks in a folder."""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from unet3d.io.atomic import atomic_write_text
from unet3d.report.records import read_record, read_runs
from unet3d.report.reference import flags, size_key
from unet3d.report.stats import mask_statistics
from unet3d.report.thumbnails import label_colour

MASK_SUFFIXES = ("_seg.nii.gz", "_seg.nii", "_seg.png", "_seg.dcm", "_seg.tif")


def mask_files(output_dir: str | os.PathLike) -> list[Path]:
    """The masks ``unet3d segment`` wrote in ``output_dir`` (``<stem>_seg.<ext>``), sorted by name."""
    folder = Path(output_dir)
    return sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(MASK_SUFFIXES))


def _data_uri(content: bytes, kind: str) -> str:
    return f"data:{kind};base64,{base64.b64encode(content).decode('ascii')}"


def size_histogram(rows: Sequence[Mapping[str, Any]], labels: Sequence[str], reference: Mapping | None) -> bytes | None:
    """A PNG of each label's size over the inputs, flagged inputs in red, the
    reference's mean +- 3 SD shaded; ``None`` with fewer than two inputs."""
    if len(rows) < 2 or not labels:
        return None
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(labels), figsize=(3.2 * len(labels), 2.2), squeeze=False)
    for ax, name in zip(axes[0], labels, strict=True):
        entries = [(r["labels"][name], bool(r["flags"])) for r in rows if name in r["labels"]]
        key = size_key(entries[0][0], rows[0]["instances"])
        # a folder may mix kinds of mask (a volume segmented page by page beside images): one kind per plot
        ok = [e[key] for e, flagged in entries if not flagged and e.get(key, 0) > 0]
        bad = [e[key] for e, flagged in entries if flagged and e.get(key, 0) > 0]
        values = ok + bad
        if values:
            low, high = min(values), max(values)
            wide = high > 10 * low  # a log axis only where sizes span more than a decade
            bins = [low * (high / low) ** (i / 20) for i in range(21)] if wide else 20
            ax.hist([ok, bad], bins=bins, stacked=True, color=["#4c72b0", "#d62728"], label=["ok", "flagged"])
            ax.set_xscale("log" if wide else "linear")
        ref = (reference or {}).get("labels", {}).get(name)
        if ref and ref["log_size_sd"] > 0 and ref["size"] == key:
            mean, sd = ref["log_size_mean"], ref["log_size_sd"]
            band = math.exp(mean - 3 * sd), math.exp(mean + 3 * sd)
            ax.axvspan(*band, color="#2ca02c", alpha=0.12, label="validation +- 3 SD")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(key.replace("_", " ").replace("mm3", "mm³"), fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


def build_report(output_dir: str | os.PathLike, names: Mapping[int, str] | None = None) -> Path:
    """Write ``output_dir/report.html`` over every mask in ``output_dir`` and return its path.

    Sizes come from the mask files themselves; confidence, times, thumbnails and failures from the
    QC records of the ``--report`` run(s) that wrote them (:mod:`unet3d.report.records`). A mask
    without a record is listed with its sizes only. The report is derived data: it is rebuilt
    (replaced) on every call.

    Args:
        output_dir: the folder ``unet3d segment`` wrote masks to.
        names: label value -> name when no run record holds the bundle's (masks written without
            ``--report``); ``label N`` otherwise.

    Raises:
        ValueError: ``output_dir`` holds no mask, or a mask cannot be read.
    """
    from jinja2 import Environment

    folder = Path(output_dir)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder")
    masks = mask_files(folder)
    if not masks:
        raise ValueError(f"{folder}: no mask (<name>_seg.nii.gz, .png, .dcm or .tif) to report on")
    runs = read_runs(folder)
    run = runs[-1] if runs else {}
    names = {int(k): v for k, v in (run.get("names") or names or {}).items()}
    instances = bool(run.get("instances", False))
    reference = run.get("reference")
    rows = []
    for mask in masks:
        record, picture = read_record(folder, mask)
        stats, spacing = mask_statistics(mask, names, instances)
        row: dict[str, Any] = dict(record or {})
        row.update(mask=mask.name, labels=stats, spacing=spacing, instances=instances, recorded=record is not None)
        row["flags"] = flags(row, reference)
        row["thumbnail"] = _data_uri(picture, "image/webp") if picture else None
        confidences = [c for c in (row.get("confidence") or {}).values() if c is not None]
        row["min_confidence"] = min(confidences) if confidences else None
        rows.append(row)
    rows.sort(key=lambda r: (not r["flags"], r["min_confidence"] if r["min_confidence"] is not None else 2.0))
    labels = list(dict.fromkeys(name for r in rows for name in r["labels"]))
    colours = {name: label_colour(rows[0]["labels"][name]["value"]) for name in labels if name in rows[0]["labels"]}
    failures = [f for r in runs for f in r.get("failures", [])]
    timed = [r["seconds"] for r in rows if "seconds" in r]
    histogram = size_histogram(rows, labels, reference)
    template = resources.files("unet3d.report").joinpath("templates", "report.html.j2").read_text()
    page = (
        Environment(autoescape=True)
        .from_string(template)
        .render(
            title=f"unet3d report: {folder}",
            folder=str(folder),
            generated=time.strftime("%Y-%m-%d %H:%M:%S"),
            bundle=run.get("bundle"),
            bundle_name=run.get("name"),
            bundle_version=run.get("version"),
            reference=reference,
            rows=rows,
            labels=labels,
            colours=colours,
            dims=3 if any("volume_mm3" in e for r in rows for e in r["labels"].values()) else 2,
            failures=failures,
            inputs=len(rows) + len(failures),
            seconds_per_input=sum(timed) / len(timed) if timed else None,
            flagged=sum(1 for r in rows if r["flags"]),
            histogram=_data_uri(histogram, "image/png") if histogram else None,
        )
    )

    return atomic_write_text(folder / "report.html", page)
