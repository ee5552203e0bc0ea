"""Enhanced multi-frame DICOM and compressed series, built from the real series of ``../shared/data``.

The enhanced objects are made by highdicom's legacy converter from the shared MR series (frames
shuffled, as nothing obliges a writer to store them in order); a correct reader gives exactly
the volume and geometry of the classic series.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
from pathlib import Path

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from highdicom.legacy import LegacyConvertedEnhancedMRImage
from pydicom.uid import RLELossless

from tests.conftest import REPO_ROOT
from unet3d.io import read_volume
from unet3d.io.dicom import UnevenSpacingError
from unet3d.io.enhanced import is_multiframe

SERIES = "dicom/mr_hippocrop_study1/13_HCropVolume"
HIPPO = REPO_ROOT / "bundles/hippocampus"


def enhanced(data_dir: Path, path: Path, drop: int | None = None) -> Path:
    slices = [pydicom.dcmread(f) for f in sorted((data_dir / SERIES).iterdir())]
    slices.sort(key=lambda ds: float(ds.ImagePositionPatient[2]))
    if drop is not None:
        del slices[drop]
    random.Random(0).shuffle(slices)
    LegacyConvertedEnhancedMRImage(slices, hd.UID(), 99, hd.UID(), 1).save_as(path)
    return path


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(HIPPO)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


def seg_volume(path: Path) -> hd.Volume:
    return hd.seg.segread(str(path)).get_volume(combine_segments=True, skip_overlap_checks=True)


def test_enhanced_object_reads_as_its_series(data_dir, tmp_path):
    path = enhanced(data_dir, tmp_path / "mr.dcm")
    assert is_multiframe(pydicom.dcmread(path, stop_before_pixels=True))
    multi, classic = read_volume(path), read_volume(data_dir / SERIES)
    assert np.array_equal(np.asarray(multi.image), np.asarray(classic.image))
    assert np.allclose(np.asarray(multi.image.affine), np.asarray(classic.image.affine))
    assert sorted(multi.frame_order or []) == list(range(multi.image.shape[-1]))
    folder = tmp_path / "folder"
    folder.mkdir()
    shutil.copy(path, folder / "IM0001")  # no suffix, as archives name files
    assert np.array_equal(np.asarray(read_volume(folder).image), np.asarray(classic.image))


def test_enhanced_object_with_a_missing_frame_names_the_frames(data_dir, tmp_path):
    path = enhanced(data_dir, tmp_path / "gap.dcm", drop=12)
    with pytest.raises(
        UnevenSpacingError, match=r"gap\.dcm: frames are not evenly spaced: 2\.00 mm .*\(frame \d+ and frame \d+\)"
    ):
        read_volume(path)


@pytest.mark.slow
def test_enhanced_object_segmented_with_seg_on_its_frames_and_nifti_on_request(data_dir, tmp_path):
    path = enhanced(data_dir, tmp_path / "mr.dcm")
    res = cli(str(path), str(data_dir / SERIES), "--output-dir", str(tmp_path / "seg"))
    assert res.returncode == 0, res.stderr[-2000:]
    multi, classic = seg_volume(tmp_path / "seg/mr_seg.dcm"), seg_volume(tmp_path / "seg/13_HCropVolume_seg.dcm")
    assert np.allclose(multi.affine, classic.affine) and np.array_equal(multi.array, classic.array)
    assert multi.array.sum() > 1000  # a hippocampus, not an empty mask
    seg = pydicom.dcmread(tmp_path / "seg/mr_seg.dcm")
    source = pydicom.dcmread(path, stop_before_pixels=True)
    frames = int(source.NumberOfFrames)
    for i, group in enumerate(seg.PerFrameFunctionalGroupsSequence[:frames]):
        ref = group.DerivationImageSequence[0].SourceImageSequence[0]
        assert ref.ReferencedSOPInstanceUID == source.SOPInstanceUID and int(ref.ReferencedFrameNumber) == i + 1
    res = cli(str(path), str(data_dir / SERIES), "--output-dir", str(tmp_path / "nii"), "--format", "nifti")
    assert res.returncode == 0, res.stderr[-2000:]
    a, b = nib.load(tmp_path / "nii/mr_seg.nii.gz"), nib.load(tmp_path / "nii/13_HCropVolume_seg.nii.gz")
    assert np.allclose(a.affine, b.affine) and np.array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))


@pytest.mark.slow
def test_compressed_series_segment_as_uncompressed(data_dir, tmp_path):
    """RLE (pydicom encodes it) gives the same mask; the shared CT series is JPEG 2000 lossless
    as released and reads as its decompressed copy."""
    rle = tmp_path / "rle"
    rle.mkdir()
    for f in (data_dir / SERIES).iterdir():
        ds = pydicom.dcmread(f)
        ds.compress(RLELossless)
        ds.save_as(rle / f.name)
    assert pydicom.dcmread(next(rle.iterdir())).file_meta.TransferSyntaxUID == RLELossless
    res = cli(str(rle), str(data_dir / SERIES), "--output-dir", str(tmp_path / "out"), "--format", "nifti")
    assert res.returncode == 0, res.stderr[-2000:]
    a, b = nib.load(tmp_path / "out/rle_seg.nii.gz"), nib.load(tmp_path / "out/13_HCropVolume_seg.nii.gz")
    assert np.array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj)) and np.asarray(a.dataobj).any()
    ct = data_dir / "dicom/ct_abdomen_series"
    plain = tmp_path / "ct_plain"
    plain.mkdir()
    for f in ct.iterdir():
        ds = pydicom.dcmread(f)
        assert ds.file_meta.TransferSyntaxUID.is_compressed
        ds.decompress()
        ds.save_as(plain / f.name)
    assert np.array_equal(np.asarray(read_volume(ct).image), np.asarray(read_volume(plain).image))
