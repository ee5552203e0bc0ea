"""The napari plugin in a headless viewer: its manifest, the widget on real images, the writer.

napari needs an X display with OpenGL: pytest-xvfb starts Debian's Xvfb (``.ci/run`` installs it
with Mesa) when there is none. Without napari the tests skip on a developer machine and fail in CI.
"""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO_ROOT, skip_or_fail
from unet3d.metrics import instance_scores

try:
    import napari  # noqa: F401
except ImportError:
    skip_or_fail("napari is not installed (pip install -e '.[test]')")
if not (os.environ.get("DISPLAY") or shutil.which("Xvfb")):  # without a display Qt aborts the whole run
    skip_or_fail("no display and no Xvfb for napari (apt-get install xvfb libgl1-mesa-dri)")

from unet3d.napari.layers import bundles_2d, segment_layer
from unet3d.napari.widget import SegmentWidget
from unet3d.napari.writer import write_labels

pytestmark = pytest.mark.slow
TISSUE = "he_nuclei/monuseg2018_train/TCGA-A7-A13E-01Z-00-DX1"


def test_manifest_is_valid_and_declares_the_widget_and_writer():
    import npe2

    manifest = npe2.PluginManifest.from_distribution("unet3d")
    manifest.validate_imports()  # every command's python_name imports
    assert [w.display_name for w in manifest.contributions.widgets] == ["Segment (unet3d)"]
    assert manifest.contributions.writers[0].layer_types == ["labels"]
    assert set(bundles_2d(REPO_ROOT / "bundles")) == {"em", "nuclei"}  # the 2D bundles with weights


def test_widget_segments_a_real_nuclei_image(make_napari_viewer, qtbot, data_dir, tmp_path):
    image = np.asarray(Image.open(data_dir / TISSUE / "images" / f"{TISSUE.split('/')[-1]}.png").convert("RGB"))
    region, truth = (
        image[:256, :256],
        np.asarray(Image.open(data_dir / TISSUE / "mask_instances_derived.png"))[:256, :256],
    )
    viewer = make_napari_viewer()
    viewer.add_image(region, name="tissue", rgb=True, scale=(0.25, 0.25))
    widget = SegmentWidget(viewer, bundles_dir=str(REPO_ROOT / "bundles"))
    viewer.window.add_dock_widget(widget)
    widget.bundle_box.setCurrentText("nuclei")
    widget.probabilities.setChecked(True)
    assert widget.layer_box.currentText() == "tissue"
    worker = widget.segment()
    with qtbot.waitSignal(worker.finished, timeout=300_000):
        pass
    qtbot.waitUntil(lambda: "tissue_seg" in viewer.layers, timeout=10_000)
    labels = viewer.layers["tissue_seg"]
    assert labels.data.shape == (256, 256) and labels.data.dtype == np.uint16
    assert tuple(labels.scale) == (0.25, 0.25)
    assert instance_scores(truth, labels.data.astype(np.int64))["ap50"] > 0.3  # nuclei, not lumen
    assert "tissue p(nucleus)" in viewer.layers or any(" p(" in layer.name for layer in viewer.layers)
    assert widget.progress.value() == 1 and widget.button.isEnabled()
    path = write_labels(str(tmp_path / "mask.png"), labels.data, {})[0]
    np.testing.assert_array_equal(np.asarray(Image.open(path)), labels.data)


def test_a_stack_goes_page_by_page_and_is_written_as_a_multipage_tiff(data_dir, tmp_path):
    import tifffile

    from unet3d.inference import BundlePredictor
    from unet3d.inference.inputs import page_tensor

    pages = [
        np.asarray(Image.open(data_dir / f"isbi2012/train/images/slice_{i:02d}.png"))[:200, :200] for i in (20, 21)
    ]
    stack = np.stack(pages)
    predictor = BundlePredictor(REPO_ROOT / "bundles/em", device="cpu", tta=False)
    steps = segment_layer(predictor, stack, rgb=False)
    done = []
    try:
        while True:
            done.append(next(steps))
    except StopIteration as stop:
        labels, probs = stop.value
    assert done == [0, 1, 2] and probs is None and labels.shape == stack.shape
    single = predictor.predict(page_tensor(pages[1], "page")).labels
    np.testing.assert_array_equal(labels[1], np.asarray(single).T)  # each page as the image alone
    (path,) = write_labels(str(tmp_path / "stack.tif"), labels, {})
    np.testing.assert_array_equal(tifffile.imread(path), labels)
    with pytest.raises(ValueError, match="takes gray images; this layer is RGB"):
        next(segment_layer(predictor, np.zeros((64, 64, 3), np.uint8), rgb=True))
