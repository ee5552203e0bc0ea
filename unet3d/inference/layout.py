"""A bundle's files and the facts its metadata holds: one place that knows the model-zoo layout.

Used by :class:`unet3d.inference.BundlePredictor`, the CLI (``unet3d bundles``, ``unet3d segment``)
and the MONAI Label app, so that none of them spells out paths or metadata keys of its own.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from unet3d.inference.contract import check_declared


class BundleLayout:
    """The model-zoo layout of a bundle folder::

        <root>/configs/inference.yaml   the inference pipeline (what ``unet3d segment`` runs); it
                                        declares the ids of unet3d.inference.contract
        <root>/configs/train.yaml       training; evaluate.yaml is merged over it
        <root>/configs/metadata.json    network_data_format (channel_def), dicom_seg_codes, ...
        <root>/models/model.pt          the shipped weights (what MONAI's ckpt_export and
                                        verify_net_in_out read)
        <root>/models/fold_K.pt         optional: one model per cross-validation fold; when
                                        present, inference averages them (an ensemble)

    Args:
        root: the bundle folder, e.g. ``bundles/em``.
        require_weights: also require ``models/model.pt``.

    Raises:
        FileNotFoundError: a required file is missing (the message names it).
        ValueError: ``inference.yaml`` cannot be read or misses an id of the contract (the
            message names the first missing id, see :mod:`unet3d.inference.contract`).
    """

    def __init__(self, root: str | os.PathLike, require_weights: bool = True) -> None:
        self.root = Path(root)
        for path in (self.inference_config, self.metadata_file):
            if not path.is_file():
                raise FileNotFoundError(f"{path}: not found; is {self.root} a unet3d bundle?")
        check_declared(self.inference_config, self.inference_ids)
        if require_weights and not self.has_weights:
            raise FileNotFoundError(self.untrained_message)

    @cached_property
    def inference_ids(self) -> tuple[str, ...]:
        """The top-level ids ``configs/inference.yaml`` declares."""
        import yaml

        try:
            config = yaml.safe_load(self.inference_config.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ValueError(f"{self.inference_config}: cannot read ({str(e).splitlines()[0]})") from e
        if not isinstance(config, dict):
            raise ValueError(f"{self.inference_config}: not a config (a mapping of ids)")
        return tuple(config)

    @property
    def has_weights(self) -> bool:
        """Whether the bundle has trained weights (``models/model.pt``, or fold models)."""
        return self.weights.is_file() or bool(self.fold_weights)

    @property
    def untrained_message(self) -> str:
        """One line for a bundle without weights: how to train them."""
        return (
            f"{self.weights}: not found; this bundle has no trained weights. Train them with: python -m "
            f"monai.bundle run training --config_file {self.train_config} --dataset_dir DATA --publish_model "
            f"true (see {self.root / 'docs' / 'README.md'})"
        )

    @property
    def configs_dir(self) -> Path:
        return self.root / "configs"

    @property
    def inference_config(self) -> Path:
        return self.configs_dir / "inference.yaml"

    @property
    def train_config(self) -> Path:
        return self.configs_dir / "train.yaml"

    @property
    def evaluate_config(self) -> Path:
        return self.configs_dir / "evaluate.yaml"

    @property
    def metadata_file(self) -> Path:
        return self.configs_dir / "metadata.json"

    @property
    def weights(self) -> Path:
        return self.root / "models" / "model.pt"

    @property
    def fold_weights(self) -> dict[int, Path]:
        """``models/fold_K.pt`` by fold number K (empty when the bundle ships one model)."""
        found = {}
        for path in (self.root / "models").glob("fold_*.pt"):
            number = path.stem.removeprefix("fold_")
            if number.isdigit():
                found[int(number)] = path
        return dict(sorted(found.items()))

    def weights_for(self, folds: Sequence[int] | None = None) -> list[Path]:
        """The weight files inference uses: the named folds' models; with ``folds=None`` every fold
        model the bundle ships, or ``models/model.pt`` when it ships none.

        Raises:
            FileNotFoundError: a named fold has no ``models/fold_K.pt``.
        """
        shipped = self.fold_weights
        if folds is None:
            return list(shipped.values()) or [self.weights]
        missing = [k for k in folds if k not in shipped]
        if missing:
            have = ", ".join(map(str, shipped)) or "none"
            raise FileNotFoundError(f"{self.root / 'models'}: no fold_{missing[0]}.pt (folds shipped: {have})")
        return [shipped[k] for k in folds]

    @cached_property
    def metadata(self) -> dict[str, Any]:
        """``configs/metadata.json`` as a dict."""
        try:
            return dict(json.loads(self.metadata_file.read_text()))
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.metadata_file}: cannot read ({e})") from e

    @property
    def name(self) -> str:
        return str(self.metadata.get("name", self.root.name))

    @property
    def version(self) -> str:
        return str(self.metadata.get("version", "?"))

    @property
    def input_spec(self) -> dict[str, Any]:
        """The first input of ``network_data_format`` (``num_channels``, ``spatial_shape``, ...)."""
        inputs: dict[str, Any] = self.metadata.get("network_data_format", {}).get("inputs", {})
        return dict(next(iter(inputs.values()), {}))

    @property
    def output_spec(self) -> dict[str, Any]:
        """The first output of ``network_data_format`` (its ``channel_def`` names the labels)."""
        outputs: dict[str, Any] = self.metadata.get("network_data_format", {}).get("outputs", {})
        return dict(next(iter(outputs.values()), {}))

    @property
    def volume_channels(self) -> int:
        """The channels a volume must have for this bundle: the input's ``num_channels`` for a 3D
        bundle (more than one: a 4D file or nnU-Net's channel files per case); 1 for a 2D bundle,
        whose preprocessing turns colour images into its input itself."""
        return int(self.input_spec.get("num_channels", 1)) if self.spatial_dims == 3 else 1

    @property
    def spatial_dims(self) -> int:
        """2 or 3: the length of the input's ``spatial_shape``."""
        return len(self.input_spec.get("spatial_shape", ()))

    @property
    def channel_def(self) -> dict[int, str]:
        """Label value to name, e.g. ``{0: "background", 1: "anterior", 2: "posterior"}``."""
        return {int(k): str(v) for k, v in self.output_spec.get("channel_def", {}).items()}

    @property
    def dicom_seg_codes(self) -> dict[int, dict[str, list[str]]]:
        """Label value to ``{"category": [code, scheme, meaning], "type": [...], "color": [r, g, b]}``: DICOM
        SEG codes and RTSTRUCT colours (each optional)."""
        return {int(k): dict(v) for k, v in self.metadata.get("dicom_seg_codes", {}).items()}

    @property
    def mask_dtype(self) -> str:
        """``uint16`` for bundles whose masks hold instance ids (metadata ``mask_dtype``), else ``uint8``."""
        return str(self.metadata.get("mask_dtype", "uint8"))

    @property
    def instances(self) -> bool:
        """Whether the masks hold one id per object (``mask_dtype`` ``uint16``)."""
        return self.mask_dtype == "uint16"

    def inference_parser(
        self, tta: bool | None = None, modality: str | None = None, overrides: Mapping[str, Any] | None = None
    ) -> Any:
        """A MONAI ``ConfigParser`` of ``configs/inference.yaml`` with ``bundle_root`` set to this
        folder (not the working directory) and ``overrides`` applied (e.g. ``device``,
        ``output_dir``), not yet parsed: what the predictor builds the shipped pipeline from.

        Args:
            tta: set the config's ``tta`` id; ``None`` keeps the bundle's default.
            modality: set the config's ``modality`` id (the kind of microscopy image, e.g. the
                nuclei bundle's ``fluorescence``, ``brightfield``, ``stained``); ``None`` keeps
                the bundle's default (``auto``).
            overrides: config ids and values.

        Raises:
            ValueError: ``modality`` is asked for but the bundle has no such id.
        """
        from monai.bundle import ConfigParser

        parser = ConfigParser()
        parser.read_config(str(self.inference_config))
        settings = {"bundle_root": str(self.root), **(overrides or {})}
        if tta is not None:
            settings["tta"] = bool(tta)
        if modality is not None:
            if "modality" not in self.inference_ids:
                raise ValueError(f"{self.root}: this bundle takes no image modality (no `modality` id)")
            settings["modality"] = modality
        parser.update(settings)
        return parser

    def __repr__(self) -> str:
        return f"BundleLayout({str(self.root)!r})"


def find_bundles(folder: str | os.PathLike) -> dict[str, BundleLayout]:
    """The bundles directly under ``folder`` (sub-folders with ``configs/metadata.json`` and
    ``configs/inference.yaml``) by folder name, sorted; weights are not required."""
    found = {}
    for meta in sorted(Path(folder).glob("*/configs/metadata.json")):
        root = meta.parent.parent
        if (root / "configs" / "inference.yaml").is_file():
            found[root.name] = BundleLayout(root, require_weights=False)
    return found
