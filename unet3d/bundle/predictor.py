"""Run a bundle's inference pipeline on one image in memory: the bundle's own config, no files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch


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
        self.network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        self.network.to(self.device).eval()
        self.inferer = parser.get_parsed_content("inferer")
        self.preprocessing = self._without(parser.get_parsed_content("preprocessing"), "LoadImaged")
        self.postprocessing = self._without(parser.get_parsed_content("postprocessing"), "SaveImaged")

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

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Segment one image as MONAI's ``LoadImage`` returns it (a ``MetaTensor``, ``(*spatial)``
        or channel-first with its geometry in ``affine``).

        Returns the bundle's postprocessed prediction, ``(1, *spatial)``, on the CPU; for bundles
        whose postprocessing inverts the preprocessing (``Invertd``) it is in the input's geometry.
        """
        data = self.preprocessing({"image": image})
        with torch.inference_mode():
            pred = self.inferer(data["image"][None].to(self.device), self.network)
        data["pred"] = pred[0].cpu()
        out = self.postprocessing(data)["pred"]
        return out[None] if out.ndim == self.spatial_dims else out  # a squeezed 2D mask gets its channel back
