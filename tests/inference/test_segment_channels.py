"""``unet3d segment`` with a multi-channel 3D bundle: one 4D file per case, or nnU-Net's channel files."""

from __future__ import annotations

import json
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import torch

from tests.conftest import REPO_ROOT
from unet3d.inference import BundleLayout, segment
from unet3d.io import InputError
from unet3d.plan import plan

CASES = (1, 3, 4)


@pytest.fixture(scope="module")
def two_channel_bundle(tmp_path_factory, data_dir):
    """A bundle planned from three hippocampus cases stored as nnU-Net's two channel files (T1 and
    its square root), with untrained weights: the test is about reading channels, not accuracy."""
    root = tmp_path_factory.mktemp("task") / "Dataset002"
    (root / "imagesTr").mkdir(parents=True)
    (root / "labelsTr").mkdir()
    for i in CASES:
        name = f"hippocampus_{i:03d}"
        image = nib.load(data_dir / f"msd_hippocampus/imagesTr/{name}.nii.gz")
        voxels = np.asarray(image.dataobj, dtype=np.float32)
        for channel, values in enumerate((voxels, np.sqrt(voxels))):
            nib.save(nib.Nifti1Image(values, image.affine), root / "imagesTr" / f"{name}_{channel:04d}.nii.gz")
        nib.save(nib.load(data_dir / f"msd_hippocampus/labelsTr/{name}.nii.gz"), root / "labelsTr" / f"{name}.nii.gz")
    info = {"channel_names": {"0": "T1", "1": "sqrt T1"}, "labels": {"background": 0, "anterior": 1, "posterior": 2}}
    (root / "dataset.json").write_text(json.dumps(info))
    bundle = plan(root, root.parent / "bundle", num_folds=3)
    torch.manual_seed(0)
    network = BundleLayout(bundle, require_weights=False).inference_parser().get_parsed_content("network_def")
    torch.save(network.state_dict(), bundle / "models/model.pt")
    return bundle, root


def four_d(files, path):
    """The channel files as one 4D NIfTI, channels last (the Decathlon's layout)."""
    first = nib.load(files[0])
    data = np.stack([np.asarray(nib.load(f).dataobj, np.float32) for f in files], axis=-1)
    nib.save(nib.Nifti1Image(data, first.affine), path)
    return path


@pytest.mark.slow
def test_channel_files_and_a_4d_file_give_the_bundles_own_mask(two_channel_bundle, tmp_path):
    bundle, root = two_channel_bundle
    images = root / "imagesTr"
    # a folder of channel files: one mask per case, named after the case
    written = segment([images], bundle, tmp_path / "files")
    assert [p.name for p in written] == [f"hippocampus_{i:03d}_seg.nii.gz" for i in CASES]
    files = [images / f"hippocampus_001_{c:04d}.nii.gz" for c in (0, 1)]
    (from_4d,) = segment([four_d(files, tmp_path / "hippocampus_001.nii.gz")], bundle, tmp_path / "4d")
    ours = np.asarray(nib.load(written[0]).dataobj)
    np.testing.assert_array_equal(np.asarray(nib.load(from_4d).dataobj), ours)
    # the same channels as the vector voxels of one NRRD file
    import SimpleITK as sitk

    vector = sitk.Compose(*[sitk.ReadImage(str(f), sitk.sitkFloat32) for f in files])
    sitk.WriteImage(vector, str(tmp_path / "hippocampus_001.nrrd"))
    (from_nrrd,) = segment([tmp_path / "hippocampus_001.nrrd"], bundle, tmp_path / "nrrd")
    np.testing.assert_array_equal(np.asarray(nib.load(from_nrrd).dataobj), ours)
    reference = nib.load(files[0])
    assert ours.shape == reference.shape and np.allclose(nib.load(written[0]).affine, reference.affine)
    # the bundle's own inference (its datalist groups the channel files) gives the same mask
    cmd = [sys.executable, "-m", "monai.bundle", "run", "--config_file", str(bundle / "configs/inference.yaml"),
           "--dataset_dir", str(images), "--output_dir", str(tmp_path / "bundle_run")]  # fmt: skip
    res = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    (theirs,) = (tmp_path / "bundle_run").rglob("hippocampus_001*_seg.nii.gz")
    np.testing.assert_array_equal(np.asarray(nib.load(theirs).dataobj), ours)
    # the channel order matters to the network: swapped channels give another mask
    (swapped,) = segment([four_d(files[::-1], tmp_path / "swapped.nii.gz")], bundle, tmp_path / "swapped")
    assert (np.asarray(nib.load(swapped).dataobj) != ours).mean() > 0.001


def test_wrong_channels_are_refused_naming_the_file(two_channel_bundle, tmp_path, data_dir):
    bundle, root = two_channel_bundle
    single = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    with pytest.raises(InputError, match=r"hippocampus_001\.nii\.gz: one channel; this bundle takes 2"):
        segment([single], bundle, tmp_path / "out")
    files = [root / "imagesTr" / f"hippocampus_001_{c:04d}.nii.gz" for c in (0, 1)]
    three = four_d([*files, files[0]], tmp_path / "three.nii.gz")
    with pytest.raises(InputError, match=r"three\.nii\.gz: shape \(\d+, \d+, \d+, 3\) has 3 channels; this bundle"):
        segment([three], bundle, tmp_path / "out")
    with pytest.raises(InputError, match=r"hippocampus_001: channel files 0000; this bundle takes 2 channels"):
        segment([files[0]], bundle, tmp_path / "out")
    # channels on different grids
    other = tmp_path / "grid"
    other.mkdir()
    first = nib.load(files[0])
    nib.save(first, other / "case_0000.nii.gz")
    nib.save(nib.Nifti1Image(np.asarray(first.dataobj)[:-2], first.affine), other / "case_0001.nii.gz")
    with pytest.raises(InputError, match=r"case_0001\.nii\.gz: shape .* differs from case_0000\.nii\.gz's"):
        segment([other], bundle, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
