"""Tests for unet3d.plan.fingerprint: what plan measures of real cases, and the bad cases it lists."""

from __future__ import annotations

import json
import shutil

import nibabel as nib
import numpy as np
import pytest

from unet3d.plan import PlanError, fingerprint


def test_anisotropic_nrrd_cases(data_dir):
    """The shared NRRD MR cases (``<case>_image`` + ``<case>_label``), read as the bundle will."""
    fp = fingerprint(data_dir / "nrrd")
    assert fp.spatial_dims == 3 and fp.channels == 1 and len(fp.cases) == 3
    brain = next(c for c in fp.cases if "brain1" in str(c.image))
    assert brain.shape == [256, 256, 25] and brain.spacing == pytest.approx([0.78125, 0.78125, 6.5])
    assert set(brain.label_voxels) == {0, 1} and brain.objects[1]  # the tumour: connected components
    assert len(brain.orientation) == 3 and set(brain.orientation) <= set("LRAPSI")
    assert fp.label_names == {0: "background", 1: "label_1"} and not fp.is_ct
    stats = fp.intensity[0]
    assert stats["p00_5"] <= stats["p50"] <= stats["p99_5"] and stats["std"] > 0


def test_2d_images_with_0_255_labels(data_dir):
    fp = fingerprint(data_dir / "isbi2012/train")
    assert fp.spatial_dims == 2 and fp.cases[0].shape == [512, 512] and fp.cases[0].spacing == [1.0, 1.0]
    assert fp.label_values == [0, 255]  # mapped to classes 0, 1 by the planned bundle


def _task(root, data_dir, n=3):
    for folder in ("imagesTr", "labelsTr"):
        (root / folder).mkdir(parents=True)
    for i in (1, 3, 4)[:n]:
        name = f"hippocampus_{i:03d}.nii.gz"
        shutil.copy(data_dir / "msd_hippocampus/imagesTr" / name, root / "imagesTr" / name)
        shutil.copy(data_dir / "msd_hippocampus/labelsTr" / name, root / "labelsTr" / name)
    return root


def test_dataset_json_names_labels_and_modality(data_dir, tmp_path):
    root = _task(tmp_path / "task", data_dir)
    (root / "dataset.json").write_text(json.dumps({"labels": {"background": 0, "anterior": 1, "posterior": 2},
                                                   "channel_names": {"0": "CT"}}))  # fmt: skip
    fp = fingerprint(root)
    assert fp.label_names == {0: "background", 1: "anterior", 2: "posterior"} and fp.is_ct
    assert fingerprint(root, modality={0: "MRI"}).is_ct is False  # --modality wins


def test_bad_cases_are_listed_one_line_each(data_dir, tmp_path):
    root = _task(tmp_path / "task", data_dir)
    bad_label = root / "labelsTr/hippocampus_003.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), np.uint8), np.eye(4)), bad_label)  # wrong size
    (root / "imagesTr/hippocampus_004.nii.gz").write_bytes(b"not a volume")
    (root / "dataset.json").write_text(json.dumps({"labels": {"0": "background", "1": "anterior"}}))
    with pytest.raises(PlanError) as err:
        fingerprint(root)
    lines = err.value.lines
    assert len(lines) == 3, lines
    assert any("hippocampus_003" in line and "differs from its image's" in line for line in lines)
    assert any("hippocampus_004" in line and "cannot read" in line for line in lines)
    assert any("hippocampus_001" in line and "label values [2]" in line for line in lines)  # undeclared


def test_data_sets_a_bundle_cannot_learn_from_are_refused(data_dir, tmp_path):
    """One case (nothing left to validate), labels that are background only, negative label values."""
    from unet3d.data import DatasetError

    with pytest.raises(DatasetError, match=r"1 case .*at least 2"):
        fingerprint(_task(tmp_path / "one", data_dir, n=1))
    root = _task(tmp_path / "empty", data_dir, n=2)
    for label in (root / "labelsTr").iterdir():
        image = nib.load(label)
        nib.save(nib.Nifti1Image(np.zeros(image.shape, np.uint8), image.affine), label)
    with pytest.raises(DatasetError, match="background \\(0\\) only"):
        fingerprint(root)
    root = _task(tmp_path / "negative", data_dir, n=2)
    label = root / "labelsTr/hippocampus_003.nii.gz"
    image = nib.load(label)
    nib.save(nib.Nifti1Image(-np.asarray(image.dataobj, np.int16), image.affine), label)
    with pytest.raises(PlanError) as err:
        fingerprint(root)
    assert len(err.value.lines) == 1 and "hippocampus_003" in err.value.lines[0] and "negative" in err.value.lines[0]


def test_a_label_off_its_image_grid_is_refused_and_another_orientation_is_not(data_dir, tmp_path):
    root = _task(tmp_path / "task", data_dir, n=3)
    shifted = root / "labelsTr/hippocampus_003.nii.gz"
    image = nib.load(shifted)
    affine = image.affine.copy()
    affine[:3, 3] += 2 * affine[:3, 0]  # two voxels along the first axis
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), affine), shifted)
    # the same grid stored flipped along the first axis: the same voxels in space, accepted
    flipped = root / "labelsTr/hippocampus_004.nii.gz"
    image = nib.load(flipped)
    data = np.asarray(image.dataobj)
    flip = np.diag([-1.0, 1.0, 1.0, 1.0])
    flip[0, 3] = data.shape[0] - 1
    nib.save(nib.Nifti1Image(data[::-1].copy(), image.affine @ flip), flipped)
    with pytest.raises(PlanError) as err:
        fingerprint(root)
    assert len(err.value.lines) == 1 and "hippocampus_003" in err.value.lines[0], err.value.lines
    assert "voxel grid" in err.value.lines[0]
