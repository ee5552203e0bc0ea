"""A bundle's network as ONNX: exported beside its weights, run through onnxruntime.

``export_onnx`` writes ``models/model.onnx`` (and ``fold_K.onnx`` beside each ``fold_K.pt``) with
MONAI's ``convert_to_onnx`` (the TorchScript-based ``torch.onnx`` exporter, batch and spatial axes
dynamic, checked against PyTorch through onnxruntime on export), plus ``model.onnx.json`` beside
it: the network's geometry, the bundle's inference settings and config (its preprocessing,
inferer and postprocessing, as MONAI config), and the SHA-256 of both files.

:class:`OnnxNetwork` is the runner's side: a ``torch.nn.Module`` whose forward runs an
onnxruntime session, with the ``depth``/``valid`` attributes that overlap-tile inference reads,
so that ``BundlePredictor(runtime="onnx")`` keeps everything but the network unchanged. It reads
the JSON and refuses an export whose weights have changed since.

onnxruntime and onnx are the optional extra ``unet3d[onnx]``.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

import unet3d
from unet3d.io.atomic import atomic_write, atomic_write_text
from unet3d.networks.sizes import output_size

FORMAT = "unet3d.onnx/1"
OPSET = 17
INSTALL_HINT = "pip install 'unet3d[onnx]'"


def sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_path(weights: str | os.PathLike) -> Path:
    """Where the ONNX export of a weight file lies: ``models/model.pt`` -> ``models/model.onnx``."""
    return Path(weights).with_suffix(".onnx")


def settings_path(model: str | os.PathLike) -> Path:
    """The JSON beside an ONNX file: ``model.onnx`` -> ``model.onnx.json``."""
    return Path(f"{model}.json")


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{module} is not installed; {INSTALL_HINT}") from e


def export_onnx(bundle: Any, output: str | os.PathLike | None = None, overwrite: bool = False) -> list[Path]:
    """Export a bundle's network(s) to ONNX with the settings JSON beside each file.

    Args:
        bundle: the bundle folder, or a :class:`unet3d.inference.BundlePredictor` of it.
        output: the ``.onnx`` file to write, for a bundle with one weight file; ``None``: beside
            each weight file (``models/model.onnx``, ``models/fold_K.onnx``), where
            ``unet3d segment --runtime onnx`` looks for them.
        overwrite: replace existing files.

    Returns:
        The ``.onnx`` files written (each with its ``.onnx.json``).

    Raises:
        FileExistsError: an output exists and ``overwrite`` is false (nothing written).
        ValueError: ``output`` given for a bundle with several weight files; the export disagrees
            with PyTorch.
        ImportError: onnx or onnxruntime is missing.
    """
    import yaml
    from monai.networks.utils import convert_to_onnx

    from unet3d.inference.layout import BundleLayout
    from unet3d.inference.predictor import BundlePredictor

    _require("onnx")
    _require("onnxruntime")
    layout = bundle.layout if isinstance(bundle, BundlePredictor) else BundleLayout(bundle)
    weights_files = bundle.weights if isinstance(bundle, BundlePredictor) else layout.weights_for(None)
    if output is not None and len(weights_files) != 1:
        raise ValueError(f"{layout.root}: {len(weights_files)} weight files; leave out --output")
    targets = [Path(output)] if output is not None else [onnx_path(w) for w in weights_files]
    for target in targets:  # before the network is loaded: a refusal costs nothing
        for path in (target, settings_path(target)):
            if path.exists() and not overwrite:
                raise FileExistsError(f"{path}: output exists")
    predictor = bundle if isinstance(bundle, BundlePredictor) else BundlePredictor(layout, device="cpu")
    dims = predictor.spatial_dims
    spatial = {2 + i: f"spatial_{i}" for i in range(dims)}
    ids = ("window_size", "overlap", "blend_mode", "tta", "tta_flip_axes")
    settings = {k: predictor.config.get_parsed_content(k) for k in ids if k in predictor.config}
    common = {
        "format": FORMAT,
        "bundle": {"name": predictor.layout.name, "version": predictor.layout.version},
        "unet3d": unet3d.__version__,
        "opset": OPSET,
        "input": {"name": "image", "axes": ["batch", "channel", *spatial.values()], "dtype": "float32",
                  "axis_order": "MONAI's: (x, y) or (x, y, z) after the bundle's preprocessing"},
        "output": {"name": "logits", "axes": ["batch", "class", *spatial.values()], "dtype": "float32"},
        "settings": settings,
        "inference_config": yaml.safe_load(predictor.layout.inference_config.read_text()),
    }  # fmt: skip
    axes = {"image": {0: "batch", **spatial}, "logits": {0: "batch", **spatial}}
    for weights, network, target in zip(predictor.weights, predictor.networks, targets, strict=True):
        unet: Any = network.cpu().eval()  # unet3d.networks.UNet: in_channels, depth, valid, input_size_for_output
        # a small input the network accepts (a window of 64 output voxels per axis)
        x = torch.randn(1, unet.in_channels, *unet.input_size_for_output([64] * dims))

        def write(tmp: str, unet: Any = unet, x: torch.Tensor = x) -> None:
            convert_to_onnx(unet, (x,), input_names=["image"], output_names=["logits"], opset_version=OPSET,
                            dynamic_axes=axes, filename=tmp, verify=True, use_ort=True, rtol=1e-3, atol=1e-4,
                            use_trace=True, dynamo=False)  # fmt: skip

        try:
            atomic_write(target, write, overwrite=overwrite)
        except AssertionError as e:  # verify: PyTorch and onnxruntime disagree beyond the tolerance
            raise ValueError(f"{weights}: the ONNX export disagrees with PyTorch ({e})") from e
        record = {
            **common,
            "model": target.name,
            "model_sha256": sha256(target),
            "weights": str(weights),
            "weights_sha256": sha256(weights),
            "network": {"spatial_dims": dims, "in_channels": unet.in_channels, "out_channels": unet.out_channels,
                        "depth": unet.depth, "valid": unet.valid, "strides": unet.strides},
        }  # fmt: skip
        atomic_write_text(settings_path(target), json.dumps(record, indent=2, default=str) + "\n", overwrite=overwrite)
    return targets


class OnnxNetwork(nn.Module):
    """An exported network (:func:`export_onnx`) run by onnxruntime behind ``nn.Module``'s
    interface: ``(N, C_in, *spatial)`` float32 in, logits ``(N, C_out, *output_size)`` out, on
    the input's device (the session runs on the CPU).

    Args:
        model: the ``.onnx`` file; its ``.onnx.json`` must lie beside it.
        weights: the weight file the export must come from (its SHA-256 is compared with the
            JSON's); ``None`` skips the check.
        threads: onnxruntime's intra-op threads; ``None``: onnxruntime's default (the cores).

    Raises:
        FileNotFoundError: the ``.onnx`` or its JSON is missing.
        ValueError: the JSON is not an export of this format, or the weights changed since the export.
        ImportError: onnxruntime is missing.
    """

    def __init__(self, model: str | os.PathLike, weights: str | os.PathLike | None = None,
                 threads: int | None = None) -> None:  # fmt: skip
        super().__init__()
        ort = _require("onnxruntime")
        self.model = Path(model)
        meta_path = settings_path(self.model)
        for path in (self.model, meta_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: not found; export it with `unet3d export BUNDLE --format onnx`")
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, ValueError) as e:
            raise ValueError(f"{meta_path}: cannot read ({e})") from e
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ValueError(f"{meta_path}: not a unet3d ONNX export ({FORMAT})")
        if weights is not None and sha256(weights) != meta.get("weights_sha256"):
            raise ValueError(f"{self.model}: exported from other weights than {weights} (changed since); export again")
        network = meta["network"]
        self.spatial_dims, self.in_channels = int(network["spatial_dims"]), int(network["in_channels"])
        self.out_channels, self.depth = int(network["out_channels"]), int(network["depth"])
        self.valid = bool(network["valid"])
        # per pooling level, the factor per axis (exports before per-axis pooling: 2 everywhere)
        self.strides: list[list[int]] | None = network.get("strides")
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(self.model), options, providers=["CPUExecutionProvider"])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for ``x``; a spatial size the network does not accept raises the PyTorch
        network's ``ValueError`` (the graph itself does not check)."""
        output_size([int(s) for s in x.shape[2:]], self.depth, self.valid, self.strides)
        (logits,) = self.session.run(["logits"], {"image": x.detach().float().cpu().numpy()})
        return torch.from_numpy(logits).to(x.device)
