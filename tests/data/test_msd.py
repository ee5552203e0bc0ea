"""Tests for unet3d.data.msd: the MSD datalist and its cross-validation folds."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from unet3d.data import DatasetError, msd_datalist, split_of
from unet3d.data.msd import dataset_info, find_pairs


@pytest.fixture
def task(tmp_path):
    """An MSD-layout folder of 13 tiny cases (imagesTr/ + labelsTr/, no dataset.json)."""
    for folder in ("imagesTr", "labelsTr"):
        (tmp_path / folder).mkdir()
    for i in range(13):
        for folder in ("imagesTr", "labelsTr"):
            nib.save(
                nib.Nifti1Image(np.zeros((4, 5, 6), np.float32), np.eye(4)), tmp_path / folder / f"case_{i:03d}.nii.gz"
            )
    return tmp_path


def test_folds_are_deterministic_disjoint_and_cover_every_case_once(task):
    folds = [msd_datalist(task, num_folds=5, fold=k) for k in range(5)]
    validation = [[e["image"] for e in f["validation"]] for f in folds]
    every = sorted(str(p) for p in (task / "imagesTr").iterdir())
    assert sorted(case for fold in validation for case in fold) == every  # each case in exactly one validation fold
    for k, f in enumerate(folds):
        assert sorted(e["image"] for e in f["training"] + f["validation"]) == every
        assert not {e["image"] for e in f["training"]} & set(validation[k])
        assert f == msd_datalist(task, num_folds=5, fold=k)  # the same folds on every run (resume)
    assert [len(v) for v in validation] == [3, 3, 3, 2, 2]
    assert validation[0] == every[::5]  # fold 0 of 5: the shipped model's split


def test_bad_fold_is_named(task):
    with pytest.raises(DatasetError, match="fold 5 of 5"):
        msd_datalist(task, num_folds=5, fold=5)


def test_test_fold_is_held_out_of_training_and_validation(task):
    every = sorted(str(p) for p in (task / "imagesTr").iterdir())
    test = every[::5]  # fold 0
    for k in range(1, 5):
        split = msd_datalist(task, num_folds=5, fold=k, test_fold=0)
        assert [e["image"] for e in split["test"]] == test
        assert [e["image"] for e in split["validation"]] == every[k::5]
        training = {e["image"] for e in split["training"]}
        assert not training & set(test) and not training & set(every[k::5])
        assert sorted(training | set(test) | set(every[k::5])) == every


@pytest.mark.parametrize("fold, test_fold", [(0, 0), (1, 5), (1, -1)])
def test_bad_test_fold_is_named(task, fold, test_fold):
    with pytest.raises(DatasetError, match=f"test fold {test_fold} of 5"):
        msd_datalist(task, num_folds=5, fold=fold, test_fold=test_fold)


def test_split_of_names_the_missing_split(task):
    split = msd_datalist(task, num_folds=5, fold=1, test_fold=0)
    assert split_of(split, "test") == split["test"]
    with pytest.raises(DatasetError, match=r"no 'test' split.*--test_fold"):
        split_of(msd_datalist(task), "test")


def _nifti(path, shape=(4, 5, 6)):
    nib.save(nib.Nifti1Image(np.zeros(shape, np.float32), np.eye(4)), path)


def test_nnunet_channel_files_pair_with_one_label(tmp_path):
    """nnU-Net v2's layout: case_0000 / case_0001 are two channels of the label ``case``."""
    for folder in ("imagesTr", "labelsTr"):
        (tmp_path / folder).mkdir()
    for case in ("a", "b"):
        for channel in (0, 1):
            _nifti(tmp_path / "imagesTr" / f"{case}_{channel:04d}.nii.gz")
        _nifti(tmp_path / "labelsTr" / f"{case}.nii.gz")
    (tmp_path / "dataset.json").write_text('{"channel_names": {"0": "T1", "1": "T2"}, "labels": {"background": 0}}')
    pairs = find_pairs(tmp_path)
    assert [len(image) for image, _ in pairs] == [2, 2] and pairs[0][1].name == "a.nii.gz"
    assert dataset_info(tmp_path)["modality"] == {0: "T1", 1: "T2"}
    datalist = msd_datalist(tmp_path, num_folds=2)
    assert datalist["validation"][0]["image"][1].endswith("a_0001.nii.gz")


def test_flat_image_label_files_and_2d_folders(tmp_path, data_dir):
    flat = tmp_path / "flat"
    flat.mkdir()
    for case in ("one", "two"):
        _nifti(flat / f"{case}_image.nii.gz")
        _nifti(flat / f"{case}_label.nii.gz")
    assert [p[1].name for p in find_pairs(flat)] == ["one_label.nii.gz", "two_label.nii.gz"]
    (flat / "three_image.nii.gz").write_bytes(b"")
    with pytest.raises(DatasetError, match=r"three_image\.nii\.gz: image without a label"):
        find_pairs(flat)
    assert len(find_pairs(data_dir / "isbi2012/train")) == len(list((data_dir / "isbi2012/train/images").iterdir()))
    with pytest.raises(DatasetError, match="no image/label pairs found"):
        find_pairs(tmp_path / "flat" / "..")
