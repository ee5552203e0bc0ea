"""The bundle contract: the ids a bundle's ``configs/inference.yaml`` declares for unet3d.

The list is data, ``properties.json`` beside this module, in the format of MONAI's bundle
properties (``monai/bundle/properties.py``), so MONAI's own check reads it too::

    ConfigWorkflow(config_file="bundles/em/configs/inference.yaml", workflow_type="infer",
                   properties_path=unet3d.inference.contract.PROPERTIES_FILE).check_properties()

:class:`unet3d.inference.BundleLayout` refuses a bundle that misses a required id, with one line
naming it; :class:`unet3d.inference.BundlePredictor` reads only these ids (``unet3d plan`` writes
them). The `monai.bundle run` workflow composes ``load`` + ``prepare`` into ``preprocessing`` and
``to_probabilities`` + ``to_labels`` + ``save`` into ``postprocessing``, the model zoo's and MONAI
Label's ids.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

PROPERTIES_FILE = Path(__file__).with_name("properties.json")


@cache
def inference_properties() -> dict[str, dict[str, Any]]:
    """Property name -> ``{"description", "required", "id"}`` (MONAI's keys) for inference."""
    return dict(json.loads(PROPERTIES_FILE.read_text())["infer"])


def required_ids() -> tuple[str, ...]:
    """The config ids every unet3d bundle's ``inference.yaml`` declares, in the file's order."""
    return tuple(p["id"] for p in inference_properties().values() if p.get("required", False))


def missing_ids(declared: Iterable[str]) -> list[str]:
    """The required ids that are not among ``declared`` (a config's top-level ids)."""
    have = set(declared)
    return [i for i in required_ids() if i not in have]


def check_declared(config_file: str | Path, declared: Iterable[str]) -> None:
    """Refuse a config that misses a required id.

    Raises:
        ValueError: one line naming the config file and the first missing id, with what it is.
    """
    missing = missing_ids(declared)
    if missing:
        what = {p["id"]: p["description"] for p in inference_properties().values()}[missing[0]]
        more = f" (and {', '.join(missing[1:])})" if len(missing) > 1 else ""
        raise ValueError(f"{config_file}: no `{missing[0]}` id{more}: a unet3d bundle declares it ({what})")
