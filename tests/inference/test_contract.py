"""The bundle contract: the ids every bundle declares, checked by unet3d and by MONAI itself."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.conftest import REPO_ROOT
from unet3d.inference import BundleLayout, BundlePredictor
from unet3d.inference.contract import PROPERTIES_FILE, missing_ids, required_ids

BUNDLES = ("em", "nuclei", "hippocampus", "spleen_ct")


@pytest.mark.parametrize("name", BUNDLES)
def test_shipped_bundles_declare_every_id_monai_checks_them_too(name):
    from monai.bundle import ConfigWorkflow

    bundle = REPO_ROOT / "bundles" / name
    assert missing_ids(BundleLayout(bundle, require_weights=False).inference_ids) == []
    workflow = ConfigWorkflow(config_file=str(bundle / "configs/inference.yaml"), workflow_type="infer",
                              properties_path=str(PROPERTIES_FILE), bundle_root=str(bundle),
                              meta_file=str(bundle / "configs/metadata.json"))  # fmt: skip
    workflow.initialize()
    assert workflow.check_properties() == []
    # what each id holds, as the predictor uses it
    assert len(workflow.window_size) == BundleLayout(bundle, require_weights=False).spatial_dims
    assert [type(t).__name__ for t in workflow.preprocessing.transforms] == ["LoadImaged", "Compose"]
    steps = [type(t).__name__ for t in workflow.postprocessing.transforms]
    assert steps[:3] == ["Compose", "Compose", "SaveImaged"]  # MONAI Label drops the top-level SaveImaged


@pytest.mark.parametrize("missing", ["prepare", "window_size", "to_labels"])
def test_a_bundle_missing_an_id_is_refused_in_one_line(tmp_path, missing):
    bundle = tmp_path / "mine"
    shutil.copytree(REPO_ROOT / "bundles/hippocampus/configs", bundle / "configs")
    config = yaml.safe_load((bundle / "configs/inference.yaml").read_text())
    del config[missing]
    (bundle / "configs/inference.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError) as err:
        BundleLayout(bundle, require_weights=False)
    message = str(err.value)
    assert "\n" not in message and f"no `{missing}` id" in message and "inference.yaml" in message


def test_the_cli_refuses_it_naming_the_id(tmp_path, data_dir):
    import subprocess
    import sys

    bundle = tmp_path / "mine"
    shutil.copytree(REPO_ROOT / "bundles/hippocampus", bundle, symlinks=True)
    config = yaml.safe_load((bundle / "configs/inference.yaml").read_text())
    del config["to_probabilities"]
    (bundle / "configs/inference.yaml").write_text(yaml.safe_dump(config))
    image = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    res = subprocess.run([sys.executable, "-m", "unet3d.cli", "segment", "--bundle", str(bundle), "--output-dir",
                          str(tmp_path / "out"), str(image)], capture_output=True, text=True)  # fmt: skip
    assert res.returncode != 0
    lines = [line for line in res.stderr.splitlines() if line.startswith("error")]
    assert len(lines) == 1 and "no `to_probabilities` id" in lines[0], res.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_required_ids_are_what_the_predictor_reads():
    assert {"network_def", "prepare", "inferer", "window_size", "tta", "to_probabilities", "to_labels"} <= set(
        required_ids()
    )
    assert {"load", "save", "preprocessing", "postprocessing"} <= set(required_ids())  # the workflow's


def test_window_settings_go_to_declared_ids_only():
    em = BundlePredictor(REPO_ROOT / "bundles/em", device="cpu", tta=True)
    assert em.members == 8  # EM's TTA is the one mechanism: the QC report sees 8 predictions
    assert em.window_size == (700, 700)
    with pytest.raises(ValueError, match="does not take overlap \\(no `overlap` id\\)"):
        BundlePredictor(REPO_ROOT / "bundles/em", device="cpu", overlap=0.5)
    nuclei = BundlePredictor(REPO_ROOT / "bundles/nuclei", device="cpu", overlap=0.25)
    assert nuclei.inferer.inferer.inferer.overlap == 0.25 and nuclei.window_size == (2048, 2048)


def test_nuclei_images_in_one_window_are_not_frozen():
    """The freeze rule counts windows of ``window_size`` (nuclei: the 2048 px maximum), not the
    fitted inferer's smallest window: an image that goes through in one window is not frozen."""
    import torch

    nuclei = BundlePredictor(REPO_ROOT / "bundles/nuclei", device="cpu")
    assert nuclei.runner_for(torch.zeros(1, 1024, 1344)) is nuclei.network
    assert nuclei.runner_for(torch.zeros(1, 2048 * 3, 2048 * 3)) is not nuclei.network  # 9 windows


def test_freeze_min_windows_is_reachable_from_the_config():
    """The optional ``freeze_min_windows`` id (0: never freeze) is read from the bundle's config or
    an override; an explicit argument wins."""
    import torch

    large = torch.zeros(1, 40 * 8, 56, 40)  # 8 hippocampus windows
    shipped = BundlePredictor(REPO_ROOT / "bundles/hippocampus", device="cpu")
    assert shipped.freeze_min_windows == 8 and shipped.runner_for(large) is not shipped.network
    never = BundlePredictor(REPO_ROOT / "bundles/hippocampus", device="cpu", overrides={"freeze_min_windows": 0})
    assert never.freeze_min_windows == 0 and never.runner_for(large) is never.network
    mine = BundlePredictor(REPO_ROOT / "bundles/hippocampus", device="cpu", freeze_min_windows=100,
                           overrides={"freeze_min_windows": 0})  # fmt: skip
    assert mine.freeze_min_windows == 100


def test_an_id_that_cannot_be_built_is_named(tmp_path):
    bundle = tmp_path / "mine"
    shutil.copytree(REPO_ROOT / "bundles/hippocampus", bundle, symlinks=True)
    config = yaml.safe_load((bundle / "configs/inference.yaml").read_text())
    config["prepare"]["transforms"].append({"_target_": "NoSuchTransformd", "keys": "image"})  # not in MONAI
    (bundle / "configs/inference.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ValueError, match=r"inference\.yaml: `prepare` cannot be built \(") as err:
        BundlePredictor(bundle, device="cpu")
    assert "\n" not in str(err.value)
