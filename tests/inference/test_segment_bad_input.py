"""``unet3d segment`` against broken and unusual inputs: one table, one line per failure, no debris.

Each case builds its input from real files of ``../shared/data`` in a temporary folder, runs the
command line as a user does and checks the exit status, the first words of the error and the
files that must not exist afterwards.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO_ROOT

EM, HIPPO = REPO_ROOT / "bundles/em", REPO_ROOT / "bundles/hippocampus"


def cli(*args: str, bundle: Path = EM) -> subprocess.CompletedProcess:
    """``unet3d segment ARGS --bundle BUNDLE``, without test-time augmentation: these tests are
    about files and messages, and the EM bundle's 8 passes would only add time."""
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(bundle), "--no-tta"]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def slice_png(data: Path, tmp: Path, name: str = "slice.png") -> Path:
    return Path(shutil.copy(data / "isbi2012/train/images/slice_20.png", tmp / name))


def volume(data: Path, tmp: Path, name: str = "case.nii.gz") -> Path:
    return Path(shutil.copy(data / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz", tmp / name))


def truncated_png(data: Path, tmp: Path) -> list[str]:
    bad = tmp / "broken.png"
    bad.write_bytes((data / "isbi2012/train/images/slice_20.png").read_bytes()[:3000])
    return [str(bad), "--output-dir", str(tmp / "out")]


def rgb_png_for_gray_bundle(data: Path, tmp: Path) -> list[str]:
    Image.new("RGB", (64, 64)).save(tmp / "colour.png")
    return [str(tmp / "colour.png"), "--output-dir", str(tmp / "out")]


def empty_nifti(data: Path, tmp: Path) -> list[str]:
    (tmp / "empty.nii.gz").write_bytes(b"")
    return [str(tmp / "empty.nii.gz"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def nan_nifti(data: Path, tmp: Path) -> list[str]:
    src = nib.load(volume(data, tmp))
    array = np.asarray(src.dataobj, np.float32)
    array[3, 3, 3] = np.nan
    nib.save(nib.Nifti1Image(array, src.affine), tmp / "nan.nii.gz")
    return [str(tmp / "nan.nii.gz"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def nifti_of(array: np.ndarray, tmp: Path, name: str) -> list[str]:
    nib.save(nib.Nifti1Image(array, np.eye(4)), tmp / name)
    return [str(tmp / name), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def complex_nifti(data: Path, tmp: Path) -> list[str]:
    array = np.asarray(nib.load(volume(data, tmp)).dataobj, np.float32)
    return nifti_of(array + 1j * array, tmp, "complex.nii.gz")


def rgb_nifti(data: Path, tmp: Path) -> list[str]:
    return nifti_of(np.zeros((30, 40, 30), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")]), tmp, "rgb.nii.gz")


def nifti_without_voxels(data: Path, tmp: Path) -> list[str]:
    return nifti_of(np.zeros((30, 0, 30), np.float32), tmp, "novoxels.nii.gz")


def output_dir_is_a_file(data: Path, tmp: Path) -> list[str]:
    (tmp / "out").write_text("a file")
    return [str(slice_png(data, tmp)), "--output-dir", str(tmp / "out")]


def output_dir_below_a_file(data: Path, tmp: Path) -> list[str]:
    (tmp / "file").write_text("a file")
    return [str(slice_png(data, tmp)), "--output-dir", str(tmp / "file/out")]


def unsafe_checkpoint(data: Path, tmp: Path) -> list[str]:
    bundle = tmp / "em"
    shutil.copytree(EM, bundle, symlinks=True, ignore=shutil.ignore_patterns("runs", "eval"))
    torch.save({"model": Path("not a state dict")}, bundle / "models/model.pt")  # a pickled object
    return [str(slice_png(data, tmp)), "--output-dir", str(tmp / "out"), "--bundle", str(bundle)]


def dicom_with_a_missing_slice(data: Path, tmp: Path) -> list[str]:
    from unet3d.io import select_series

    shutil.copytree(data / "dicom/mr_hippocrop_study1", tmp / "series")
    os.remove(select_series(tmp / "series")[10].filename)
    return [str(tmp / "series"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def dicom_with_a_damaged_slice(data: Path, tmp: Path) -> list[str]:
    from unet3d.io import select_series

    shutil.copytree(data / "dicom/mr_hippocrop_study1", tmp / "series")
    Path(select_series(tmp / "series")[10].filename).write_bytes(b"garbage" * 100)
    return [str(tmp / "series"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def truncated_nifti(data: Path, tmp: Path) -> list[str]:
    src = nib.load(volume(data, tmp))
    nib.save(nib.Nifti1Image(np.asarray(src.dataobj), src.affine), tmp / "full.nii")
    whole = (tmp / "full.nii").read_bytes()
    (tmp / "cut.nii").write_bytes(whole[: len(whole) // 2])
    return [str(tmp / "cut.nii"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


def dicom_with_truncated_pixel_data(data: Path, tmp: Path) -> list[str]:
    from unet3d.io import select_series

    shutil.copytree(data / "dicom/mr_hippocrop_study1", tmp / "series")
    damaged = Path(select_series(tmp / "series")[10].filename)
    damaged.write_bytes(damaged.read_bytes()[:-2000])
    (tmp / "damaged").write_text(str(damaged))
    return [str(tmp / "series"), "--output-dir", str(tmp / "out"), "--bundle", str(HIPPO)]


# (case, expected exit status, first words of the last stderr line, paths that must not exist)
CASES: list[tuple[Callable[[Path, Path], list[str]], int, str, list[str]]] = [
    (truncated_png, 1, "error: {tmp}/broken.png: cannot read", ["out/broken_seg.png"]),
    (rgb_png_for_gray_bundle, 1, "error: {tmp}/colour.png: RGB image; this bundle takes", ["out/colour_seg.png"]),
    (empty_nifti, 1, "error: {tmp}/empty.nii.gz: cannot read", ["out/empty_seg.nii.gz"]),
    (nan_nifti, 1, "error: {tmp}/nan.nii.gz: image contains NaN", ["out/nan_seg.nii.gz"]),
    (complex_nifti, 1, "error: {tmp}/complex.nii.gz: complex voxels (complex64)", ["out/complex_seg.nii.gz"]),
    (rgb_nifti, 1, "error: {tmp}/rgb.nii.gz: RGB voxels", ["out/rgb_seg.nii.gz"]),
    (nifti_without_voxels, 1, "error: {tmp}/novoxels.nii.gz: empty image (no voxels)", ["out/novoxels_seg.nii.gz"]),
    (output_dir_is_a_file, 1, "error: {tmp}/out: output folder is an existing file", []),
    (output_dir_below_a_file, 1, "error: {tmp}/file/out: cannot create the output folder", ["file/out"]),
    (dicom_with_a_missing_slice, 1, "error: {tmp}/series: slices are not evenly spaced", ["out/series_seg.dcm"]),
    (dicom_with_a_damaged_slice, 1, "error: {tmp}/series/", ["out/series_seg.dcm"]),
    (truncated_nifti, 1, "error: {tmp}/cut.nii: cannot read (file truncated: ", ["out/cut_seg.nii.gz"]),
    (dicom_with_truncated_pixel_data, 1, "error: {damaged}: pixel data truncated", ["out/series_seg.dcm"]),
    (unsafe_checkpoint, 1, "error: {tmp}/em/models/model.pt: cannot load the weights", ["out/slice_seg.png"]),
]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case, status, words, absent", CASES, ids=[c[0].__name__ for c in CASES])
def test_bad_input_table(data_dir, tmp_path, case, status, words, absent):
    args = case(data_dir, tmp_path)
    bundle = Path(args.pop(args.index("--bundle") + 1)) if "--bundle" in args else EM
    if "--bundle" in args:
        args.remove("--bundle")
    res = cli(*args, bundle=bundle)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == status, res.stderr[-2000:]
    damaged = (tmp_path / "damaged").read_text() if (tmp_path / "damaged").exists() else ""
    assert len(lines) == 1 and lines[0].startswith(words.format(tmp=tmp_path, damaged=damaged)), res.stderr[-2000:]
    assert "Traceback" not in res.stderr and "Warning" not in res.stderr
    for rel in absent:
        assert not (tmp_path / rel).exists(), rel


@pytest.mark.slow
def test_a_bad_file_in_a_folder_does_not_stop_the_others(data_dir, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    slice_png(data_dir, folder, "a.png")
    (folder / "b.png").write_bytes(b"not a png")
    slice_png(data_dir, folder, "c.png")
    slice_png(data_dir, folder, ".hidden.png")  # hidden files are never inputs
    (folder / ".a_seg.png.999999.x1.part.png").write_bytes(b"left by a killed run")
    res = cli(str(folder), "--output-dir", str(tmp_path / "out"))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0].startswith(f"error: {folder}/b.png: cannot read") and len(lines) == 2, res.stderr
    assert lines[1].startswith("1 of 3 inputs failed")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_seg.png", "c_seg.png"]
    for name in ("a_seg.png", "c_seg.png"):
        assert np.array(Image.open(tmp_path / "out" / name)).shape == (512, 512)


@pytest.mark.slow
def test_output_modes_and_stale_temporary_files(data_dir, tmp_path):
    image = slice_png(data_dir, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".slice_seg.png.999999.abc123.part.png"  # a killed run's temporary file (pid gone)
    stale.write_bytes(b"half")
    old = os.umask(0o022)
    try:
        assert cli(str(image), "--output-dir", str(out)).returncode == 0
        mask = out / "slice_seg.png"
        assert stat.S_IMODE(mask.stat().st_mode) == 0o644 and not stale.exists()
        mask.chmod(0o640)
        assert cli(str(image), "--output-dir", str(out), "--overwrite").returncode == 0
        assert stat.S_IMODE(mask.stat().st_mode) == 0o640  # an overwritten file keeps its mode
    finally:
        os.umask(old)


@pytest.mark.slow
def test_mask_keeps_disagreeing_qform_and_sform(data_dir, tmp_path):
    src = nib.load(volume(data_dir, tmp_path))
    image = nib.Nifti1Image(np.asarray(src.dataobj), src.affine)
    shifted = src.affine.copy()
    shifted[:3, 3] += [23.0, 0.0, 0.0]
    image.set_qform(src.affine, code=1)
    image.set_sform(shifted, code=2)
    nib.save(image, tmp_path / "both.nii.gz")
    res = cli(str(tmp_path / "both.nii.gz"), "--output-dir", str(tmp_path / "out"), bundle=HIPPO)
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr[-2000:]
    mask = nib.load(tmp_path / "out/both_seg.nii.gz")
    np.testing.assert_allclose(mask.header.get_qform(), src.affine, atol=1e-5)
    np.testing.assert_allclose(mask.header.get_sform(), shifted, atol=1e-5)
    assert int(mask.header["qform_code"]) == 1 and int(mask.header["sform_code"]) == 2


@pytest.mark.slow
def test_full_disk_and_read_only_output_folder(data_dir, tmp_path, private_mounts):
    image, mnt = slice_png(data_dir, tmp_path), tmp_path / "mnt"
    mnt.mkdir()
    segment = f"{sys.executable} -m unet3d.cli segment {image} --bundle {EM} --output-dir {mnt}/out"
    res = private_mounts(
        f"mount -t tmpfs -o size=128k tmpfs {mnt} && mkdir {mnt}/out && (dd if=/dev/zero of={mnt}/fill bs=4k || true) "
        f"2>/dev/null && {segment}; echo status $? >&2; ls -A {mnt}/out >&2; rm {mnt}/fill; "
        f"mount -o remount,ro {mnt} && {segment}; echo status $? >&2"
    )
    lines = res.stderr.strip().splitlines()
    full, left, read_only = lines[0], lines[2:-2], lines[-2]
    assert full.startswith(f"error: {mnt}/out/slice_seg.png: No space left on device"), res.stderr
    assert lines[1] == "status 1" and left == [], res.stderr  # no mask, no temporary file left
    assert read_only.startswith(f"error: {mnt}/out: output folder is not writable") and lines[-1] == "status 1"
