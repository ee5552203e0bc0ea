"""Stacks for 2D bundles: multi-page TIFF (plain, ImageJ, OME), 3D volumes page by page, stitching.

Every stack is built from real images of ``../shared/data`` (ISBI 2012 sections, Cell Tracking
Challenge frames), and every page is checked against the same image segmented alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import tifffile
from PIL import Image

from tests.conftest import REPO_ROOT
from unet3d.inference import BundlePredictor, segment
from unet3d.inference.pages import stitch
from unet3d.io.errors import InputError
from unet3d.io.stacks import open_tiff_stack, tiff_pages

EM, NUCLEI = REPO_ROOT / "bundles/em", REPO_ROOT / "bundles/nuclei"


@pytest.fixture(scope="module")
def em_predictor():
    return BundlePredictor(EM, device="cpu", tta=False)


@pytest.fixture(scope="module")
def nuclei_predictor():
    return BundlePredictor(NUCLEI, device="cpu")


def isbi_pages(data_dir: Path, count: int) -> np.ndarray:
    files = sorted((data_dir / "isbi2012/test/images").glob("*.png"))[:count]
    return np.stack([np.asarray(Image.open(f)) for f in files])


def gowt_frames(data_dir: Path) -> np.ndarray:
    folder = data_dir / "ctc_fluo_nuclei/N2DH-GOWT1/img"
    return np.stack([tifffile.imread(folder / f"{t}.tif")[:384, :512] for t in ("t01", "t21", "t31")])


@pytest.mark.slow
def test_isbi_stack_as_the_challenge_ships_it_gives_a_page_per_page(data_dir, tmp_path):
    """The issue's first row, through the command line: a 3-page stack written by tifffile's
    default (which tags three planes as one planar RGB image) goes to the gray EM bundle."""
    pages = isbi_pages(data_dir, 3)
    tifffile.imwrite(tmp_path / "stack.tif", pages)
    for i, page in enumerate(pages):
        Image.fromarray(page).save(tmp_path / f"page{i}.png")
    cmd = [sys.executable, "-m", "unet3d.cli", "segment", str(tmp_path / "stack.tif"),
           *(str(tmp_path / f"page{i}.png") for i in range(3)), "--bundle", str(EM), "--output-dir",
           str(tmp_path / "out"), "--no-tta", "--report"]  # fmt: skip
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    masks = tifffile.imread(tmp_path / "out/stack_seg.tif")
    assert masks.shape == pages.shape and masks.dtype == np.uint8
    for i in range(3):
        single = np.asarray(Image.open(tmp_path / f"out/page{i}_seg.png"))
        assert np.array_equal(masks[i], single), i
        assert 0.1 < masks[i].mean() < 0.5  # membrane share of a section: a real segmentation
    record = (tmp_path / "out/qc/stack_seg.tif.json").read_text()
    assert '"pages": 3' in record and "stack_seg.tif" in (tmp_path / "out/report.html").read_text()


@pytest.mark.slow
def test_imagej_hyperstack_keeps_axes_order_and_calibration(data_dir, tmp_path, em_predictor):
    pages = isbi_pages(data_dir, 4)[:, :200, :256]
    hyper = pages.reshape(2, 2, 200, 256)  # T=2, Z=2
    tifffile.imwrite(tmp_path / "hyper.tif", hyper, imagej=True, resolution=(1 / 0.004, 1 / 0.004),
                     metadata={"axes": "TZYX", "spacing": 0.05, "unit": "um", "finterval": 30.0})  # fmt: skip
    out = segment([tmp_path / "hyper.tif"], em_predictor, tmp_path / "out")[0]
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej and tif.series[0].axes == "TZYX" and tif.series[0].shape == (2, 2, 200, 256)
        meta = tif.imagej_metadata
        assert meta["spacing"] == 0.05 and meta["unit"] == "um" and meta["finterval"] == 30.0
        assert tif.pages.first.resolution == pytest.approx((250.0, 250.0))
        masks = tif.asarray().reshape(4, 200, 256)
    for i in (0, 3):  # the first and last page in file order, each as the image alone
        alone = Image.fromarray(pages[i])
        alone.save(tmp_path / f"p{i}.png")
        single = segment([tmp_path / f"p{i}.png"], em_predictor, tmp_path / "single")[0]
        assert np.array_equal(masks[i], np.asarray(Image.open(single))), i


@pytest.mark.slow
def test_ome_tiff_keeps_physical_sizes(data_dir, tmp_path, em_predictor):
    pages = isbi_pages(data_dir, 2)[:, :128, :128]
    sizes = {"PhysicalSizeX": 0.004, "PhysicalSizeY": 0.004, "PhysicalSizeZ": 0.05}
    tifffile.imwrite(tmp_path / "em.ome.tif", pages, ome=True, metadata={"axes": "ZYX", **sizes})
    out = segment([tmp_path / "em.ome.tif"], em_predictor, tmp_path / "out")[0]
    assert out.name == "em_seg.tif"  # .ome.tif is one suffix
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome and tif.series[0].axes == "ZYX" and tif.series[0].shape == (2, 128, 128)
        xml = tif.ome_metadata
    assert 'PhysicalSizeX="0.004"' in xml and 'PhysicalSizeZ="0.05"' in xml


@pytest.mark.slow
def test_volume_to_a_2d_bundle_page_by_page_and_stitched(data_dir, tmp_path, nuclei_predictor):
    frames = gowt_frames(data_dir)
    same = np.stack([frames[0]] * 3)  # one field three times: stitching must give one id per nucleus
    nib.save(nib.Nifti1Image(same.transpose(2, 1, 0).astype(np.float32), np.diag([0.2, 0.2, 2.0, 1.0])),
             tmp_path / "z.nii.gz")  # fmt: skip
    Image.fromarray(frames[0]).save(tmp_path / "alone.png")
    alone = np.asarray(Image.open(segment([tmp_path / "alone.png"], nuclei_predictor, tmp_path / "a")[0])).T
    paged = segment([tmp_path / "z.nii.gz"], nuclei_predictor, tmp_path / "paged")[0]
    stitched = segment([tmp_path / "z.nii.gz"], nuclei_predictor, tmp_path / "stitched", stitch=0.25)[0]
    per_page = np.asarray(nib.load(paged).dataobj)
    assert np.allclose(nib.load(paged).affine, np.diag([0.2, 0.2, 2.0, 1.0]))
    assert alone.max() >= 10  # a real field: many nuclei
    for k in range(3):
        assert np.array_equal(per_page[..., k], alone)  # page by page, ids per page
    linked = np.asarray(nib.load(stitched).dataobj)
    assert len(np.unique(linked)) == len(np.unique(alone))
    assert all(np.array_equal(linked[..., k], linked[..., 0]) for k in range(3))


def test_stitch_links_by_overlap_and_numbers_new_objects(data_dir):
    frames = gowt_frames(data_dir)
    from scipy import ndimage

    first = ndimage.label(frames[0] > np.percentile(frames[0], 90))[0]
    ids, nxt = stitch(None, first, 1)
    assert nxt == len(np.unique(first))  # fresh ids 1..n
    shifted = np.roll(first, 2, axis=0) * 7  # the same objects moved two pixels, other values
    again, nxt2 = stitch(ids, shifted, nxt)
    moved = np.roll(ids, 2, axis=0)
    big = [v for v in np.unique(moved) if v and (moved == v).sum() > 50]
    assert all(np.unique(again[moved == v]).tolist() == [v] for v in big)
    empty, nxt3 = stitch(again, np.zeros_like(first), nxt2)
    assert not empty.any() and nxt3 == nxt2


def test_stack_layouts_and_refusals(data_dir, tmp_path):
    pages = isbi_pages(data_dir, 5)[:, :64, :64]
    tifffile.imwrite(tmp_path / "five.tif", pages)
    tifffile.imwrite(tmp_path / "one.tif", pages[0])
    tifffile.imwrite(tmp_path / "two_channels.tif", np.stack([pages[:2], pages[2:4]], 1), imagej=True,
                     metadata={"axes": "ZCYX"})  # fmt: skip
    tifffile.imwrite(tmp_path / "rgb_pages.tif", np.stack([pages] * 3, -1), photometric="rgb")
    assert tiff_pages(tmp_path / "five.tif") == 5 and tiff_pages(tmp_path / "one.tif") == 1
    with open_tiff_stack(tmp_path / "five.tif") as stack:
        assert stack.pages == 5 and np.array_equal(stack.page(3), pages[3])
    with pytest.raises(InputError, match=r"two_channels\.tif: 2 channels per plane"):
        open_tiff_stack(tmp_path / "two_channels.tif")
    with pytest.raises(InputError, match=r"rgb_pages\.tif: colour pages"):
        open_tiff_stack(tmp_path / "rgb_pages.tif")
    with open_tiff_stack(tmp_path / "rgb_pages.tif", color=True) as stack:
        assert stack.pages == 5 and stack.page(0).shape == (64, 64, 3)
