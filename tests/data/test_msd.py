"""Tests for unet3d.data.msd: the MSD datalist and its cross-validation folds."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from unet3d.data import DatasetError, msd_datalist


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
