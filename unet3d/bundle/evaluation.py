"""The shipped inference pipeline as a bundle's ``evaluate.yaml`` scores it: one path for all bundles.

Every bundle's ``evaluate.yaml`` is merged over its ``train.yaml`` and replaces the validation
evaluator's network, inferer and transforms with a :class:`ShippedPipeline`, so that what is scored
is what ``unet3d segment`` runs (:class:`unet3d.inference.BundlePredictor`: ensembles, TTA and
precision included), and the four bundles share this scaffolding instead of repeating it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from unet3d.inference import BundlePredictor


class ShippedPipeline:
    """A bundle's ``configs/inference.yaml`` pipeline, run by a :class:`BundlePredictor`, in the
    pieces MONAI's ``SupervisedEvaluator`` takes.

    Args:
        bundle_root: the bundle folder.
        device: the device to run on.
        tta: the bundle's ``tta`` id; ``None`` keeps its default.
        weights: a weight file or several (an ensemble) instead of the bundle's models.
        overrides: ``inference.yaml`` ids and values (e.g. the nuclei instance settings).
        output_dir: where ``save`` writes each mask (``<name>_seg.<ext>``).

    Example (``evaluate.yaml``)::

        shipped: "$unet3d.bundle.ShippedPipeline(@bundle_root, @device, output_dir=@eval_dir)"
        validate#evaluator#network: "$@shipped.network"
        validate#evaluator#inferer: "$@shipped.inferer"
        validate#dataset#transform: "$@shipped.preprocessing(@label_transforms)"
        validate#evaluator#postprocessing: "$@shipped.postprocessing()"
    """

    def __init__(
        self,
        bundle_root: str | os.PathLike,
        device: Any = None,
        tta: bool | None = None,
        weights: Any = None,
        overrides: Mapping[str, Any] | None = None,
        output_dir: str | os.PathLike | None = None,
    ) -> None:
        settings = dict(overrides or {})
        if output_dir is not None:
            settings["output_dir"] = str(output_dir)
        self.predictor = BundlePredictor(bundle_root, device=device, tta=tta, weights=weights, overrides=settings)

    @property
    def network(self) -> Any:
        """The (first) network: the evaluator switches it to eval mode; :attr:`inferer` runs them all."""
        return self.predictor.network

    @property
    def inferer(self) -> Any:
        """The predictor as a MONAI ``Inferer`` (:meth:`BundlePredictor.as_inferer`)."""
        return self.predictor.as_inferer()

    def preprocessing(self, label_transforms: Sequence[Any] = ()) -> Any:
        """``label_transforms`` (reading the label as the metrics want it), then the bundle's ``load``
        and ``prepare``: the very transform objects that the postprocessing's ``Invertd`` inverts."""
        from monai.transforms import Compose

        config = self.predictor.config
        return Compose([*label_transforms, config.get_parsed_content("load"), self.predictor.prepare])

    def postprocessing(self, metric_transforms: Sequence[Any] = ()) -> Any:
        """The bundle's ``to_probabilities``, ``to_labels`` and ``save`` (each mask written as
        ``unet3d segment`` writes it), then ``metric_transforms`` (e.g. one-hot for Dice)."""
        from monai.transforms import Compose

        save = self.predictor.config.get_parsed_content("save")
        return Compose([self.predictor.to_probabilities, self.predictor.to_labels, save, *metric_transforms])
