"""``unet3d segment`` with the shipped nuclei bundle: instance ids, any microscope, bad 2D input."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.inference import segment
from unet3d.metrics import instance_scores

BUNDLE = REPO_ROOT / "bundles/nuclei"
# grouped validation split (acquisitions never trained on): DSB2018 fluorescence, 260x347 px, many
# touching nuclei; H&E breast tissue at 40x (TCGA site A7), 1000x1000 px
TOUCHING = "9bb6e39d5f4415bc7554842ee5d1280403a602f2ba56122b87f453a62d37c06e"
TISSUE = "he_nuclei/monuseg2018_train/TCGA-A7-A13E-01Z-00-DX1"


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
    # a regression guard below the shipped model's figures on this held-out acquisition
    # (bundle docs), not a quality claim: touching nuclei of unseen labs are issue #28's work
    assert separated >= 0.45 * len(pairs), (separated, len(pairs))
    assert instance_scores(truth, ids)["ap50"] > 0.55


@pytest.mark.slow
def test_h_and_e_tissue_gives_nuclei_not_lumen(data_dir, tmp_path):
    """Dense H&E tissue: the objects lie on the nuclei, and the white lumen between the tissue
    stays background (with inverted luma, lumen came out as nuclei)."""
    case = data_dir / TISSUE
    image = case / "images" / f"{case.name}.png"
    (out,) = segment([image], BUNDLE, tmp_path)
    ids = np.array(Image.open(out)).astype(np.int64)
    truth = np.array(Image.open(case / "mask_instances_derived.png")).astype(np.int64)
    rgb = np.asarray(Image.open(image).convert("RGB"), np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    lumen = (luma > np.percentile(luma, 95)) & (truth == 0)
    assert lumen.sum() > 10_000
    assert (ids[lumen] > 0).mean() < 0.05
    assert (truth[ids > 0] > 0).mean() > 0.6  # most of what is called nucleus is nucleus
    assert ids.max() > 0.5 * truth.max()
    assert instance_scores(truth, ids)["ap50"] > 0.4


@pytest.mark.slow
def test_diameter_auto_measures_the_nuclei_and_zooms_large_ones(data_dir, tmp_path):
    """``--diameter auto``: the probe's median diameter is near the truth on large tissue nuclei
    and on small fluorescent ones; the tissue, shrunk to the network's size, scores better."""
    import torch

    from unet3d.inference import BundlePredictor
    from unet3d.transforms import median_diameter

    case = data_dir / TISSUE
    tissue, tissue_truth = case / "images" / f"{case.name}.png", case / "mask_instances_derived.png"
    predictor = BundlePredictor(BUNDLE, device="cpu", diameter="auto")
    preprocessing = predictor.config.get_parsed_content("preprocessing")
    for image, truth_path in ((tissue, tissue_truth), dsb(data_dir, TOUCHING[:12])):
        x = preprocessing({"image": str(image)})["image"][None]
        with torch.inference_mode():
            estimate = predictor.inferer.estimate_diameter(x, predictor.network)
        truth = median_diameter(np.array(Image.open(truth_path)))
        assert estimate == pytest.approx(truth, rel=0.25), (image.name, estimate, truth)
    scores = {}
    for diameter in ("off", "auto"):
        (out,) = segment([tissue], BUNDLE, tmp_path / diameter, diameter=diameter)
        ids = np.array(Image.open(out)).astype(np.int64)
        scores[diameter] = instance_scores(np.array(Image.open(tissue_truth)).astype(np.int64), ids)["ap50"]
    assert scores["auto"] > scores["off"] + 0.03, scores


@pytest.mark.slow
def test_any_microscope_and_bit_depth(data_dir, tmp_path):
    """RGBA brightfield/H&E, 8-bit and 16-bit TIFF, a blank image, images smaller than the network's
    padding (1x1, a 3-row strip): one id map each, in the input's shape."""
    he, _ = dsb(data_dir, "00ae65c1c663")  # stained cells (RGBA), validation split
    hela = data_dir / "ctc_fluo_nuclei/N2DL-HeLa/img/t13.tif"  # 16 bit
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
        ("cut_stack.tif", "cut_stack.tif: page 2 cannot be read (IndexError"),
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
    elif name == "cut_stack.tif":  # a stack cut short in its last pages' data
        rng = np.random.default_rng(0)
        tifffile.imwrite(path, rng.integers(0, 255, (5, 64, 64), np.uint8), photometric="minisblack", contiguous=False)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) - 2 * 64 * 64 + 100])
    # stacks and volumes are not bad input for a 2D bundle: page by page (test_segment_stacks.py)
    res = cli(str(path), "--output-dir", str(tmp_path / "out"))
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1 and message in lines[0], res.stderr[-2000:]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
