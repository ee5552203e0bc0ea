"""The napari widget on a real nuclei image, as docs/images/napari_nuclei.png.

Opens an H&E tissue region of the grouped validation split in a napari viewer, docks the unet3d
widget, segments it with the nuclei bundle and saves a screenshot of the whole window. Needs a
display with OpenGL; headless, run it under Xvfb (Debian ``xvfb``):

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python scripts/napari_screenshot.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("UNET3D_DATA", REPO.parent / "shared" / "data"))
TISSUE = DATA / "he_nuclei/monuseg2018_train/TCGA-A7-A13E-01Z-00-DX1/images/TCGA-A7-A13E-01Z-00-DX1.png"


def main(out: Path = REPO / "docs/images/napari_nuclei.png") -> None:
    import napari
    from qtpy.QtWidgets import QApplication

    from unet3d.napari.widget import SegmentWidget

    viewer = napari.Viewer(show=True)
    viewer.window.resize(1400, 900)
    image = np.asarray(Image.open(TISSUE).convert("RGB"))[200:600, 200:600]
    viewer.add_image(image, name="H&E tissue", rgb=True)
    widget = SegmentWidget(viewer, bundles_dir=str(REPO / "bundles"))
    viewer.window.add_dock_widget(widget, name="Segment (unet3d)")
    widget.bundle_box.setCurrentText("nuclei")
    worker = widget.segment()
    while worker.is_running or "H&E tissue_seg" not in viewer.layers:
        QApplication.processEvents()
    viewer.layers["H&E tissue_seg"].opacity = 0.5
    QApplication.processEvents()
    Image.fromarray(viewer.screenshot(canvas_only=False, flash=False)).convert("RGB").save(out, optimize=True)
    print(f"{out}: {viewer.layers['H&E tissue_seg'].data.max()} nuclei")
    viewer.close()


if __name__ == "__main__":
    sys.exit(main())
