"""Tests for unet3d.bundle.paths."""

from __future__ import annotations

import os
import sys

import torch

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
