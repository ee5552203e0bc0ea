"""A MONAI Label app that serves unet3d's bundles straight from the repository's ``bundles/`` folder.

MONAI Label's stock ``monaibundle`` app wants bundles under ``<app>/model/<name>`` (links or
copies) and flags to stay offline (``--conf zoo_source ngc --conf sam2 false``). This app reads
every bundle under ``bundles/`` (or ``--conf bundles DIR``) where it is, with MONAI Label's own
``BundleInferTask`` and ``BundleTrainTask``. Its training task adds what a labelling loop needs:
a fresh run folder (no resuming an older run), validation every epoch, and the best model
published to ``models/model.pt`` when training completes, so that the next ``/infer`` uses it.

    monailabel start_server --app apps/monailabel --studies DATASTORE [--conf models em,hippocampus]
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import monailabel
from monailabel.interfaces.app import MONAILabelApp
from monailabel.interfaces.tasks.infer_v2 import InferTask
from monailabel.interfaces.tasks.strategy import Strategy
from monailabel.interfaces.tasks.train import TrainTask
from monailabel.tasks.activelearning.first import First
from monailabel.tasks.activelearning.random import Random
from monailabel.tasks.infer.bundle import BundleInferTask
from monailabel.tasks.train.bundle import BundleTrainTask
from unet3d.inference import BundleLayout

logger = logging.getLogger(__name__)

REPO_BUNDLES = Path(__file__).resolve().parents[2] / "bundles"
# training settings a request may carry besides MONAI Label's own (max_epochs, val_split, ...)
PASSED_THROUGH = ("samples_per_epoch", "learning_rate", "batch_size")


class UNet3DTrainTask(BundleTrainTask):
    """MONAI Label's bundle training, fine-tuning from ``models/model.pt`` and publishing the result."""

    def __call__(self, request: dict[str, Any], datastore: Any) -> Any:
        self._request = request
        return super().__call__(request, datastore)

    def _update_overrides(self, overrides: dict[str, Any]) -> dict[str, Any]:
        run_dir = os.path.join(self.bundle_path, "runs", time.strftime("monailabel-%Y%m%d-%H%M%S"))
        overrides.update(output_dir=run_dir, resume=False, publish_model=True, val_interval=1)
        request = getattr(self, "_request", {})
        overrides.update({k: request[k] for k in PASSED_THROUGH if k in request})
        return overrides


class UNet3DApp(MONAILabelApp):
    """Every bundle (a folder with ``configs/metadata.json``) under the bundles folder, or those named
    in ``--conf models a,b``."""

    def __init__(self, app_dir: str, studies: str, conf: dict[str, str]) -> None:
        from unet3d.inference import find_bundles

        root = Path(conf.get("bundles", str(REPO_BUNDLES))).resolve()
        found = {name: layout.root for name, layout in find_bundles(root).items()}
        wanted = [m.strip() for m in conf.get("models", "").split(",") if m.strip()] or list(found)
        unknown = [m for m in wanted if m not in found]
        if unknown:
            raise ValueError(f"{root}: no bundle named {', '.join(unknown)} (found: {', '.join(found)})")
        self.bundles = {name: str(found[name]) for name in wanted}
        logger.info(f"unet3d bundles from {root}: {list(self.bundles)}")
        super().__init__(
            app_dir=app_dir,
            studies=studies,
            conf=conf,
            name=f"unet3d bundles (MONAI Label {monailabel.__version__})",
            description="U-Net (Ronneberger et al. 2015) bundles from unet3d",
            version="0.1.0",
        )

    def infer(self, request: dict[str, Any], datastore: Any = None) -> Any:
        """MONAI Label's inference, with its failures turned into HTTP errors that say what went wrong
        (the stock server answers every one with a bare "500 Internal Server Error")."""
        from fastapi import HTTPException

        model = request.get("model")
        if model in self.bundles and model not in self._infers:  # a bundle without trained weights
            raise HTTPException(409, BundleLayout(self.bundles[model], require_weights=False).untrained_message)
        if model not in self._infers:
            raise HTTPException(404, f"unknown model {model!r}; this server has: {', '.join(self._infers)}")
        image = str(request.get("image", ""))
        if image and not os.path.exists(image) and not (datastore or self.datastore()).get_image_uri(image):
            raise HTTPException(404, f"image {image!r} is not in the datastore")
        try:
            return super().infer(request, datastore)
        except HTTPException:
            raise
        except Exception as e:  # readers and transforms raise many kinds; all mean "cannot segment this"
            logger.exception(f"inference with {model} on {image} failed")
            raise HTTPException(422, f"cannot segment {os.path.basename(image)} with {model}: {e}") from e

    def init_infers(self) -> dict[str, InferTask]:
        """An inference task per bundle with trained weights; a bundle without them (e.g.
        ``spleen_ct`` before it is trained) is logged with how to train it, and /infer refuses it."""
        infers: dict[str, InferTask] = {}
        for name, path in self.bundles.items():
            layout = BundleLayout(path, require_weights=False)
            if layout.has_weights:
                infers[name] = BundleInferTask(path, self.conf)
            else:
                logger.warning(f"{name}: no inference: {layout.untrained_message}")
        return infers

    def init_trainers(self) -> dict[str, TrainTask]:
        trainers: dict[str, TrainTask] = {}
        for name, path in self.bundles.items():
            task = UNet3DTrainTask(path, self.conf)
            if task.is_valid():
                trainers[name] = task
        return trainers

    def init_strategies(self) -> dict[str, Strategy]:
        return {"random": Random(), "first": First()}
