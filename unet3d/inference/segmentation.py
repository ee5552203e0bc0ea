"""``unet3d segment``: masks for images, volumes and DICOM series with a bundle, in the input's geometry."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from unet3d.inference.inputs import InputJob, probabilities_path
from unet3d.inference.layout import BundleLayout
from unet3d.inference.predictor import BundlePredictor
from unet3d.io.channel_files import case_name, channel_cases
from unet3d.io.errors import InputError
from unet3d.io.formats import input_format, is_dicom_file, is_input_file, output_format, output_suffix, stem
from unet3d.io.stacks import tiff_pages
from unet3d.report import (
    build_report,
    mask_files,
    write_run,
)

logger = logging.getLogger(__name__)

__all__ = ["InputError", "SegmentationFailures", "SegmentationInterrupted", "expand_inputs", "mask_format",
           "output_formats", "output_path", "segment"]  # fmt: skip


class SegmentationInterrupted(KeyboardInterrupt):
    """The run was interrupted (Ctrl-C); the inputs done so far keep their complete outputs and the
    one in progress has none (outputs are written atomically).

    Attributes:
        done: inputs finished (segmented or failed) before the interruption.
        total: inputs of the run (of this process under ``torchrun``).
        output_dir: where the finished outputs are.
        written: the outputs written.
    """

    def __init__(self, done: int, total: int, output_dir: Path, written: list[Path]) -> None:
        self.done, self.total, self.output_dir, self.written = done, total, output_dir, written
        super().__init__(f"interrupted: {done} of {total} inputs done (outputs kept in {output_dir})")


class SegmentationFailures(InputError):
    """Some inputs of a run failed; the others were segmented.

    Attributes:
        failures: ``(input path, error)`` per failed input, in input order.
        written: the outputs that were written.
    """

    def __init__(self, failures: list[tuple[Path, InputError]], written: list[Path]) -> None:
        self.failures, self.written = failures, written
        total = len(failures) + len(written)
        super().__init__(f"{len(failures)} of {total} inputs failed: " + "; ".join(str(e) for _, e in failures))


def prepare_output_dir(output_dir: str | os.PathLike) -> Path:
    """Create ``output_dir`` if needed, check that it is a writable folder, remove temporary files
    that an interrupted earlier run left there.

    Raises:
        InputError: the path (or a folder above it) is a file, cannot be created, or is not writable.
    """
    from unet3d.io.atomic import remove_stale_parts, writable_dir

    folder = writable_dir(output_dir)
    for stale in remove_stale_parts(folder):
        logger.info(f"removed {stale}, left by an interrupted run")
    return folder


def mask_format(input_path: str | os.PathLike) -> str:
    """The output format a mask of ``input_path`` is written in by default: the input format's
    (NIfTI, NRRD or MHA in: NIfTI out; DICOM in: DICOM SEG out; PNG, JPEG, BMP or a single-page
    TIFF in: PNG out), and ``tiff`` for a multi-page TIFF (one mask page per page)."""
    path = Path(input_path)
    if tiff_pages(path) > 1:
        return "tiff"
    return str(input_format(path).mask_format)


def output_path(input_path: str | os.PathLike, output_dir: str | os.PathLike, fmt: str | None = None) -> Path:
    """``<output_dir>/<input stem>_seg.<ext>`` (a DICOM series: ``<series folder>_seg.dcm``;
    RTSTRUCT: ``<stem>_rtstruct.dcm``), in the format ``fmt`` or, when ``None``, :func:`mask_format`'s."""
    path = Path(input_path)
    chosen = output_format(fmt or mask_format(path))
    return Path(output_dir) / f"{stem(path)}_{chosen.tag}{output_suffix(chosen.name)}"


def output_formats(fmt: str | None) -> list[str] | None:
    """``"dicom-seg,rtstruct"`` -> ``["dicom-seg", "rtstruct"]`` (each checked); ``None`` stays.

    Raises:
        InputError: an unknown format, or one named twice.
    """
    if fmt is None:
        return None
    names = [f.strip() for f in fmt.split(",")]
    for name in names:
        output_format(name)
    if len(set(names)) != len(names):
        raise InputError(f"--format {fmt}: a format named twice")
    return names


