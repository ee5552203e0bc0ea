"""Shared fixtures: where the real data lives, the repository root, small private file systems."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# the data sets' memo (unet3d.data.cache), shared by the tests and the bundle runs they start, lives
# for one test run: each run reads the data once itself, and a developer's own memo plays no part
if "UNET3D_CACHE_DIR" not in os.environ:
    os.environ["UNET3D_CACHE_DIR"] = tempfile.mkdtemp(prefix="unet3d-test-memo-")
    atexit.register(shutil.rmtree, os.environ["UNET3D_CACHE_DIR"], True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The MONAI Label tests run last: their environment (``scripts/setup_label_venv.sh``) builds in
    the background meanwhile when ``.ci/run`` started it."""
    items.sort(key=lambda item: item.get_closest_marker("monailabel") is not None)


def skip_or_fail(message: str) -> None:
    """Skip on a developer machine, fail in CI (``CI=true``): a missing tool or data set must not
    turn a CI run green by skipping."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message, allow_module_level=True)


@pytest.fixture(scope="session")
def dciodvfy() -> Callable[[Path], list[str]]:
    """dicom3tools' DICOM validator (Debian package ``dicom3tools``, installed by ``.ci/run``): a
    callable giving the error lines it prints for a file (``[]``: valid)."""
    if shutil.which("dciodvfy") is None:
        skip_or_fail("dciodvfy is not installed (apt-get install dicom3tools)")

    def errors(path: Path) -> list[str]:
        res = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=120)
        return [line for line in (res.stdout + res.stderr).splitlines() if line.startswith(("Error", "Abort"))]

    return errors


def _data_root() -> Path:
    return Path(os.environ.get("UNET3D_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real data folder (``../shared/data`` beside the repo, or env ``UNET3D_DATA``).

    Missing data skips the test on a developer machine, but fails it in CI (``CI=true``), so a
    CI run can never go green by skipping everything that needs data.
    """
    root = _data_root()
    if not (root / "README.md").is_file():
        skip_or_fail(f"real data not found at {root} (set UNET3D_DATA)")
    return root


def _in_private_mounts(script: str) -> subprocess.CompletedProcess:
    cmd = ["unshare", "-rm", "sh", "-c", script]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)


@pytest.fixture(scope="session")
def private_mounts() -> Callable[[str], subprocess.CompletedProcess]:
    """Run a shell script in its own user and mount namespace (``unshare -rm``), where it may
    mount a small tmpfs (a full or read-only disk) without root.

    Where namespaces are unavailable the test is skipped on a developer machine and fails in CI.
    """
    if shutil.which("unshare") is None or _in_private_mounts("true").returncode != 0:
        skip_or_fail("no user/mount namespaces here (unshare -rm) to make a small file system")
    return _in_private_mounts
