"""benchmarks/gpu.py runs end to end as a CPU dry run (its figures are not checked: a benchmark
reports what it sees), and refuses a CUDA device this machine does not have with one line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from tests.conftest import REPO_ROOT

SCRIPT = [sys.executable, str(REPO_ROOT / "benchmarks/gpu.py")]


@pytest.mark.slow
def test_cpu_dry_run_prints_and_writes_every_figure(data_dir, tmp_path):
    out = tmp_path / "gpu.json"
    res = subprocess.run([*SCRIPT, "--device", "cpu", "--bundles", "hippocampus", "--iterations", "1",
                          "--ct-shape", "64", "64", "48", "--json", str(out)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    figures = json.loads(out.read_text())
    row = figures["training"]["hippocampus"]
    assert row["fp32"] > 0 and row["amp"] > 0 and row["batch"] == 2
    inference = figures["inference"]
    assert inference["fp32 eager"]["dice_vs_cpu"] == 1.0  # the same device and arithmetic as the reference
    assert 0 <= inference["bf16 frozen"]["dice_vs_cpu"] <= 1
    assert "| hippocampus | 2 |" in res.stdout and "| bf16 frozen |" in res.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_missing_cuda_is_one_line():
    res = subprocess.run([*SCRIPT, "--device", "cuda"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and res.stderr.strip().splitlines() == [
        "error: --device cuda: no CUDA device here (use --device cpu for a dry run)"
    ]
