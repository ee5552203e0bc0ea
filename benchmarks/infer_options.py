"""Which CPU inference settings win: each idea measured on the shipped networks, with its output error.

For the hippocampus network (3D, padded convolutions, instance norm) one window of 40x56x40
voxels, and for the EM network (2D, valid convolutions) a 512x512 slice through the overlap-tile
inferer. Each row gives seconds per window (or per slice; median and min-max over ``--repeats``)
and the largest absolute difference of the logits from the reference row, so an idea that
changes the output beyond floating-point noise shows it. Ideas: ``torch.no_grad`` against
``torch.inference_mode``, windows per network call, channels-last memory, TorchScript (scripted
and frozen, or ``optimize_for_inference``), instance norms run as equivalent group norms, max-
poolings and up-convolutions in faster equivalent forms (``unet3d.inference.frozen``), ONNX
Runtime (if installed), ``torch.compile`` (its compile time printed apart), one thread against
all, and for the EM network tile sizes up to the whole slice in one tile (exact for
overlap-tile: tile origins are aligned to the pooling grid). Conv+norm folding does not apply:
instance norm uses each window's own statistics, and the EM network has no normalisation.

    .venv/bin/python benchmarks/infer_options.py --json out/infer_options.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import DATA, REPO, summary, timed
from unet3d.inference import frozen as runners


def load(bundle: str) -> torch.nn.Module:
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(REPO / "bundles" / bundle / "configs" / "inference.yaml"))
    net = parser.get_parsed_content("network_def")
    net.load_state_dict(torch.load(REPO / "bundles" / bundle / "models" / "model.pt", weights_only=True))
    return net.eval()


def row(name: str, fn: Callable[[], torch.Tensor], items: int, reference: torch.Tensor | None, repeats: int) -> dict:
    """Time ``fn`` (seconds per item) and compare its output with ``reference``."""
    out = fn()
    times = [t / items for t in timed(fn, repeats)]
    error = 0.0 if reference is None else float((out.float() - reference).abs().max())
    return {"idea": name, "s_per_item": summary(times), "max_abs_diff": error, "output": out}


def hippocampus_rows(repeats: int) -> list[dict]:
    net = load("hippocampus")
    x1 = torch.randn(1, 1, 40, 56, 40, generator=torch.Generator().manual_seed(0))
    x4 = x1.repeat(4, 1, 1, 1, 1)
    rows = []

    def under(mode, model, x):
        def fn():
            with mode():
                return model(x)

        return fn

    rows.append(row("no_grad, 1 window per call (plain MONAI)", under(torch.no_grad, net, x1), 1, None, repeats))
    ref = rows[0]["output"]
    rows.append(row("inference_mode, 1 window", under(torch.inference_mode, net, x1), 1, ref, repeats))
    for b in (2, 4, 8):
        xb = x1.repeat(b, 1, 1, 1, 1)
        rows.append(row(f"inference_mode, {b} windows", under(torch.inference_mode, net, xb), b, ref, repeats))
    net_cl = load("hippocampus").to(memory_format=torch.channels_last_3d)
    x4_cl = x4.contiguous(memory_format=torch.channels_last_3d)
    rows.append(row("channels-last, 4 windows", under(torch.inference_mode, net_cl, x4_cl), 4, ref, repeats))
    frozen = torch.jit.freeze(torch.jit.script(load("hippocampus")))
    for b in (1, 2, 4):
        xb = x1.repeat(b, 1, 1, 1, 1)
        fn = under(torch.inference_mode, frozen, xb)
        rows.append(row(f"TorchScript scripted+frozen, {b} windows", fn, b, ref, repeats))
    grouped = torch.jit.freeze(torch.jit.script(runners.instance_norms_as_group_norms(load("hippocampus"))))
    fn = under(torch.inference_mode, grouped, x1.repeat(2, 1, 1, 1, 1))
    rows.append(row("group norms + frozen, 2 windows", fn, 2, ref, repeats))
    fast = runners.frozen(load("hippocampus"))  # what unet3d segment runs: + fast pooling and up-convs
    for b in (2, 4):
        fn = under(torch.inference_mode, fast, x1.repeat(b, 1, 1, 1, 1))
        rows.append(row(f"group norms + fast resampling + frozen, {b} windows", fn, b, ref, repeats))
    optimized = torch.jit.optimize_for_inference(torch.jit.script(load("hippocampus")))
    rows.append(row("optimize_for_inference, 4 windows", under(torch.inference_mode, optimized, x4), 4, ref, repeats))
    start = time.perf_counter()
    compiled = torch.compile(load("hippocampus"))
    with torch.inference_mode():
        compiled(x4)
    compile_s = time.perf_counter() - start
    rows.append(row("torch.compile, 4 windows", under(torch.inference_mode, compiled, x4), 4, ref, repeats))
    rows[-1]["compile_s"] = compile_s
    rows.extend(onnx_runtime_rows(load("hippocampus"), x1, ref, repeats))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    rows.append(row("1 thread, 4 windows", under(torch.inference_mode, net, x4), 4, ref, repeats))
    torch.set_num_threads(threads)
    return rows


def onnx_runtime_rows(net: torch.nn.Module, x1: torch.Tensor, ref: torch.Tensor, repeats: int) -> list[dict]:
    """ONNX Runtime's CPU provider on MONAI's ONNX export, if ``onnxruntime`` is installed (it is
    not a dependency of unet3d: ``pip install onnxruntime onnx`` to include these rows)."""
    try:
        import onnxruntime as ort
        from monai.networks.utils import convert_to_onnx
    except ImportError:
        return []
    axes = {0: "batch"}
    model = convert_to_onnx(net, [x1], input_names=["x"], output_names=["y"], opset_version=17,
                            dynamic_axes={"x": axes, "y": axes}, dynamo=False)  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    rows = []
    for b in (1, 2, 4):
        xb = x1.repeat(b, 1, 1, 1, 1).numpy()
        fn = lambda xb=xb: torch.from_numpy(session.run(None, {"x": xb})[0])  # noqa: E731
        rows.append(row(f"ONNX Runtime {ort.__version__}, {b} windows", fn, b, ref, repeats))
    return rows


def em_rows(repeats: int) -> list[dict]:
    import numpy as np
    from PIL import Image

    from unet3d.inferers import OverlapTileInferer

    net = load("em")
    image = np.asarray(Image.open(DATA / "isbi2012" / "test" / "images" / "slice_00.png"), dtype=np.float32) / 255
    x = torch.as_tensor(image)[None, None]
    whole = net.input_size_for_output([512])[0]  # one tile covers the slice
    rows = []
    for tile in (572, 636, whole):
        inferer = OverlapTileInferer(roi_size=tile)
        ctx = torch.no_grad if not rows else torch.inference_mode

        def fn(inferer=inferer, ctx=ctx):
            with ctx():
                return inferer(x, net)

        tiles = math.prod(n for _, _, n, _ in inferer.plan([512, 512], net.depth, net.valid))
        ref = rows[0]["output"] if rows else None
        rows.append(row(f"overlap-tile, tile <= {tile} px ({tiles} tiles)", fn, 1, ref, repeats))
    fast = runners.frozen(net)  # the frozen copy unet3d segment runs on inputs of 8 tiles or more

    def frozen_fn():
        with torch.inference_mode():
            return OverlapTileInferer(roi_size=whole)(x, fast)

    rows.append(row("frozen copy (fast resampling), 1 tile", frozen_fn, 1, rows[0]["output"], repeats))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    results = {"hippocampus (s per 40x56x40 window)": hippocampus_rows(args.repeats),
               "em (s per 512x512 slice)": em_rows(args.repeats)}  # fmt: skip
    for title, rows in results.items():
        print(f"{title}, {torch.get_num_threads()} threads")
        for r in rows:
            del r["output"]  # logits, kept only for comparison
            s = r["s_per_item"]
            extra = f"  (compile {r['compile_s']:.0f} s)" if "compile_s" in r else ""
            print(f"  {r['idea']:52} {s['median']:.4f} ({s['min']:.4f}-{s['max']:.4f})  "
                  f"max |diff| {r['max_abs_diff']:.1e}{extra}")  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
