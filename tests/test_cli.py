"""Tests for unet3d.cli."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import REPO_ROOT
from unet3d.cli import main


def test_help_is_fast_and_lists_commands():
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "unet3d.cli", "--help"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert time.perf_counter() - start < 2.0
    assert res.returncode == 0 and "bundles" in res.stdout


def test_bundles_lists_em(capsys):
    assert main(["bundles", str(REPO_ROOT / "bundles")]) == 0
    assert "em" in capsys.readouterr().out


def test_bundles_in_a_folder_without_bundles(tmp_path, capsys):
    assert main(["bundles", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err
