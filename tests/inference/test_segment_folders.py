"""``unet3d segment`` on folders as labs and scanners leave them, and a run stopped with Ctrl-C.

Inputs are real files of ``../shared/data`` copied into temporary folders; the command line runs
as a user runs it.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.io.atomic import is_partial

EM, HIPPO = REPO_ROOT / "bundles/em", REPO_ROOT / "bundles/hippocampus"
SERIES = "dicom/mr_hippocrop_study1/13_HCropVolume"


def cli(*args: str, bundle: Path) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(bundle)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=600)


@pytest.mark.slow
def test_folder_with_a_dicom_series_and_other_images_segments_both(data_dir, tmp_path):
    import SimpleITK as sitk

    folder = Path(shutil.copytree(data_dir / SERIES, tmp_path / "series"))
    volume = sitk.ReadImage(str(data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"))
    sitk.WriteImage(volume, str(folder / "extra.nrrd"))
    (folder / "notes.txt").write_text("scanner notes")
    res = cli(str(folder), "--output-dir", str(tmp_path / "out"), bundle=HIPPO)
    assert res.returncode == 0, res.stderr[-2000:]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["extra_seg.nii.gz", "series_seg.dcm"]
    assert res.stderr.strip() == f"note: {folder}: skipped 1 file(s) that are not DICOM: notes.txt"
    assert "segmented 2 input(s)" in res.stdout


@pytest.mark.slow
def test_folder_of_images_says_what_it_skipped(data_dir, tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    shutil.copy(data_dir / "isbi2012/train/images/slice_20.png", folder / "a.png")
    (folder / "plate_map.csv").write_text("well,compound\n")
    res = cli(str(folder), "--output-dir", str(tmp_path / "out"), "--no-tta", bundle=EM)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stderr.strip() == f"note: {folder}: skipped 1 file(s) that are not images: plate_map.csv"
    assert (tmp_path / "out/a_seg.png").is_file()


@pytest.mark.slow
def test_localizer_in_the_series_is_named_with_what_is_odd(data_dir, tmp_path):
    folder = Path(shutil.copytree(data_dir / SERIES, tmp_path / "series"))
    uid = pydicom.dcmread(next(folder.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    scout = pydicom.dcmread(sorted((data_dir / "dicom/mr_brain_and_hippocrop_study3/11-T1post-18670").iterdir())[0])
    scout.SeriesInstanceUID = uid  # saved into the series, as scanners do with a localizer
    scout.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]
    scout.save_as(folder / "scout.dcm")
    res = cli(str(folder), "--output-dir", str(tmp_path / "out"), bundle=HIPPO)
    assert res.returncode == 1
    line = res.stderr.strip()
    assert "\n" not in line and line.startswith(f"error: {folder / 'scout.dcm'}: orientation ")
    assert "size 320x280 where the other slices are 51x35" in line and "a localizer?" in line
    assert not (tmp_path / "out/series_seg.dcm").exists()


@pytest.mark.slow
def test_ctrl_c_ends_with_one_line_and_keeps_finished_outputs(data_dir, tmp_path):
    folder = tmp_path / "slices"
    folder.mkdir()
    for n in range(6):
        shutil.copy(data_dir / f"isbi2012/train/images/slice_{n:02d}.png", folder / f"s{n}.png")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", str(folder), "--bundle", str(EM), "--output-dir", str(out)]
    # SIGINT as a terminal delivers it, even when this test runs in a background job (which
    # starts with SIGINT ignored, and Python then installs no KeyboardInterrupt handler)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    deadline = time.monotonic() + 300
    while not (out / "s0_seg.png").exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert (out / "s0_seg.png").exists(), "the first output never came"
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    line = rf"interrupted: (\d) of 6 inputs done \(outputs kept in {re.escape(str(out))}\)"
    match = re.fullmatch(line, stderr.strip())
    assert match, stderr[-2000:]
    done = sorted(out.iterdir())
    assert len(done) == int(match.group(1)) and not any(is_partial(p) for p in done)
    for mask in done:  # every output left is complete
        assert np.asarray(Image.open(mask)).shape == (512, 512)
