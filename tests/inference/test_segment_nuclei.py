"""``unet3d segment`` with the shipped nuclei bundle: instance ids, any microscope, bad 2D input."""

from __future__ import annotations

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.inference import segment
from unet3d.metrics import instance_scores

BUNDLE = REPO_ROOT / "bundles/nuclei"
# validation-split DSB2018 images (never trained on): fluorescence, 520x696, many touching nuclei
TOUCHING = "6fe2df6de1d962b90146c822bcefc84d0d3d6926fdfbacd3acdc9de830ee5622"


def dsb(data_dir, prefix: str):
    (case,) = [p for p in (data_dir / "dsb2018_nuclei").iterdir() if p.name.startswith(prefix)]
    return case / "images" / f"{case.name}.png", case / "mask_instances_derived.png"


def cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", *args, "--bundle", str(BUNDLE)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


@pytest.mark.slow
def test_touching_nuclei_come_out_as_separate_ids(data_dir, tmp_path):
    image, truth_path = dsb(data_dir, TOUCHING[:12])
    (out,) = segment([image], BUNDLE, tmp_path)
    ids = np.array(Image.open(out)).astype(np.int64)
    truth = np.array(Image.open(truth_path)).astype(np.int64)
    assert Image.open(out).mode.startswith("I;16") and ids.shape == truth.shape
    # pairs of true nuclei that touch (8-neighbourhood)
    pairs = set()
    for a, b in ((truth[:, :-1], truth[:, 1:]), (truth[:-1, :], truth[1:, :]), (truth[:-1, :-1], truth[1:, 1:])):
        k = (a > 0) & (b > 0) & (a != b)
        pairs |= set(zip(np.minimum(a[k], b[k]).tolist(), np.maximum(a[k], b[k]).tolist(), strict=True))
    assert len(pairs) >= 20

    def best_match(i: int) -> int:
        inside = ids[truth == i]
        values, counts = np.unique(inside[inside > 0], return_counts=True)
        return int(values[counts.argmax()]) if values.size else 0

    found = [(best_match(a), best_match(b)) for a, b in sorted(pairs)]
    separated = sum(1 for a, b in found if a and b and a != b)
    assert separated >= 0.8 * len(pairs), (separated, len(pairs))
    assert instance_scores(truth, ids)["ap50"] > 0.7


@pytest.mark.slow
def test_any_microscope_and_bit_depth(data_dir, tmp_path):
    """RGBA brightfield/H&E, 8-bit and 16-bit TIFF, a blank image, images smaller than the network's
    padding (1x1, a 3-row strip): one id map each, in the input's shape."""
    he, _ = dsb(data_dir, "00ae65c1c663")  # H&E, validation split
    hela = data_dir / "ctc_fluo_nuclei/N2DL-HeLa/img/t13.tif"  # 16 bit, validation frame
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 80)).save(blank)
    Image.new("L", (1, 1), 200).save(tmp_path / "dot.png")
    Image.open(he).crop((0, 0, 320, 3)).save(tmp_path / "strip.png")
    small = [str(tmp_path / "dot.png"), str(tmp_path / "strip.png")]
    res = cli(str(he), str(hela), str(blank), *small, "--output-dir", str(tmp_path / "out"))
    assert res.returncode == 0 and res.stderr.strip() == "", res.stderr[-2000:]
    he_ids = np.array(Image.open(tmp_path / "out" / f"{he.stem}_seg.png"))
    hela_ids = np.array(Image.open(tmp_path / "out/t13_seg.png"))
    assert he_ids.shape == (256, 320) and he_ids.max() >= 5
    truth = np.array(Image.open(data_dir / "ctc_fluo_nuclei/N2DL-HeLa/gt/man_seg13.tif")).astype(np.int64)
    assert hela_ids.shape == truth.shape and instance_scores(truth, hela_ids)["ap50"] > 0.6
    assert np.array(Image.open(tmp_path / "out/blank_seg.png")).max() == 0
    assert np.array(Image.open(tmp_path / "out/dot_seg.png")).shape == (1, 1)
    assert np.array(Image.open(tmp_path / "out/strip_seg.png")).shape == (3, 320)


@pytest.mark.parametrize(
    "name, message",
    [
        ("cmyk.tif", "cmyk.tif: CMYK image; this bundle takes gray, gray+alpha, RGB or RGBA images"),
        ("five.tif", "five.tif: cannot read"),
        ("empty.png", "empty.png: cannot read"),
        ("stack.tif", "stack.tif: a stack of 3 images; this bundle segments single 2D images"),
        ("volume.nii.gz", "volume.nii.gz: 3D input for a 2D bundle"),
    ],
)
def test_bad_2d_input_is_one_line_and_writes_nothing(data_dir, tmp_path, name, message):
    import tifffile

    path = tmp_path / name
    if name == "cmyk.tif":
        Image.new("CMYK", (64, 64)).save(path)
    elif name == "five.tif":
        tifffile.imwrite(path, np.zeros((64, 64, 5), np.uint8), photometric="minisblack", planarconfig="contig")
    elif name == "empty.png":
        path.write_bytes(b"")
    elif name == "stack.tif":
        tifffile.imwrite(path, np.zeros((3, 64, 64), np.uint8), photometric="minisblack")  # 3 pages
    else:
        shutil.copy(data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz", path)
    res = cli(str(path), "--output-dir", str(tmp_path / "out"))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
