"""Tests for unet3d.plan.writer: the bundle for a two-channel data set in nnU-Net's layout."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import yaml

from unet3d.inference import BundleLayout
from unet3d.plan import plan


@pytest.fixture
def two_channel_task(tmp_path, data_dir):
    """Three hippocampus cases as nnU-Net v2 stores two channels: case_0000, case_0001 + case."""
    root = tmp_path / "Dataset001"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for i in (1, 3, 4):
        name = f"hippocampus_{i:03d}"
        image = nib.load(data_dir / f"msd_hippocampus/imagesTr/{name}.nii.gz")
        voxels = np.asarray(image.dataobj, dtype=np.float32)
        for channel, values in enumerate((voxels, np.sqrt(voxels))):
            nib.save(nib.Nifti1Image(values, image.affine), root / "imagesTr" / f"{name}_{channel:04d}.nii.gz")
        label = nib.load(data_dir / f"msd_hippocampus/labelsTr/{name}.nii.gz")
        nib.save(label, root / "labelsTr" / f"{name}.nii.gz")
    info = {"channel_names": {"0": "T1", "1": "sqrt T1"}, "labels": {"background": 0, "anterior": 1, "posterior": 2}}
    (root / "dataset.json").write_text(json.dumps(info))
    return root


def test_two_channels_and_named_labels_reach_the_bundle(two_channel_task, tmp_path):
    bundle = plan(two_channel_task, tmp_path / "bundle", num_folds=3)
    layout = BundleLayout(bundle, require_weights=False)  # the contract holds
    assert layout.channel_def == {0: "background", 1: "anterior", 2: "posterior"}
    assert layout.input_spec["channel_def"] == {"0": "T1", "1": "sqrt T1"} and layout.spatial_dims == 3
    parser = layout.inference_parser()
    assert parser.get_parsed_content("network_def").in_channels == 2
    images = [e["image"] for e in parser.get_parsed_content("datalist")]
    assert len(images) == 3 and all(len(i) == 2 and i[0].endswith("_0000.nii.gz") for i in images)
    train = yaml.safe_load((bundle / "configs/train.yaml").read_text())
    assert train["num_folds"] == 3 and train["publish_model"] is True
    plans = json.loads((bundle / "plans/plans.json").read_text())
    assert plans["channel_files"] and plans["label_names"] == ["background", "anterior", "posterior"]
    with pytest.raises(FileExistsError):
        plan(two_channel_task, bundle)  # never over an existing folder without overwrite
    assert not [p for p in bundle.parent.iterdir() if p.name.startswith(".bundle")]  # no temporary folder left


def test_instance_id_labels_train_the_foreground(tmp_path, data_dir):
    """Nuclei masks with one id per nucleus (DSB2018) are not 100 classes: the planned bundle
    learns background/foreground (label > 0) and its docs say why."""
    from PIL import Image

    root = tmp_path / "nuclei"
    for folder in ("images", "labels"):
        (root / folder).mkdir(parents=True)
    cases = sorted(p for p in (data_dir / "dsb2018_nuclei").iterdir() if (p / "mask_instances_derived.png").is_file())
    for case in cases[:4]:
        Image.open(case / "images" / f"{case.name}.png").convert("L").save(root / "images" / f"{case.name}.png")
        Image.open(case / "mask_instances_derived.png").save(root / "labels" / f"{case.name}.png")
    bundle = plan(root, tmp_path / "bundle", num_folds=2)
    plans = json.loads((bundle / "plans/plans.json").read_text())
    assert plans["foreground_labels"] and plans["label_names"] == ["background", "foreground"]
    assert any("one id per object" in r for r in plans["reasons"])
    train = yaml.safe_load((bundle / "configs/train.yaml").read_text())
    steps = [t["_target_"] for t in train["load_transforms"]]
    assert steps[-1] == "AsDiscreted" and "MapLabelValued" not in steps


def test_ct_normalisation_is_the_clip_then_the_data_set_z_score(tmp_path, data_dir):
    """``--modality CT``: one linear map whose ends are the foreground's 0.5/99.5 percentiles and
    their z-scores with the foreground's mean and standard deviation (rendered, and built by MONAI)."""
    import shutil

    root = tmp_path / "task"
    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir(parents=True)
        for i in (1, 3, 4):
            shutil.copy(data_dir / "msd_hippocampus" / folder / f"hippocampus_{i:03d}.nii.gz", root / folder)
    bundle = plan(root, tmp_path / "bundle", modality={0: "CT"}, num_folds=3)
    stats = json.loads((bundle / "plans/fingerprint.json").read_text())["intensity"][0]
    parser = BundleLayout(bundle, require_weights=False).inference_parser()
    scale = parser.get_parsed_content("prepare").transforms[-1]
    assert type(scale).__name__ == "ScaleIntensityRanged" and scale.scaler.clip
    assert (scale.scaler.a_min, scale.scaler.a_max) == pytest.approx((stats["p00_5"], stats["p99_5"]))
    assert scale.scaler.b_min == pytest.approx((stats["p00_5"] - stats["mean"]) / stats["std"])
    assert scale.scaler.b_max == pytest.approx((stats["p99_5"] - stats["mean"]) / stats["std"])


def test_thick_slices_get_per_axis_pooling_and_in_plane_kernels(tmp_path, data_dir):
    """The shared anisotropic MR cases (thick slices): the bundle's network pools and convolves the
    slice axis only where its spacing has come within twice the in-plane one, and runs on the patch."""
    import torch
    from monai.bundle import ConfigParser

    bundle = plan(data_dir / "nrrd", tmp_path / "bundle", num_folds=2)
    plans = json.loads((bundle / "plans/plans.json").read_text())
    spacing = plans["target_spacing"]
    assert max(spacing) > 2 * min(spacing)
    kernels, strides = plans["kernel_sizes"], plans["strides"]
    assert len(kernels) == len(strides) + 1 and kernels[0] != [3, 3, 3] and kernels[-1] == [3, 3, 3]
    thick = spacing.index(max(spacing))
    assert kernels[0][thick] == 1 and strides[0][thick] == 1
    assert any("convolution kernels" in r for r in plans["reasons"])
    parser = ConfigParser()
    parser.read_config(str(bundle / "configs/inference.yaml"))
    parser["bundle_root"], parser["device"] = str(bundle), "cpu"
    net = parser.get_parsed_content("network_def")
    assert net.kernel_sizes == kernels and net.strides == strides
    with torch.no_grad():
        out = net.eval()(torch.zeros(1, plans["channels"], *plans["patch_size"]))
    assert out.shape[2:] == tuple(plans["patch_size"])
