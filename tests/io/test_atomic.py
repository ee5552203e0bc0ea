"""Tests for unet3d.io.atomic."""

from __future__ import annotations

import os

import pytest

from unet3d.io import atomic_write


def test_write_keeps_suffix_and_refuses_to_clobber(tmp_path):
    seen = []

    def write(tmp: str) -> None:
        seen.append(tmp)
        with open(tmp, "w") as f:
            f.write("one")

    out = atomic_write(tmp_path / "a.nii.gz", write)
    assert out.read_text() == "one" and seen[0].endswith(".nii.gz")
    with pytest.raises(FileExistsError, match=r"a\.nii\.gz: output exists"):
        atomic_write(out, write)
    atomic_write(out, lambda tmp: open(tmp, "w").write("two"), overwrite=True)
    assert out.read_text() == "two"


def test_failed_write_leaves_nothing(tmp_path):
    def broken(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.dcm", broken)
    assert os.listdir(tmp_path) == []
