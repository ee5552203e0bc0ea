"""The report of real runs opened in a real headless browser (Chromium through Playwright).

Chromium is Debian's package (``apt-get install chromium``, done by ``.ci/run``); without it or
Playwright the tests skip on a developer machine and fail in CI (``CI=true``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from PIL import Image

from tests.conftest import REPO_ROOT, skip_or_fail
from unet3d.cli import main
from unet3d.inference import BundlePredictor
from unet3d.io import read_probabilities

pytestmark = pytest.mark.slow

HIPPOCAMPUS_CASES = ("hippocampus_001", "hippocampus_003", "hippocampus_004")
EM_SLICES = ("slice_22", "slice_23")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install -e '.[test]')")
    executable = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(executable).exists():
        skip_or_fail("Chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield chromium
        chromium.close()


def table(browser, report: Path) -> dict:
    """What the browser shows: images loaded or not, per row the mask and its size cells."""
    page = browser.new_page()
    page.goto(report.resolve().as_uri())
    page.wait_for_load_state("load")
    result = page.evaluate(
        """() => ({
            images: Array.from(document.images).map((i) => ({alt: i.alt, ok: i.complete && i.naturalWidth > 0})),
            rows: Array.from(document.querySelectorAll('#cases tbody tr')).map((tr) => ({
                mask: tr.dataset.mask,
                flags: tr.querySelector('td.flags').textContent.trim(),
                sizes: Object.fromEntries(Array.from(tr.querySelectorAll('td.size'))
                    .map((td) => [td.dataset.label, parseFloat(td.dataset.value)])),
            })),
            failures: Array.from(document.querySelectorAll('#failures li')).map((li) => li.textContent),
            inputs: document.querySelector('#n-inputs').textContent,
        })"""
    )
    page.close()
    return result


@pytest.fixture(scope="module")
def hippocampus_run(data_dir, tmp_path_factory):
    """Three volumes with TTA and probabilities, a blank one (flagged) and a broken file that fails."""
    folder = tmp_path_factory.mktemp("cases")
    for case in HIPPOCAMPUS_CASES:
        shutil.copy(data_dir / "msd_hippocampus" / "imagesTr" / f"{case}.nii.gz", folder)
    real = nib.load(folder / f"{HIPPOCAMPUS_CASES[0]}.nii.gz")
    nib.save(nib.Nifti1Image(np.zeros(real.shape, np.float32), real.affine), folder / "zz_blank.nii.gz")
    (folder / "broken.nii.gz").write_bytes(b"\x1f\x8b not a volume")
    out = tmp_path_factory.mktemp("out")
    argv = ["segment", str(folder), "--bundle", str(REPO_ROOT / "bundles" / "hippocampus"), "--output-dir", str(out)]
    assert main([*argv, "--report", "--probabilities", "--tta"]) == 1  # the broken file fails, the others go on
    return out


def test_hippocampus_report_in_a_browser(browser, hippocampus_run):
    out = hippocampus_run
    shown = table(browser, out / "report.html")
    assert len(shown["images"]) == len(HIPPOCAMPUS_CASES) + 2  # a thumbnail per row and the histogram
    assert all(image["ok"] for image in shown["images"]), shown["images"]
    assert shown["inputs"] == "5" and len(shown["failures"]) == 1 and "broken.nii.gz" in shown["failures"][0]
    blank, *rows = shown["rows"]
    assert blank["mask"] == "zz_blank_seg.nii.gz"  # flagged inputs come first
    assert "posterior hippocampus: low confidence" in blank["flags"]  # no anatomy: outside the validation cases
    assert sorted(row["mask"] for row in rows) == [f"{c}_seg.nii.gz" for c in HIPPOCAMPUS_CASES]
    for row in rows:
        assert row["flags"] == ""  # real cases inside the validation reference
        mask = nib.load(out / row["mask"])
        labels, voxel = np.asarray(mask.dataobj), float(np.prod(mask.header.get_zooms()[:3]))
        expected = {
            "anterior hippocampus": (labels == 1).sum() * voxel,
            "posterior hippocampus": (labels == 2).sum() * voxel,
        }
        assert row["sizes"] == pytest.approx(expected)
        assert min(expected.values()) > 500  # real hippocampi, not empty masks


def test_probabilities_argmax_is_the_mask(hippocampus_run):
    for case in HIPPOCAMPUS_CASES:
        mask = np.asarray(nib.load(hippocampus_run / f"{case}_seg.nii.gz").dataobj)
        probs = read_probabilities(hippocampus_run / f"{case}_prob.nii.gz")
        assert probs.shape == (3, *mask.shape)
        assert np.allclose(probs.sum(0), 1.0, atol=3 / 255)
        top2 = np.sort(probs, axis=0)[-2:]
        decided = top2[1] > top2[0]  # ties of the uint8 steps aside
        assert decided.mean() > 0.99
        np.testing.assert_array_equal(probs.argmax(0)[decided], mask[decided])


def test_report_is_rebuilt_from_the_masks(hippocampus_run, capsys):
    (hippocampus_run / "report.html").unlink()
    assert main(["report", str(hippocampus_run)]) == 0
    assert (hippocampus_run / "report.html").is_file()
    assert "report:" in capsys.readouterr().out


def test_em_report_in_a_browser(browser, data_dir, tmp_path):
    images = [data_dir / "isbi2012" / "train" / "images" / f"{s}.png" for s in EM_SLICES]
    out = tmp_path / "out"
    argv = ["segment", *map(str, images), "--bundle", str(REPO_ROOT / "bundles" / "em"), "--output-dir", str(out)]
    assert main([*argv, "--report", "--probabilities", "--no-tta"]) == 0
    em = BundlePredictor(REPO_ROOT / "bundles" / "em", device="cpu")
    shown = table(browser, out / "report.html")
    assert len(shown["images"]) == len(EM_SLICES) + 1 and all(image["ok"] for image in shown["images"])
    for row in shown["rows"]:
        mask = np.asarray(Image.open(out / row["mask"]))
        assert row["sizes"] == {"cell interior": (mask == 0).sum(), "membrane": (mask == 1).sum()}
        # the EM mask is not the argmax (a membrane threshold, then closed boundaries): the bundle's
        # own postprocessing turns the stored probabilities into the written mask
        probs = read_probabilities(out / row["mask"].replace("_seg.png", "_prob.tif"))
        assert probs.shape == (2, *mask.T.shape)
        again = np.asarray(em.to_labels({"pred": torch.from_numpy(probs)})["pred"])
        assert (again == mask.T).mean() > 0.9999  # 16-bit steps at the threshold aside


def test_report_of_a_folder_without_masks_is_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 1
    message = f"error: {tmp_path}: no mask (<name>_seg.nii.gz, .png, .dcm or .tif) to report on"
    assert capsys.readouterr().err.strip() == message
