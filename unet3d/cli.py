"""The ``unet3d`` command line. Heavy imports (torch, MONAI) stay inside the commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import unet3d


def one_line(message: str) -> str:
    """An error message on one line (library messages may span several)."""
    return " ".join(message.split())


def with_hint(error: BaseException) -> str:
    """The error on one line, with the command-line option that deals with it (the library's
    messages do not name options: they are also raised to Python callers)."""
    from unet3d.io.dicom import SeveralSeriesError, UnevenSpacingError

    hints = (
        (SeveralSeriesError, "choose one with --series-uid UID"),
        (UnevenSpacingError, "--allow-gaps segments it anyway, with wrong geometry past the gap"),
        (FileExistsError, "pass --overwrite to replace it"),
    )
    message = one_line(str(error))
    hint = next((h for kind, h in hints if isinstance(error, kind)), None)
    return f"{message}; {hint}" if hint else message


def _diameter(text: str) -> str:
    """``--diameter``'s value checked when the command line is read (before any output exists);
    the predictor reads it."""
    from unet3d.inferers.object_size import size_setting

    try:
        size_setting(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return text


def _bundles(args: argparse.Namespace) -> int:
    """List the bundles under a folder with their name, version and input shape."""
    from unet3d.inference import find_bundles

    bundles = find_bundles(args.root)
    if not bundles:
        print(f"error: no bundle (*/configs/metadata.json with inference.yaml) under {args.root}", file=sys.stderr)
        return 2
    for folder, layout in bundles.items():
        shape = layout.input_spec.get("spatial_shape", "?")
        print(f"{folder:16s} {layout.version:8s} {shape}  {layout.name}")
    return 0


def _segment(args: argparse.Namespace) -> int:
    """Segment inputs with a bundle; errors end with one line naming the file and status 1.

    Under ``torchrun`` each process segments its share of the inputs and rank 0 prints the
    merged summary; a failing rank exits with status 1, and torchrun then stops the others.
    """
    import time

    from unet3d.bundle import distributed
    from unet3d.inference import SegmentationFailures, SegmentationInterrupted, segment

    start = time.perf_counter()
    import logging

    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        bundle = Path(args.bundle).resolve()
        print(f"bundle: {bundle} (configs/inference.yaml, models/model.pt; its configs run as Python code)")
    else:  # what was skipped (files in a folder that are not images), one line each
        notes = logging.StreamHandler(sys.stderr)
        notes.setFormatter(logging.Formatter("note: %(message)s"))
        logging.getLogger("unet3d").addHandler(notes)
        logging.getLogger("unet3d").setLevel(logging.WARNING)
    rank, world_size, device = 0, 1, args.device
    prefix = ""
    try:
        if distributed.launched_distributed():
            local = distributed.init_distributed()
            rank, world_size = distributed.rank(), distributed.world_size()
            device = device or str(local)
            prefix = f"rank {rank}: "
        written = segment(
            args.inputs,
            args.bundle,
            args.output_dir,
            fmt=args.format,
            device=device,
            overwrite=args.overwrite,
            tta=args.tta,
            modality=args.modality,
            diameter=args.diameter,
            folds=args.folds,
            precision=args.precision,
            probabilities=args.probabilities,
            report=args.report,
            series_uid=args.series_uid,
            allow_gaps=args.allow_gaps,
            progress=sys.stderr.isatty() and rank == 0,
            rank=rank,
            world_size=world_size,
            stitch=args.stitch,
            runtime=args.runtime,
        )
    except SegmentationInterrupted as e:
        print(f"{prefix}{e}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # before the first input started (loading the bundle)
        print(f"{prefix}interrupted: nothing segmented", file=sys.stderr)
        return 130
    except SegmentationFailures as e:
        for _, error in e.failures:
            print(f"error: {prefix}{with_hint(error)}", file=sys.stderr)
        if len(e.failures) + len(e.written) > 1:
            print(f"{prefix}{len(e.failures)} of {len(e.failures) + len(e.written)} inputs failed (no output for "
                  f"them); {len(e.written)} masks written to {args.output_dir}", file=sys.stderr)  # fmt: skip
        return 1
    except (ValueError, FileExistsError, FileNotFoundError, PermissionError, ImportError) as e:
        print(f"error: {prefix}{with_hint(e)}", file=sys.stderr)
        return 1
    except OSError as e:  # a full disk, a read-only file system: the system's words, one line
        where = f"{e.filename}: " if e.filename else ""
        print(f"error: {prefix}{where}{e.strerror or e}", file=sys.stderr)
        return 1
    count = len(written)
    if world_size > 1:
        import torch.distributed as dist

        counts: list = [None] * world_size
        dist.all_gather_object(counts, count)
        count = sum(counts)
        distributed.finalize_distributed()
        if rank == 0 and args.report:
            from unet3d.report import build_report

            build_report(args.output_dir)
    if rank == 0:
        where = f" by {world_size} processes" if world_size > 1 else ""
        print(f"segmented {count} input(s){where} in {time.perf_counter() - start:.1f} s -> {args.output_dir}")
        if args.report:
            print(f"report: {Path(args.output_dir) / 'report.html'}")
    return 0


def _report(args: argparse.Namespace) -> int:
    """Rebuild report.html from the masks (and QC records) in a folder."""
    from unet3d.report import build_report

    names = None
    if args.bundle:
        from unet3d.inference import BundleLayout

        names = BundleLayout(args.bundle).channel_def
    try:
        path = build_report(args.output_dir, names=names)
    except (ValueError, OSError) as e:
        print(f"error: {one_line(str(e))}", file=sys.stderr)
        return 1
    print(f"report: {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    """Export a bundle's network(s) with the settings beside them; one line on error, status 1."""
    from unet3d.inference.onnx_network import export_onnx

    try:
        written = export_onnx(args.bundle, args.output, overwrite=args.overwrite)
    except (ValueError, FileExistsError, FileNotFoundError, PermissionError, ImportError) as e:
        print(f"error: {with_hint(e)}", file=sys.stderr)
        return 1
    for path in written:
        print(f"exported: {path} (settings: {path.name}.json)")
    return 0


