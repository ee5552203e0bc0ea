"""The dock widget: pick a 2D bundle and an image layer, segment in a worker thread, get a Labels layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QWidget,
)

from unet3d.napari.layers import bundles_2d, pages_of, segment_layer

CHOOSE_FOLDER = "Other bundle folder..."


class SegmentWidget(QWidget):
    """Segment an image layer with a 2D unet3d bundle.

    The bundle list holds the 2D bundles with weights of :func:`unet3d.napari.layers.default_bundles_dir`
    (``em``, ``nuclei``), and any bundle folder chosen with *Other bundle folder...*. *Segment* runs
    :class:`unet3d.inference.BundlePredictor` in a napari ``thread_worker`` (the viewer stays
    responsive; the bar counts pages) and adds ``<layer>_seg``, a Labels layer with the layer's
    scale and translation (instance ids for ``nuclei``, classes for ``em``) and, when asked, the
    softmax per class as Image layers. A stack or time-lapse goes page by page.

    Args:
        napari_viewer: the viewer (napari passes it).
        bundles_dir: where to list bundles (default: the shipped ones).
    """

    def __init__(self, napari_viewer: Any, bundles_dir: str | None = None) -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.bundles = {name: layout.root for name, layout in bundles_2d(bundles_dir).items()}
        self._predictors: dict[tuple[str, bool], Any] = {}
        self.worker: Any = None
        self.bundle_box = QComboBox()
        self.bundle_box.addItems([*self.bundles, CHOOSE_FOLDER])
        self.bundle_box.activated.connect(self._maybe_choose_folder)
        self.layer_box = QComboBox()
        self.tta = QCheckBox("test-time augmentation")
        self.probabilities = QCheckBox("add probability maps")
        self.button = QPushButton("Segment")
        self.button.clicked.connect(self.segment)
        self.progress = QProgressBar()
        self.status = QLabel("")
        form = QFormLayout(self)
        form.addRow("bundle", self.bundle_box)
        form.addRow("image", self.layer_box)
        form.addRow(self.tta)
        form.addRow(self.probabilities)
        form.addRow(self.button)
        form.addRow(self.progress)
        form.addRow(self.status)
        for event in (self.viewer.layers.events.inserted, self.viewer.layers.events.removed):
            event.connect(self._refresh_layers)
        self._refresh_layers()

    def _refresh_layers(self, *_: Any) -> None:
        from napari.layers import Image

        current = self.layer_box.currentText()
        self.layer_box.clear()
        names = [layer.name for layer in self.viewer.layers if isinstance(layer, Image)]
        self.layer_box.addItems(names)
        if current in names:
            self.layer_box.setCurrentText(current)

    def _maybe_choose_folder(self, index: int) -> None:
        if self.bundle_box.itemText(index) != CHOOSE_FOLDER:
            return
        folder = QFileDialog.getExistingDirectory(self, "A unet3d bundle folder")
        if folder:
            self.add_bundle(folder)

    def add_bundle(self, folder: str) -> None:
        """Add a bundle folder to the list and select it."""
        name = Path(folder).name
        self.bundles[name] = Path(folder)
        if self.bundle_box.findText(name) < 0:
            self.bundle_box.insertItem(self.bundle_box.count() - 1, name)
        self.bundle_box.setCurrentText(name)

    def predictor(self, name: str, tta: bool) -> Any:
        """The bundle's predictor, made once per (bundle, TTA) setting."""
        from unet3d.inference import BundlePredictor

        key = (name, tta)
        if key not in self._predictors:
            self._predictors[key] = BundlePredictor(self.bundles[name], tta=tta)
        return self._predictors[key]

    def segment(self) -> Any:
        """Start segmenting the chosen layer; returns the worker (its ``returned`` adds the layers)."""
        from napari.qt.threading import thread_worker
        from napari.utils.notifications import show_error

        name, layer_name = self.bundle_box.currentText(), self.layer_box.currentText()
        if name not in self.bundles or layer_name not in self.viewer.layers:
            show_error("choose a bundle and an image layer")
            return None
        layer = self.viewer.layers[layer_name]
        tta, probabilities = self.tta.isChecked(), self.probabilities.isChecked()
        pages, leading = pages_of(layer.data, layer.rgb)
        self.progress.setRange(0, len(pages))
        self.progress.setValue(0)
        self.button.setEnabled(False)
        self.status.setText(f"segmenting {layer_name} with {name}")

        def work() -> Any:
            predictor = self.predictor(name, tta)
            result = yield from segment_layer(predictor, layer.data, layer.rgb, probabilities and not leading)
            return result, predictor

        self.worker = thread_worker(work)()
        self.worker.yielded.connect(self.progress.setValue)
        self.worker.returned.connect(lambda result: self._add_layers(layer, *result))
        self.worker.errored.connect(lambda error: show_error(f"{name}: {error}"))
        self.worker.finished.connect(lambda: self.button.setEnabled(True))
        self.worker.start()
        return self.worker

    def _add_layers(self, layer: Any, result: tuple, predictor: Any) -> None:
        labels, probs = result
        kwargs = {"scale": layer.scale[: labels.ndim], "translate": layer.translate[: labels.ndim]}
        self.viewer.add_labels(labels, name=f"{layer.name}_seg", **kwargs)
        if probs is not None:
            names = predictor.layout.channel_def
            for value, plane in enumerate(probs):
                label = names.get(value, str(value))
                self.viewer.add_image(plane, name=f"{layer.name} p({label})", colormap="magma", opacity=0.6,
                                      contrast_limits=(0.0, 1.0), visible=False, **kwargs)  # fmt: skip
        found = f"{int(labels.max())} objects" if predictor.layout.instances else f"labels {np.unique(labels).tolist()}"
        self.status.setText(f"{layer.name}_seg: {found}")
