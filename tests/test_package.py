"""Package-level promises: a quiet, cheap ``import unet3d``; code style and types hold."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT, check=True)


def test_import_is_silent_and_lazy():
    res = _run("import sys, unet3d; print(sorted(m for m in ('torch', 'monai') if m in sys.modules))")
    assert res.stdout.strip() == "[]"  # nothing heavy imported, so it adds ~nothing to `import monai`
    assert res.stderr == ""
    res = _run("import unet3d")
    assert res.stdout == "" and res.stderr == ""


def test_import_adds_little_to_monai():
    code = (
        "import time; t=time.perf_counter(); import monai; t1=time.perf_counter(); "
        "import unet3d, unet3d.networks; t2=time.perf_counter(); print(t2-t1)"
    )
    extra = min(float(_run(code).stdout) for _ in range(3))
    assert extra < 0.5, f"importing unet3d.networks after monai took {extra:.2f} s"


def _tool(name: str) -> str:
    path = shutil.which(name, path=str(REPO_ROOT / ".venv" / "bin")) or shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; install the project with its [test] extra")
    return path


@pytest.mark.parametrize(
    "args",
    [["ruff", "check", "."], ["ruff", "format", "--check", "."], ["mypy"]],
    ids=["ruff-check", "ruff-format", "mypy"],
)
def test_style_and_types(args):
    res = subprocess.run([_tool(args[0]), *args[1:]], capture_output=True, text=True, cwd=REPO_ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
