"""Tests for unet3d.bundle.paths."""

from __future__ import annotations

import os
import sys

from unet3d.bundle import bundle_root, latest_checkpoint


def test_bundle_root_from_the_command_line(monkeypatch, repo_root):
    em = os.path.realpath(repo_root / "bundles/em")
    for argv in (
        ["x", "run", "--config_file", str(repo_root / "bundles/em/train.yaml")],  # link at the root
        ["x", "run", f"--config_file={repo_root / 'bundles/em/configs/train.yaml'}"],
        ["x", "run", "--config_file", f"['{repo_root}/bundles/em/train.yaml','configs/multi_gpu_train.yaml']"],
    ):
        monkeypatch.setattr(sys, "argv", argv)
        assert bundle_root() == em
    monkeypatch.setattr(sys, "argv", ["pytest"])
    assert bundle_root("fallback") == "fallback"


def test_latest_checkpoint(tmp_path):
    assert latest_checkpoint(tmp_path / "missing") is None
    for name in ("checkpoint_epoch=2.pt", "checkpoint_epoch=10.pt", "model.pt", "checkpoint_epoch=x.pt"):
        (tmp_path / name).touch()
    assert latest_checkpoint(tmp_path) == str(tmp_path / "checkpoint_epoch=10.pt")