def _plan(args: argparse.Namespace) -> int:
    """Plan a bundle for a labelled data set; bad cases are listed one line each, status 1."""
    from unet3d.data import DatasetError
    from unet3d.plan import PlanError, plan

    modality = {0: args.modality} if args.modality else None
    try:
        out = plan(args.dataset, args.output, name=args.name, time_budget_min=args.time_budget, modality=modality,
                   num_folds=args.folds, overwrite=args.overwrite)  # fmt: skip
    except PlanError as e:
        for line in e.lines:
            print(f"error: {one_line(line)}", file=sys.stderr)
        print(f"error: {len(e.lines)} bad case(s); nothing planned", file=sys.stderr)
        return 1
    except (DatasetError, FileExistsError) as e:
        print(f"error: {with_hint(e)}", file=sys.stderr)
        return 1
    print(f"planned: {out} (train: python -m monai.bundle run training --config_file {out}/train.yaml)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unet3d",
        description="U-Net (Ronneberger et al. 2015) bundles for MONAI. Train and evaluate with "
        "`python -m monai.bundle run training --config_file bundles/<name>/train.yaml`.",
    )
    parser.add_argument("--version", action="version", version=f"unet3d {unet3d.__version__}")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("bundles", help="list the bundles under a folder")
    p.add_argument("root", nargs="?", default="bundles", help="folder holding bundles (default: bundles)")
    p.set_defaults(func=_bundles)
    p = sub.add_parser(
        "segment",
        help="segment images, volumes or DICOM series with a bundle",
        description="Segment images, volumes or DICOM series with a bundle; masks are written in the "
        "input's geometry, atomically, never over an existing file without --overwrite. A bad input is "
        "reported with one line and gets no output; the other inputs are segmented; the exit status is 1 "
        "if any failed. A bundle is code: `$` expressions in its configs run as Python, whatever the "
        "weights' safety, so only run bundles you trust (as with any MONAI bundle).",
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="NIfTI/NRRD/MHA files, DICOM series folders, enhanced multi-frame DICOM files, folders of such files; "
        "PNG/TIFF/JPEG/BMP for 2D bundles, which also take multi-page TIFF / OME-TIFF stacks and volumes page by page; "
        "for a bundle of several input channels a 4D file per case (channels last) or nnU-Net's channel files "
        "<case>_0000, <case>_0001, ... (grouped into one case, the mask named <case>_seg)",
    )
    p.add_argument("--bundle", required=True, help="bundle folder, e.g. bundles/em")
    p.add_argument(
        "--output-dir",
        required=True,
        help="folder for <input stem>_seg.<ext>; masks hold class indices (0, 1, ...) or instance ids, "
        "not display levels: a PNG mask looks black in an image viewer until its contrast is stretched",
    )
    p.add_argument(
        "--format",
        default=None,
        help="output format: nifti, dicom-seg, rtstruct (contours for radiotherapy, <stem>_rtstruct.dcm), png or "
        "tiff, or several with commas, e.g. dicom-seg,rtstruct (default: follows the input; DICOM gives DICOM SEG, "
        "a multi-page TIFF gives a multi-page TIFF)",
    )
    p.add_argument("--series-uid", default=None, help="the series to segment in a DICOM folder holding several")
    p.add_argument(
        "--allow-gaps",
        action="store_true",
        help="segment DICOM series whose slices are not evenly spaced (a missing slice); the geometry "
        "past the gap is then wrong",
    )
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, ... (default: a GPU if there is one)")
    p.add_argument(
        "--precision",
        choices=["fp32", "fp16", "bf16"],
        default=None,
        help="the network's arithmetic: mixed precision (fp16, bf16) is faster on GPUs (default: fp16 on "
        "CUDA, fp32 on the CPU)",
    )
    p.add_argument(
        "--stitch",
        type=float,
        nargs="?",
        const=0.25,
        default=None,
        metavar="IOU",
        help="instance bundles on stacks (multi-page TIFF, or a volume given to a 2D bundle): link objects on "
        "consecutive pages that overlap by at least IOU (intersection over union; 0.25 if not given) into one "
        "id, as Cellpose stitches 3D stacks (default: ids per page)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument(
        "--runtime",
        choices=["torch", "onnx"],
        default="torch",
        help="what runs the network: torch, or onnx: the bundle's ONNX export (`unet3d export`) through "
        "onnxruntime on the CPU, with the same pre- and postprocessing (needs unet3d[onnx])",
    )
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test-time augmentation on (slower) or off (default: the bundle's own setting)",
    )
    p.add_argument(
        "--modality",
        choices=["auto", "fluorescence", "brightfield", "stained"],
        default=None,
        help="the kind of microscopy image, for bundles that take one (nuclei): fluorescence (bright nuclei), "
        "brightfield (gray, dark nuclei), stained (colour: H&E and other hematoxylin stains); default: the "
        "bundle's own (nuclei: decided per image from its pixels)",
    )
    p.add_argument(
        "--diameter",
        type=_diameter,
        default=None,
        metavar="PX|auto|off",
        help="the nuclei's median diameter in pixels, for bundles that zoom images by object size (nuclei): "
        "images are shrunk so that nuclei larger than the network's size reach it; auto: measured per image by "
        "a quick first pass (Cellpose's size model; helps H&E tissue); off: every image at its own scale "
        "(default: the bundle's own; nuclei: off)",
    )
    p.add_argument(
        "--folds",
        type=int,
        nargs="+",
        default=None,
        metavar="K",
        help="average only these fold models of a bundle that ships models/fold_K.pt (default: all it ships)",
    )
    p.add_argument(
        "--probabilities",
        action="store_true",
        help="also write the softmax per label on the input's grid: <stem>_prob.nii.gz for volumes (uint8 "
        "scaled by 1/255, labels on the 4th axis), <stem>_prob.tif for 2D (one 16-bit page per label, p*65535)",
    )
    p.add_argument(
        "--report",
        action="store_true",
        help="also write OUTPUT/report.html: an overlay, sizes, confidence and flags per input (records in OUTPUT/qc/)",
    )
    p.add_argument("--verbose", action="store_true", help="say where the bundle is loaded from, and each step")
    p.set_defaults(func=_segment)
    p = sub.add_parser(
        "report",
        help="rebuild OUTPUT/report.html from the masks in a segment output folder",
        description="Rebuild report.html over every <stem>_seg.* mask in a folder: sizes from the masks, "
        "overlays, confidence and failures from the QC records a `segment --report` run left in OUTPUT/qc/.",
    )
    p.add_argument("output_dir", metavar="OUTPUT", help="the folder `unet3d segment` wrote masks to")
    p.add_argument("--bundle", default=None, help="the bundle, for label names when no QC record holds them")
    p.set_defaults(func=_report)
    p = sub.add_parser(
        "export",
        help="export a bundle's network to ONNX, with its inference settings beside it",
        description="Write models/model.onnx (and fold_K.onnx) beside the bundle's weights, with "
        "model.onnx.json: the network's geometry, the bundle's inference settings and config, and checksums. "
        "`unet3d segment --runtime onnx` runs it; onnx and onnxruntime come with unet3d[onnx].",
    )
    p.add_argument("bundle", metavar="BUNDLE", help="the bundle folder, e.g. bundles/em")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="the export format (default: onnx)")
    p.add_argument("--output", default=None, help="the .onnx file (default: beside each weight file in models/)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export")
    p.set_defaults(func=_export)
    p = sub.add_parser(
        "plan",
        help="plan a bundle for your own labelled data set (nnU-Net's self-configuration)",
        description="Measure a labelled data set (shapes, spacings, intensities, labels), decide every "
        "setting by nnU-Net's rules and write a MONAI bundle that trains, evaluates and segments like the "
        "shipped ones. Layouts: MSD (dataset.json + imagesTr/ + labelsTr/, or without dataset.json), "
        "images/ + labels/, or <case>_image + <case>_label files; 2D or 3D is read from the data.",
    )
    p.add_argument("dataset", metavar="DATASET", help="the data set folder")
    p.add_argument("--output", required=True, help="the bundle folder to write, e.g. bundles/mytask")
    p.add_argument("--name", default=None, help="the task's name (default: the data set folder's name)")
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        metavar="MINUTES",
        help="training time on this machine: epochs are sized by a short timing run (default: 100 epochs)",
    )
    p.add_argument(
        "--modality", default=None, help="the image modality, e.g. CT (CT normalisation), over dataset.json's"
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds; fold 0 validates (default: 5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=_plan)
    return parser


def _quiet_optional_gpu_codecs() -> None:
    """MONAI announces at import that the optional nvImageCodec GPU decoder is missing; on a CPU
    machine that is expected, and the CLI's users should see their results, not that. Library
    deprecation notices (e.g. MONAI's about ``Orientationd``'s label convention) are for
    developers, not for the CLI's users, who cannot act on them."""
    import logging
    import warnings

    logging.getLogger("monai.data.nvimgcodec_pydicom_plugin").setLevel(logging.ERROR)
    # tifffile logs each damaged page it meets; the reader's one error line names the file and page
    logging.getLogger("tifffile").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=".*nvImageCodec.*")
    # the libraries' notices of their own future API changes (MONAI, highdicom, pydicom, SimpleITK),
    # raised from inside them: their developers' business; ours, raised in unet3d, still show
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(monai|highdicom|pydicom|torch|ignite)(\.|$)")
    # a blank image has no intensity range to scale: its mask is empty, nothing for the user to do
    warnings.filterwarnings("ignore", message="Divide by zero")


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_optional_gpu_codecs()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