def expand_inputs(inputs: Sequence[str | os.PathLike]) -> list[Path]:
    """Inputs as paths; a folder stands for the files of a readable format in it
    (:mod:`unet3d.io.formats`) and, if it also holds DICOM files, for the DICOM series in it.

    A folder without files of a readable format is taken as one DICOM series (see
    ``read_volume``). Hidden files (names starting with ``.``, among them the temporary files of
    unfinished writes) are never inputs. Other files in a folder of inputs are skipped with one
    warning line naming them. Only paths are listed, so a folder of thousands of volumes costs no
    memory until each is read.
    """
    paths: list[Path] = []
    for item in inputs:
        path = Path(item)
        if not path.is_dir():
            paths.append(path)
            continue
        visible = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        files = [p for p in visible if is_input_file(p)]
        others = [p for p in visible if p not in files]
        dicom = [p for p in others if is_dicom_file(p)]
        paths.extend(files)
        if dicom or not files:
            paths.append(path)  # its DICOM series (the reader skips the other files, and says so)
        elif others:
            names = ", ".join(p.name for p in others[:5]) + (", ..." if len(others) > 5 else "")
            logger.warning(f"{path}: skipped {len(others)} file(s) that are not images: {names}")
    return paths


def segment(
    inputs: Sequence[str | os.PathLike],
    bundle: str | os.PathLike | BundlePredictor,
    output_dir: str | os.PathLike,
    fmt: str | None = None,
    device: str | None = None,
    overwrite: bool = False,
    tta: bool | None = None,
    modality: str | None = None,
    diameter: str | float | None = None,
    folds: Sequence[int] | None = None,
    precision: str | None = None,
    probabilities: bool = False,
    report: bool = False,
    series_uid: str | None = None,
    allow_gaps: bool = False,
    progress: bool = False,
    rank: int = 0,
    world_size: int = 1,
    stitch: float | None = None,
    runtime: str = "torch",
) -> list[Path]:
    """Segment inputs with a bundle and write one mask per input, in the input's geometry.

    Every input path, output name and the output folder are checked before any work: an existing
    output (unless ``overwrite``) or an unusable output folder stops the run with nothing written.
    Then a bad input does not stop the others: it is reported, its output is absent, and every
    other output is complete (each mask is written atomically); :class:`SegmentationFailures`
    lists the failed inputs at the end. Running out of disk space stops the run.

    Args:
        inputs: NIfTI/NRRD/MHA files or DICOM series folders (3D bundles), PNG/TIFF (2D bundles);
            a folder of such files stands for its files (see :func:`expand_inputs`); JPEG and BMP
            too. A 2D bundle segments multi-page TIFF stacks and 3D volumes page by page.
        bundle: the bundle folder, e.g. ``bundles/em``, or a :class:`BundlePredictor` made with
            the settings wanted (then ``device`` and ``tta`` must be left unset).
        output_dir: where ``<stem>_seg.<ext>`` files go (created if missing).
        fmt: ``nifti``, ``dicom-seg``, ``rtstruct``, ``png`` or ``tiff``, or several separated by
            commas (``dicom-seg,rtstruct``: a SEG and a structure set per series); :func:`mask_format`
            when ``None``. The report needs a mask format first.
        device: torch device; the first GPU if available when ``None``.
        overwrite: replace existing outputs.
        tta: the bundle's test-time augmentation on or off; ``None`` keeps the bundle's default.
        modality: the kind of image for bundles that take one (nuclei: ``fluorescence``,
            ``brightfield``, ``stained``); ``None``: the bundle's default (nuclei: decided per image).
        diameter: the objects' size for bundles that zoom by it (nuclei): ``"off"``, ``"auto"``
            (estimated per image) or the median diameter in px; ``None``: the bundle's default.
        folds: the fold models to average when the bundle ships ``models/fold_K.pt``; ``None``: all.
        precision: the network's arithmetic, ``fp32``, ``fp16`` or ``bf16``; ``None``: fp16 on CUDA,
            fp32 on the CPU (see :class:`BundlePredictor`).
        probabilities: also write each input's softmax on its own grid (:func:`probabilities_path`,
            :func:`unet3d.io.writers.write_probabilities`).
        report: also write QC records (:mod:`unet3d.report.records`) and, in a single process,
            ``output_dir/report.html`` over every mask there (:func:`unet3d.report.build_report`;
            under ``torchrun`` the caller builds it once all processes are done).
        series_uid: the series to use in DICOM folders holding several.
        allow_gaps: segment DICOM series with unevenly spaced slices (a missing or duplicate
            slice) instead of refusing them; the geometry past a gap is then wrong.
        progress: show a progress bar over the inputs.
        rank: this process's share of the inputs under ``torchrun``: inputs ``rank``,
            ``rank + world_size``, ... (each output is written by exactly one process).
        world_size: the number of processes sharing the inputs.
        stitch: for an instance bundle on stacks (pages of a multi-page TIFF or of a volume given
            to a 2D bundle), link objects across consecutive pages whose intersection over union
            reaches this value (Cellpose's stitching, e.g. 0.25); ``None``: ids per page.
        runtime: ``"torch"``, or ``"onnx"``: the network's ONNX export through onnxruntime (see
            :class:`BundlePredictor`).

    Returns:
        The files of the first format this process wrote, in input order.

    Raises:
        InputError: a missing input path, clashing output names, an unusable output folder.
        SegmentationFailures: some inputs could not be segmented (the others were).
        SegmentationInterrupted: Ctrl-C (``KeyboardInterrupt``) during the run; finished outputs stay.
        FileExistsError: an output exists and ``overwrite`` is false.
    """
    from tqdm import tqdm

    paths = expand_inputs(inputs)
    if not paths:
        raise InputError("no input given")
    predictor = bundle if isinstance(bundle, BundlePredictor) else None
    layout = predictor.layout if predictor else BundleLayout(bundle)  # type: ignore[arg-type]
    cases = channel_cases(paths, layout.volume_channels)  # nnU-Net's channel files: one case
    paths = [files[0] for files in cases]
    chosen = output_formats(fmt)
    # per input its formats, the mask's first (headers read once: a TIFF's page count)
    formats = [chosen or [mask_format(p)] for p in paths]
    if report and any(f[0] == "rtstruct" for f in formats):
        raise InputError("the report is made from masks: name a mask format first, e.g. --format dicom-seg,rtstruct")
    outputs = [[output_path(case_name(c), output_dir, f) for f in fs] for c, fs in zip(cases, formats, strict=True)]
    every = [o for outs in outputs for o in outs]
    clash = next((o for i, o in enumerate(every) if o in every[:i]), None)
    if clash is not None:
        sources = [str(p) for p, outs in zip(paths, outputs, strict=True) if clash in outs]
        raise InputError(f"{clash}: the same output name for {' and '.join(sources)}")
    cases, outputs, formats = cases[rank::world_size], outputs[rank::world_size], formats[rank::world_size]
    paths = [files[0] for files in cases]
    for outs in outputs:
        for target in [*outs, probabilities_path(outs[0], layout.spatial_dims)] if probabilities else outs:
            if target.exists() and not overwrite:
                raise FileExistsError(f"{target}: output exists")
    if stitch is not None and not layout.instances:
        raise ValueError(f"{layout.root}: stitching links object ids; this bundle gives classes, not instances")
    settings = (device, tta, modality, diameter, folds, precision)
    if isinstance(bundle, BundlePredictor) and (any(v is not None for v in settings) or runtime != "torch"):
        raise ValueError("device, tta, modality, diameter, folds, precision and runtime are settings of the predictor "
                         "passed as bundle")  # fmt: skip
    prepare_output_dir(output_dir)
    if predictor is None:
        predictor = BundlePredictor(layout, device=device, tta=tta, modality=modality, diameter=diameter, folds=folds,
                                    precision=precision, runtime=runtime)  # fmt: skip
    names = layout.channel_def
    written: list[Path] = []
    failures: list[tuple[Path, InputError]] = []
    start = time.perf_counter()
    done = 0
    try:
        jobs = list(zip(cases, outputs, formats, strict=True))
        for files, outs, fmts in tqdm(jobs, disable=not progress, unit="input"):
            path, out = files[0], outs[0]
            try:
                also = list(zip(outs[1:], fmts[1:], strict=True))
                job = InputJob(path, out, fmts[0], predictor, Path(output_dir), overwrite, stitch, also, files[1:])
                written.append(job.run(series_uid, allow_gaps, probabilities, report))
            except InputError as e:
                logger.info(f"failed: {e}")  # the caller reports failures; --verbose shows them as they come
                failures.append((path, e))
            except OSError as e:
                raise OSError(e.errno, f"{e.strerror} (while writing; nothing left behind)", str(out)) from e
            done += 1
    except KeyboardInterrupt:
        raise SegmentationInterrupted(done, len(paths), Path(output_dir), written) from None
    seconds = time.perf_counter() - start
    logger.info(f"segmented {len(written)} input(s) in {seconds:.1f} s into {output_dir}")
    if report:
        run = {
            "bundle": str(layout.root.resolve()),
            "name": layout.name,
            "version": layout.version,
            "names": {str(k): v for k, v in names.items()},
            "instances": layout.instances,
            "reference": layout.metadata.get("qc_reference"),
            "members": len(predictor.networks),
            "seconds": seconds,
            "segmented": len(written),
            "failures": [[str(p), " ".join(str(e).split())] for p, e in failures],
        }
        write_run(output_dir, run, rank)
        if world_size == 1 and mask_files(output_dir):  # every input failed: nothing to report on
            build_report(output_dir)
    if failures:
        raise SegmentationFailures(failures, written)
    return written
