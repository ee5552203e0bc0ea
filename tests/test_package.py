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


# each layer may import only the layers listed for it (and itself); `unet3d` alone (the version) is free
LAYERS = {
    "networks": set(),
    "losses": set(),
    "metrics": {"data"},  # the rule of what counts as instance truth (data.nuclei.is_instance_map)
    "io": set(),
    "transforms": set(),
    "inferers": {"networks", "transforms"},  # the size probe's objects (ObjectSizeInferer: instance_labels)
    "data": {"io", "transforms"},  # the modality decision (transforms.modality) sorts and samples nuclei data
    "report": {"io"},  # QC figures, thumbnails and the page: from masks and arrays, no model
    "inference": {"io", "inferers", "networks", "transforms", "report"},
    "bundle": {"data", "io", "metrics", "networks", "inference", "report"},
    "plan": {"data", "io", "networks", "inference"},  # measures data, writes a bundle the inference layer checks
    "napari": {"inference", "io"},  # the plugin: layers through the predictor, masks through the writers
}


def test_no_import_goes_back_up_the_layers():
    """io, networks, inferers (and the other lower layers) import nothing from inference/ or
    bundle/; inference/ nothing from bundle/: the import graph has no arrow back up."""
    import ast

    wrong = []
    for layer, allowed in LAYERS.items():
        for path in sorted((REPO_ROOT / "unet3d" / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                for name in names:
                    parts = name.split(".")
                    if parts[0] == "unet3d" and len(parts) > 1 and parts[1] not in allowed | {layer}:
                        wrong.append(f"{path.relative_to(REPO_ROOT)} imports {name}")
    assert not wrong, wrong
