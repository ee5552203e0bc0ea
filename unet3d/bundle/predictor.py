"""Run a bundle's inference pipeline on one image in memory: the bundle's own config, no files."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import torch

from unet3d.bundle.runners import frozen

# Inputs of at least this many windows' voxels run through a fast frozen copy of the network
# (unet3d.bundle.runners.frozen; 0.088 against 0.118 s per 40x56x40 window on the 2-core CPU, same
# logits up to float rounding; benchmarks/infer_options.py), but making it and the first calls
# cost about 0.7 s, a loss on inputs of one or a few windows.
FREEZE_MIN_WINDOWS = 8


class BundlePredictor:
    """A bundle's ``network_def``, weights, ``preprocessing``, ``inferer`` and ``postprocessing``.

    The pipeline is the one in ``configs/inference.yaml``, minus its file loading and saving
    (``LoadImaged``/``SaveImaged``): callers pass an image already read and write the result
    themselves, so inference stays identical to what the bundle runs, whatever the file format.

    Args:
        bundle_dir: the bundle folder (with ``configs/`` and ``models/model.pt``).
        device: ``"cpu"``, ``"cuda"``, ...; the first GPU if available when ``None``.
        tta: switch on the bundle's test-time augmentation (its ``tta`` config key).

    Raises:
        FileNotFoundError: the bundle has no ``configs/inference.yaml`` or ``models/model.pt``.
        ValueError: ``tta`` is asked for but the bundle has no ``tta`` key.
    """

    def __init__(self, bundle_dir: str | os.PathLike, device: str | None = None, tta: bool = False) -> None:
        from monai.bundle import ConfigParser

        root = Path(bundle_dir)
        config, weights, meta = (
            root / "configs/inference.yaml",
            root / "models/model.pt",
            root / "configs/metadata.json",
        )
        for path in (config, weights, meta):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: not found; is {root} a unet3d bundle?")
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(device)
        parser = ConfigParser()
        parser.read_config(str(config))
        parser["bundle_root"] = str(root)
        parser["device"] = f"$torch.device('{self.device}')"
        if tta:
            if "tta" not in parser:
                raise ValueError(f"{config}: this bundle has no test-time augmentation (no `tta` key)")
            parser["tta"] = True
        self.metadata: dict[str, Any] = json.loads(meta.read_text())
        self.network = parser.get_parsed_content("network_def")
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            self.network.load_state_dict(state.get("model", state))
        except Exception as e:  # pickle, zip and key errors: all mean "these weights cannot be used"
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{weights}: cannot load the weights ({reason})") from e
        self.network.to(self.device).eval()
        self.inferer = parser.get_parsed_content("inferer")
        self.preprocessing = self._without(parser.get_parsed_content("preprocessing"), "LoadImaged")
        self.postprocessing = self._without(parser.get_parsed_content("postprocessing"), "SaveImaged")
        self._frozen: torch.nn.Module | None = None

    @staticmethod
    def _without(compose: Any, name: str) -> Any:
        from monai.transforms import Compose

        return Compose([t for t in compose.transforms if type(t).__name__ != name])

    @property
    def input_spec(self) -> dict[str, Any]:
        """The first input of ``network_data_format`` (channels, spatial shape)."""
        inputs: dict[str, Any] = self.metadata["network_data_format"]["inputs"]
        return next(iter(inputs.values()))

    @property
    def output_spec(self) -> dict[str, Any]:
        """The first output of ``network_data_format`` (``channel_def`` names the labels)."""
        outputs: dict[str, Any] = self.metadata["network_data_format"]["outputs"]
        return next(iter(outputs.values()))

    @property
    def spatial_dims(self) -> int:
        return len(self.input_spec["spatial_shape"])

    @property
    def accepts_color(self) -> bool:
        """Whether the preprocessing turns colour images into the network's input (a transform
        with ``converts_color = True``, e.g. ``unet3d.transforms.BrightNucleid``)."""
        return any(getattr(t, "converts_color", False) for t in self.preprocessing.transforms)

    @property
    def mask_dtype(self) -> str:
        """``uint16`` for bundles whose masks hold instance ids (metadata ``mask_dtype``), else ``uint8``."""
        return str(self.metadata.get("mask_dtype", "uint8"))

    def runner_for(self, image: torch.Tensor) -> Any:
        """The network to run on ``image`` (preprocessed, channel-first): a frozen copy for inputs of
        at least ``FREEZE_MIN_WINDOWS`` windows, made once, else the network itself."""
        roi = getattr(self.inferer, "roi_size", None)
        if roi is None:
            return self.network
        roi = [roi] * self.spatial_dims if isinstance(roi, int) else list(roi)
        # MONAI's convention: a non-positive size means the image's own size on that axis
        window = math.prod(r if r > 0 else s for r, s in zip(roi, image.shape[1:], strict=True))
        if image[0].numel() < FREEZE_MIN_WINDOWS * window:
            return self.network
        if self._frozen is None:
            self._frozen = frozen(self.network)
        return self._frozen

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Segment one image as MONAI's ``LoadImage`` returns it (a ``MetaTensor``, ``(*spatial)``
        or channel-first with its geometry in ``affine``).

        Returns the bundle's postprocessed prediction, ``(1, *spatial)``, on the CPU; for bundles
        whose postprocessing inverts the preprocessing (``Invertd``) it is in the input's geometry.
        """
        data = self.preprocessing({"image": image})
        channels = getattr(self.network, "in_channels", None)
        if channels is not None and data["image"].shape[0] != channels:
            raise ValueError(f"{data['image'].shape[0]} channels; this bundle's network takes {channels}")
        runner = self.runner_for(data["image"])
        with torch.inference_mode():
            pred = self.inferer(data["image"][None].to(self.device), runner)
        data["pred"] = pred[0].cpu()
        out = self.postprocessing(data)["pred"]
        return out[None] if out.ndim == self.spatial_dims else out  # a squeezed 2D mask gets its channel back
