"""Helpers shared by the bundle tests: run ``python -m monai.bundle`` as a user does."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO_ROOT

MONAI_BUNDLE = [sys.executable, "-m", "monai.bundle"]


def bundle_cmd(*args: str) -> list[str]:
    return [*MONAI_BUNDLE, *args]


def run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=timeout)


def verify_bundle(name, export_dir, example_shape: tuple[int, ...]) -> tuple[int, ...]:
    """verify_net_in_out, ckpt_export (TorchScript) and offline verify_metadata on ``bundles/<name>``
    (or on a bundle folder given as a path, e.g. one ``unet3d plan`` wrote).

    Returns the scripted network's output shape for a random input of ``example_shape``.
    """
    import torch

    root = str(name) if not isinstance(name, str) else f"bundles/{name}"
    common = ["--meta_file", f"{root}/configs/metadata.json", "--config_file", f"{root}/configs/inference.yaml",
              "--bundle_root", root]  # fmt: skip
    res = run(bundle_cmd("verify_net_in_out", "network_def", *common))
    assert res.returncode == 0 and "verified with no error" in res.stdout + res.stderr, res.stderr[-2000:]
    ts = export_dir / "model.ts"
    res = run(bundle_cmd("ckpt_export", "network_def", "--filepath", str(ts), "--ckpt_file",
                         f"{root}/models/model.pt", *common))  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    res = run(bundle_cmd("verify_metadata", "--meta_file", f"{root}/configs/metadata.json",
                         "--filepath", "bundles/meta_schema.json"))  # fmt: skip
    assert res.returncode == 0 and "verified with no error" in res.stdout + res.stderr, res.stderr[-2000:]
    scripted = torch.jit.load(str(ts))
    with torch.no_grad():
        return tuple(scripted(torch.rand(*example_shape)).shape)


def check_layout(bundle) -> None:
    """The model-zoo layout MONAI Label needs, root links to ``configs/``, weights under 10 MB."""
    for rel in ("configs/metadata.json", "configs/train.yaml", "configs/inference.yaml", "configs/evaluate.yaml",
                "configs/logging.conf", "models/model.pt", "docs/README.md", "LICENSE"):  # fmt: skip
        assert (bundle / rel).is_file(), rel
    for name in ("train.yaml", "inference.yaml", "evaluate.yaml", "metadata.json", "logging.conf"):
        link = bundle / name
        assert link.is_symlink() and link.resolve() == (bundle / "configs" / name).resolve()
    assert (bundle / "models/model.pt").stat().st_size < 10 * 2**20


WINDOW_KEYS = ("inferer", "overlap", "blend_mode", "sw_batch_size", "tta", "tta_flip_axes")


def check_inference_repeats_train(bundle, keys: tuple[str, ...]) -> tuple[dict, dict]:
    """A 3D bundle's inference.yaml repeats train.yaml: the ``keys`` and the window settings, the
    window (train.yaml's patch), ``prepare`` (the image's steps of ``load_transforms`` after the
    reader, interpolation modes aside) and the metadata's patch and channels.

    Returns the two configs (train, inference) as loaded.
    """
    import json

    import yaml

    train, infer = (yaml.safe_load((bundle / "configs" / f).read_text()) for f in ("train.yaml", "inference.yaml"))
    for key in (*keys, *WINDOW_KEYS):
        assert infer[key] == train[key], key
    assert infer["window_size"] == train["patch_size"] and train["window_size"] == "@patch_size"
    assert infer["load"]["_target_"] == train["load_transforms"][0]["_target_"] == "LoadImaged"
    for ours, theirs in zip(infer["prepare"]["transforms"], train["load_transforms"][1:], strict=True):
        assert ours["_target_"] == theirs["_target_"]
        assert {k: v for k, v in ours.items() if k not in ("keys", "mode")} == {
            k: v for k, v in theirs.items() if k not in ("keys", "mode")
        }
    meta = json.loads((bundle / "configs/metadata.json").read_text())
    assert meta["network_data_format"]["inputs"]["image"]["spatial_shape"] == train["patch_size"]
    assert len(meta["network_data_format"]["outputs"]["pred"]["channel_def"]) == train["network_def"]["out_channels"]
    return train, infer


def run_recording_losses(workflow) -> tuple[object, list[float]]:
    """Initialise and run a bundle's training ``ConfigWorkflow``; returns its trainer and the loss of
    every iteration."""
    from ignite.engine import Events

    workflow.initialize()
    trainer = workflow.parser.get_parsed_content("train#trainer")
    losses: list[float] = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: losses.append(e.state.output["loss"].item()))
    workflow.run()
    return trainer, losses
