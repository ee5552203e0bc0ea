"""Tests for unet3d.io.channel_files: nnU-Net's channel files grouped into cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from unet3d.io import InputError
from unet3d.io.channel_files import case_name, channel_cases, channel_of


def test_channel_files_group_by_folder_and_case():
    paths = [Path(p) for p in ("a/x_0001.nii.gz", "a/x_0000.nii.gz", "b/x_0000.nrrd", "a/four_d.nii.gz",
                               "b/x_0001.nrrd")]  # fmt: skip
    cases = channel_cases(paths, 2)
    assert cases == [[Path("a/x_0000.nii.gz"), Path("a/x_0001.nii.gz")], [Path("b/x_0000.nrrd"), Path("b/x_0001.nrrd")],
                     [Path("a/four_d.nii.gz")]]  # fmt: skip
    assert [case_name(c).as_posix() for c in cases] == ["a/x.nii.gz", "b/x.nrrd", "a/four_d.nii.gz"]
    assert channel_cases(paths, 1) == [[p] for p in paths]  # one channel: every file is a case
    assert channel_of("liver_12_0003.mha") == ("liver_12", 3) and channel_of("liver_12.mha") is None


def test_a_missing_or_extra_channel_names_the_case():
    with pytest.raises(
        InputError, match=r"a/x: channel files 0000, 0002; this bundle takes 2 channels, x_0000 ... x_0001"
    ):
        channel_cases([Path("a/x_0000.nii.gz"), Path("a/x_0002.nii.gz")], 2)
