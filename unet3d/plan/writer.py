"""Write the planned bundle: the model-zoo layout of the shipped bundles, from :class:`Plans`."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from unet3d.inference import BundleLayout
from unet3d.plan.fingerprint import Fingerprint
from unet3d.plan.plans import Plans

SCHEMA = "https://github.com/Project-MONAI/MONAI-extra-test-data/releases/download/0.8.1/meta_schema_20240725.json"
CONFIGS = ("train.yaml", "inference.yaml", "evaluate.yaml", "metadata.json", "logging.conf")


def _templates() -> Any:
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("unet3d.plan", "templates"), undefined=StrictUndefined,
                       keep_trailing_newline=True)  # fmt: skip


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("monai", "torch", "numpy", "unet3d", "pytorch-ignite", "nibabel", "SimpleITK", "tensorboard"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def metadata(p: Plans) -> dict[str, Any]:
    """``configs/metadata.json``: MONAI's bundle metadata with the channel and label definitions."""
    versions = _versions()
    classes = ", ".join(f"{k} = {n}" for k, n in enumerate(p.label_names))
    modality = "CT" if p.normalisation["kind"] == "ct" else ("light microscopy" if p.spatial_dims == 2 else "MR")
    return {
        "schema": SCHEMA,
        "version": "0.1.0",
        "changelog": {"0.1.0": f"planned by unet3d plan from {p.dataset_dir}"},
        "monai_version": versions.get("monai", ""),
        "pytorch_version": versions.get("torch", "").split("+")[0],
        "numpy_version": versions.get("numpy", ""),
        "required_packages_version": {k: v for k, v in versions.items() if k not in ("monai", "torch", "numpy")},
        "supported_apps": {},
        "name": p.name,
        "task": f"{p.name}: {len(p.label_values) - 1} foreground class(es) in {p.spatial_dims}D images",
        "description": (
            f"A {p.spatial_dims}D U-Net (Ronneberger et al. 2015) with padded convolutions and instance norm, "
            "planned by unet3d plan (nnU-Net's rules as a MONAI bundle): see docs/README.md and plans/."
        ),
        "authors": "planned by unet3d",
        "copyright": "the data set's owners; the code: Apache-2.0",
        "data_source": p.dataset_dir,
        "data_type": {"nifti": "nibabel", "itk": "itk", "image2d": "png/tiff"}[p.reader],
        "image_classes": f"{p.channels} channel(s): {', '.join(p.channel_names)}",
        "label_classes": classes,
        "pred_classes": classes,
        "eval_metrics": {},
        "intended_use": "Research only; not for clinical use.",
        "references": [
            "Ronneberger, O., Fischer, P. and Brox, T. U-Net: Convolutional Networks for Biomedical Image "
            "Segmentation. MICCAI 2015.",
            "Isensee, F. et al. nnU-Net: a self-configuring method for deep "
            "learning-based biomedical image segmentation. Nature Methods 18, 203-211 (2021).",
        ],
        "network_data_format": {
            "inputs": {
                "image": {
                    "type": "image",
                    "format": "magnitude",
                    "modality": modality,
                    "num_channels": p.channels,
                    "spatial_shape": p.patch_size,
                    "dtype": "float32",
                    "value_range": [],
                    "is_patch_data": True,
                    "channel_def": {str(k): n for k, n in enumerate(p.channel_names)},
                }
            },
            "outputs": {
                "pred": {
                    "type": "image",
                    "format": "segmentation",
                    "num_channels": len(p.label_values),
                    "spatial_shape": p.patch_size,
                    "dtype": "float32",
                    "value_range": [0, 1],
                    "is_patch_data": True,
                    "channel_def": {str(k): n for k, n in enumerate(p.label_names)},
                }
            },
        },
        "label_values": {str(k): v for k, v in enumerate(p.label_values)},
    }


def images_dir(dataset_dir: str) -> str:
    """The folder of images a planned bundle's ``inference.yaml`` segments by default: the data
    set's test images (``imagesTs/``) if it has some, else its training images."""
    root = Path(dataset_dir)
    for name in ("imagesTs", "imagesTr", "images"):
        if (root / name).is_dir():
            return str(root / name)
    return str(root)


def _context(p: Plans, root: Path) -> dict[str, Any]:
    classes = ", ".join(f"{k} = {n}" for k, n in enumerate(p.label_names))
    return {"p": p, "root": str(root), "classes": classes, "images_dir": images_dir(p.dataset_dir)}


def render_configs(p: Plans, folder: Path, shown_root: Path | None = None) -> None:
    """Write ``folder/configs/`` (train, inference, evaluate, metadata, logging) for ``p``;
    ``shown_root`` is the bundle path the configs' comments show (default ``folder``)."""
    env = _templates()
    context = _context(p, shown_root or folder)
    configs = folder / "configs"
    configs.mkdir(parents=True, exist_ok=True)
    for name in ("train.yaml", "inference.yaml", "evaluate.yaml"):
        (configs / name).write_text(env.get_template(f"{name}.j2").render(**context))
    (configs / "logging.conf").write_text(env.get_template("logging.conf").render())
    (configs / "metadata.json").write_text(json.dumps(metadata(p), indent=4) + "\n")


def write_bundle(p: Plans, fp: Fingerprint, output: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the bundle folder ``output`` (``configs/``, root links, ``docs/README.md``,
    ``LICENSE``, ``plans/fingerprint.json`` and ``plans.json``, an empty ``models/``), all at once:
    it is built in a temporary folder beside ``output`` and renamed into place.

    Raises:
        FileExistsError: ``output`` exists and ``overwrite`` is false.
    """
    out = Path(output)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out}: exists; give another --output or --overwrite")
    out.parent.mkdir(parents=True, exist_ok=True)
    env = _templates()
    context = _context(p, out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        render_configs(p, tmp, shown_root=out)
        for folder in (tmp / "docs", tmp / "plans", tmp / "models"):
            folder.mkdir()
        for name in CONFIGS:
            (tmp / name).symlink_to(Path("configs") / name)
        (tmp / "docs" / "README.md").write_text(env.get_template("README.md.j2").render(**context))
        (tmp / "LICENSE").write_text(env.get_template("LICENSE.j2").render(**context))
        (tmp / "plans" / "plans.json").write_text(json.dumps(p.to_json(), indent=2) + "\n")
        (tmp / "plans" / "fingerprint.json").write_text(json.dumps(fp.to_json(), indent=1) + "\n")
        BundleLayout(tmp, require_weights=False)  # the contract holds (a failure is a bug in the templates)
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
