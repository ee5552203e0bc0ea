"""Tests for unet3d.bundle.paths."""

from __future__ import annotations

import contextlib
import os

import torch

from unet3d.bundle import bundle_root, latest_checkpoint


def test_bundle_root_from_the_running_workflow(repo_root, tmp_path):
    """The root MONAI's ConfigWorkflow resolved from the first config file, whatever the working
    directory; the default outside a workflow."""
    from monai.bundle import ConfigWorkflow

    em = os.path.realpath(repo_root / "bundles/em")
    for configs in (
        str(repo_root / "bundles/em/train.yaml"),  # the link at the bundle's root
        str(repo_root / "bundles/em/configs/train.yaml"),
        [str(repo_root / "bundles/em/train.yaml"), str(repo_root / "configs/multi_gpu_train.yaml")],
    ):
        with contextlib.chdir(tmp_path):  # any working directory
            workflow = ConfigWorkflow(config_file=configs, logging_file=False, workflow_type=None, run="$@bundle_root")
            assert workflow.run() == [em]  # what the config's `run` sees while MONAI runs it
    assert bundle_root("fallback") == "fallback"


def test_latest_checkpoint(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None
    for name in ("checkpoint_epoch=2.pt", "checkpoint_epoch=10.pt", "model.pt", "checkpoint_epoch=x.pt"):
        torch.save({"epoch": 0}, tmp_path / name)
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint_epoch=10.pt")


def test_latest_checkpoint_skips_one_cut_short(tmp_path):
    torch.save({"epoch": 1}, tmp_path / "checkpoint_epoch=1.pt")
    torch.save({"epoch": 2}, tmp_path / "checkpoint_epoch=2.pt")
    whole = (tmp_path / "checkpoint_epoch=2.pt").read_bytes()
    (tmp_path / "checkpoint_epoch=2.pt").write_bytes(whole[: len(whole) // 2])  # a save cut short
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint_epoch=1.pt")
    (tmp_path / "checkpoint_epoch=1.pt").write_bytes(b"")
    assert latest_checkpoint(tmp_path) is None
