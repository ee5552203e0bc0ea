"""BundleLayout: the shipped bundles' files and metadata, found in one place; MONAI's InferProperties."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import REPO_ROOT
from unet3d.inference import BundleLayout, find_bundles

BUNDLES = REPO_ROOT / "bundles"


def test_shipped_bundles_are_found_with_their_facts():
    found = find_bundles(BUNDLES)
    assert {"em", "hippocampus", "nuclei"} <= set(found)
    hippocampus = found["hippocampus"]
    assert hippocampus.spatial_dims == 3 and found["em"].spatial_dims == 2
    assert hippocampus.channel_def == {0: "background", 1: "anterior hippocampus", 2: "posterior hippocampus"}
    assert hippocampus.dicom_seg_codes[1]["type"][0] == "5366008"  # SNOMED hippocampus, as in the metadata
    assert (hippocampus.mask_dtype, found["nuclei"].mask_dtype) == ("uint8", "uint16")
    assert hippocampus.weights == BUNDLES / "hippocampus" / "models" / "model.pt"


def test_a_folder_without_the_layout_is_named(tmp_path):
    (tmp_path / "configs").mkdir()
    with pytest.raises(FileNotFoundError, match=r"inference\.yaml: not found; is .* a unet3d bundle"):
        BundleLayout(tmp_path)
    (tmp_path / "configs" / "inference.yaml").write_text("bundle_root: .\n")
    (tmp_path / "configs" / "metadata.json").write_text("{}")
    with pytest.raises(ValueError, match=r"inference\.yaml: no `device` id \(and dataset_dir, "):
        BundleLayout(tmp_path)  # the contract's ids (tests/inference/test_contract.py)
    shutil.copy(REPO_ROOT / "bundles/em/configs/inference.yaml", tmp_path / "configs" / "inference.yaml")
    with pytest.raises(FileNotFoundError, match=r"model\.pt: not found"):
        BundleLayout(tmp_path)
    assert BundleLayout(tmp_path, require_weights=False).channel_def == {}


@pytest.mark.parametrize("name", ["em", "hippocampus", "nuclei"])
def test_inference_configs_have_monai_standard_properties(name):
    """MONAI's own check of an inference bundle (InferProperties: dataset_dir, network_def, inferer,
    dataset, evaluator, ...; optional ones such as preprocessing under their standard ids)."""
    from monai.bundle import ConfigWorkflow

    layout = BundleLayout(BUNDLES / name)
    workflow = ConfigWorkflow(config_file=str(layout.inference_config), meta_file=str(layout.metadata_file),
                              logging_file=False, workflow_type="inference", bundle_root=str(layout.root))  # fmt: skip
    workflow.initialize()
    assert workflow.check_properties() == []
