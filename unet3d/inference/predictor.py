"""Run a bundle's inference pipeline on one image in memory: the bundle's own config, no files."""

from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from monai.inferers import Inferer

from unet3d.inference.frozen import frozen
from unet3d.inference.layout import BundleLayout
from unet3d.inferers import DihedralTTAInferer, ObjectSizeInferer, tta_inferer
from unet3d.inferers.object_size import size_setting
from unet3d.inferers.tta import dihedral_transforms

# the network's arithmetic in inference (torch.autocast's dtype; fp32: no autocast)
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}


@dataclass
class Prediction:
    """One input's result (:meth:`BundlePredictor.predict`).

    Attributes:
        labels: the label map ``(*spatial)`` (MONAI axis order), on the input's grid.
        probabilities: the softmax ``(C, *spatial)`` float32 on the input's grid, or ``None``.
        disagreement: label value -> fraction of disagreeing voxels among the averaged
            predictions, or ``None`` (not asked for, or one prediction only).
        members: the number of predictions averaged (models x TTA copies).
    """

    labels: torch.Tensor
    probabilities: torch.Tensor | None = None
    disagreement: dict[int, float] | None = None
    members: int = 1


class MemberVotes:
    """The labels of each prediction averaged into a result (models x TTA copies): call it with
    each prediction's logits ``(1, C, *spatial)``; :meth:`disagreement` compares them."""

    def __init__(self) -> None:
        self.winners: list[torch.Tensor] = []  # (*spatial) uint8 per prediction
        self.classes = 0

    @property
    def members(self) -> int:
        return len(self.winners)

    def __call__(self, logits: torch.Tensor) -> None:
        self.classes = logits.shape[1]
        self.winners.append(logits[0].argmax(0).to(torch.uint8))

    def disagreement(self) -> dict[int, float] | None:
        """Label value -> the fraction of the voxels that any prediction gives the label where
        not all of them do (0: all agree; 1: no voxel that all agree on); ``None`` with fewer
        than two predictions."""
        if self.members < 2:
            return None
        stacked = torch.stack(self.winners)
        result = {}
        for value in range(self.classes):
            votes = (stacked == value).sum(0)
            union = int((votes > 0).sum())
            result[value] = float(((votes > 0) & (votes < self.members)).sum()) / union if union else 0.0
        return result


# what can run the network (BundlePredictor's runtime)
RUNTIMES = ("torch", "onnx")

# the predictor's window arguments and the inference.yaml ids they set (unet3d.inference.contract)
WINDOW_SETTINGS = {"overlap": "overlap", "mode": "blend_mode", "sw_batch_size": "sw_batch_size"}


class BundlePredictor:
    """A bundle's network and weights, run through the ids its ``configs/inference.yaml``
    declares (:mod:`unet3d.inference.contract`): ``prepare`` (the preprocessing without file
    reading), ``inferer``, ``to_probabilities`` and ``to_labels``.

    Callers pass an image already read and write the result themselves, so inference stays
    identical to what the bundle runs, whatever the file format. Every setting is an argument,
    as in nnU-Net's ``nnUNetPredictor``; ``None`` keeps the bundle's.

    Args:
        bundle: the bundle folder (with ``configs/`` and ``models/model.pt``) or its layout.
        device: ``"cpu"``, ``"cuda"``, ...; the first GPU if available when ``None``.
        tta: switch the bundle's test-time augmentation (its ``tta`` id) on or off; ``None``
            keeps the bundle's default.
        modality: the kind of image for bundles with a ``modality`` id (nuclei: ``fluorescence``,
            ``brightfield``, ``stained``); ``None`` keeps the bundle's (``auto``: decided per image).
        diameter: for bundles with an ``object_diameter`` id (nuclei): ``"off"``, ``"auto"``
            (estimated per image) or the objects' median diameter in px, to which the image is
            zoomed as the bundle's ``unet3d.inferers.ObjectSizeInferer`` says; ``None`` keeps the
            bundle's.
        inferer: an inferer to use instead of the bundle's (any MONAI ``Inferer``).
        overlap: the sliding-window overlap, a fraction of the window (0 to <1): the bundle's
            ``overlap`` id.
        mode: the window blending, ``"gaussian"`` or ``"constant"``: the ``blend_mode`` id.
        sw_batch_size: windows per network call: the ``sw_batch_size`` id.
        freeze_min_windows: inputs of at least this many windows (of ``window_size``) run through
            a fast frozen copy of the network (:func:`unet3d.inference.frozen.frozen`: same logits
            up to float rounding; making it costs more than it saves on inputs of one or a few
            windows); ``0`` never freezes; ``None``: the bundle's ``freeze_min_windows`` id, 8
            when it declares none. ``benchmarks/infer_options.py`` measures the trade-off.
        folds: the fold models (``models/fold_K.pt``) to average; ``None``: all the bundle ships,
            or ``models/model.pt`` when it ships none (see :meth:`BundleLayout.weights_for`).
        weights: a weight file, or several averaged as an ensemble, to use instead of the bundle's
            (e.g. cross-validation models that are not shipped); not with ``folds``.
        overrides: ``configs/inference.yaml`` ids and values to set before the pipeline is
            built, e.g. ``{"tta_flip_axes": None}``.
        precision: the network's arithmetic, ``"fp32"``, ``"fp16"`` or ``"bf16"`` (mixed precision
            through ``torch.autocast``; the softmax, the ensemble average and everything after
            stay float32); ``None``: fp16 on CUDA, fp32 elsewhere. ``benchmarks/gpu.py`` measures
            the masks' agreement with fp32.
        runtime: what runs the network: ``"torch"``, or ``"onnx"``: the ONNX export beside each
            weight file (``models/model.onnx``, made by ``unet3d export``) through onnxruntime on
            the CPU (:class:`unet3d.inference.onnx_network.OnnxNetwork`); everything else, the
            preprocessing, windows, TTA and postprocessing, is the same. fp32 only, never frozen.

    Attributes:
        config: the bundle's ``ConfigParser`` with the settings above, parsed once; the
            ``monai.bundle`` workflows (``unet3d.bundle.ShippedPipeline``) take ``load`` and
            ``save`` from it, so that ``Invertd`` inverts the very transforms that ran.

    Raises:
        FileNotFoundError: the bundle has no ``configs/inference.yaml``, metadata or ``models/model.pt``.
        ValueError: the bundle misses an id of the contract; ``modality``, ``diameter`` or a
            window setting is asked for but the bundle has no such id, or ``diameter`` is not a
            size; weights that do not fit the network; an unknown precision.

    Example::

        >>> predictor = BundlePredictor("bundles/hippocampus", device="cpu")
        >>> labels = predictor(read_volume("case.nii.gz").image)   # (x, y, z), input's grid
        >>> predictor = BundlePredictor("bundles/em", tta=False)
        >>> labels = predictor(read_volume("slice.png").image)     # (x, y)
    """

    def __init__(
        self,
        bundle: str | os.PathLike | BundleLayout,
        device: str | torch.device | None = None,
        tta: bool | None = None,
        modality: str | None = None,
        diameter: str | float | None = None,
        inferer: Any = None,
        overlap: float | None = None,
        mode: str | None = None,
        sw_batch_size: int | None = None,
        freeze_min_windows: int | None = None,
        folds: Sequence[int] | None = None,
        weights: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
        overrides: Mapping[str, Any] | None = None,
        precision: str | None = None,
        runtime: str = "torch",
    ) -> None:
        # explicit weights (a checkpoint of a training still running) need no models/model.pt
        explicit = weights is not None
        self.layout = bundle if isinstance(bundle, BundleLayout) else BundleLayout(bundle, require_weights=not explicit)
        gpu = torch.cuda.is_available() and runtime == "torch"
        self.device = torch.device(device or ("cuda" if gpu else "cpu"))
        self.precision = precision or ("fp16" if self.device.type == "cuda" else "fp32")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision {self.precision!r}: use one of {', '.join(PRECISIONS)}")
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime {runtime!r}: use one of {', '.join(RUNTIMES)}")
        if runtime == "onnx" and (self.device.type != "cpu" or self.precision != "fp32"):
            raise ValueError("the onnx runtime runs fp32 on the CPU; leave device and precision unset or cpu/fp32")
        self.runtime = runtime
        if weights is not None and folds is not None:
            raise ValueError("give either folds (the bundle's fold models) or weights (files), not both")
        settings = {**(overrides or {}), "device": f"$torch.device('{self.device}')"}
        window = {"overlap": overlap, "mode": mode, "sw_batch_size": sw_batch_size}
        for name, value in window.items():
            if value is not None:
                if WINDOW_SETTINGS[name] not in self.layout.inference_ids:
                    raise ValueError(f"{self.layout.root}: the bundle's inferer does not take {name} "
                                     f"(no `{WINDOW_SETTINGS[name]}` id)")  # fmt: skip
                settings[WINDOW_SETTINGS[name]] = value
        if diameter is not None:
            if "object_diameter" not in self.layout.inference_ids:
                raise ValueError(f"{self.layout.root}: this bundle takes no object size (no `object_diameter` id)")
            size = size_setting(diameter)
            settings["object_diameter"] = "off" if size is None else size
        self.config = self.layout.inference_parser(tta=tta, modality=modality, overrides=settings)
        self.inferer = inferer if inferer is not None else self._built("inferer")
        self.prepare = self._built("prepare")
        self.to_probabilities = self._built("to_probabilities")
        self.to_labels = self._built("to_labels")
        self.window_size = tuple(int(w) for w in self._built("window_size"))
        if freeze_min_windows is None:  # the bundle's (or an override's), else 8
            declared = "freeze_min_windows" in self.config
            freeze_min_windows = int(self._built("freeze_min_windows")) if declared else 8
        self.freeze_min_windows = 0 if runtime == "onnx" else freeze_min_windows
        if isinstance(weights, (str, os.PathLike)):
            weights = [weights]
        self.weights = [Path(w) for w in weights] if weights is not None else self.layout.weights_for(folds)
        if not self.weights:
            raise ValueError("weights: no file given")
        if runtime == "onnx":
            from unet3d.inference.onnx_network import OnnxNetwork, onnx_path

            self.networks: list[torch.nn.Module] = [OnnxNetwork(onnx_path(w), weights=w) for w in self.weights]
        else:
            network = self._built("network_def")
            self.networks = [self._loaded(copy.deepcopy(network), path) for path in self.weights]
        self.network = self.networks[0]
        self._frozen: dict[int, torch.nn.Module] = {}

    def _built(self, id: str) -> Any:
        r"""The config's ``id``, built; a config that cannot build it is a ``ValueError`` naming
        the file, the id and the cause (MONAI wraps the cause in ``RuntimeError``\s)."""
        try:
            return self.config.get_parsed_content(id)
        except Exception as e:  # any constructor or expression error: "this bundle cannot build id"
            cause: BaseException = e
            while cause.__cause__ is not None:
                cause = cause.__cause__
            reason = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
            raise ValueError(f"{self.layout.inference_config}: `{id}` cannot be built ({reason})") from e

    def _loaded(self, network: torch.nn.Module, weights: Path) -> torch.nn.Module:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            network.load_state_dict(state.get("model", state))
        except Exception as e:  # pickle, zip and key errors: all mean "these weights cannot be used"
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ValueError(f"{weights}: cannot load the weights ({reason})") from e
        return network.to(self.device).eval()

    @property
    def members(self) -> int:
        """The predictions averaged per input: models x TTA copies."""
        copies, tta = 1, tta_inferer(self.inferer)
        if tta is not None and tta.enabled:
            copies = len(dihedral_transforms(self.spatial_dims, tta.flip_axes))
        return len(self.networks) * copies

    @property
    def metadata(self) -> dict[str, Any]:
        return self.layout.metadata

    @property
    def spatial_dims(self) -> int:
        return self.layout.spatial_dims

    @property
    def accepts_color(self) -> bool:
        """Whether the preprocessing turns colour images into the network's input (a transform
        with ``converts_color = True``, e.g. ``unet3d.transforms.BrightNucleid``)."""
        return any(getattr(t, "converts_color", False) for t in self.prepare.flatten().transforms)

    def runner_for(self, image: torch.Tensor, member: int = 0) -> Any:
        """The network to run on ``image`` (preprocessed, channel-first): for inputs of at least
        ``freeze_min_windows`` windows of ``window_size`` a frozen copy, made once per ensemble
        ``member``, else the member's network itself."""
        network = self.networks[member]
        if not self.freeze_min_windows:
            return network
        # MONAI's convention: a non-positive size means the image's own size on that axis
        window = math.prod(r if r > 0 else s for r, s in zip(self.window_size, image.shape[1:], strict=True))
        if image[0].numel() < self.freeze_min_windows * window:
            return network
        if member not in self._frozen:
            self._frozen[member] = frozen(network)
        return self._frozen[member]

    def autocast(self) -> contextlib.AbstractContextManager:
        """The context the network runs in: ``torch.autocast`` at :attr:`precision`, or none (fp32)."""
        dtype = PRECISIONS[self.precision]
        return contextlib.nullcontext() if dtype is None else torch.autocast(self.device.type, dtype=dtype)

    def _infer(self, x: torch.Tensor, network: Any, on_member: Callable[[torch.Tensor], None] | None) -> torch.Tensor:
        """The inferer on a batch; ``on_member`` sees each prediction that goes into the result
        (each TTA copy, or the one output)."""
        if on_member is None:
            return self.inferer(x, network)
        if isinstance(self.inferer, (DihedralTTAInferer, ObjectSizeInferer)):
            return self.inferer(x, network, on_copy=on_member)
        y = self.inferer(x, network)
        on_member(y)
        return y

    def logits(self, image: torch.Tensor, on_member: Callable[[torch.Tensor], None] | None = None) -> torch.Tensor:
        """The inferer's output for one preprocessed image ``(C, *spatial)``: ``(C_out, *spatial)``,
        float32 on the CPU (one copy per image, not per window). An ensemble (several fold models)
        returns the logarithm of its members' mean softmax (nnU-Net's fold averaging), so that the
        postprocessing's softmax gives that mean.

        ``on_member``, if given, is called with every prediction averaged into the result (each
        model's, each TTA copy's): logits ``(1, C_out, *spatial)`` on the network's grid.
        """
        x = image[None].to(self.device)
        with torch.inference_mode():
            if len(self.networks) == 1:
                with self.autocast():
                    logits = self._infer(x, self.runner_for(image), on_member)
                return logits[0].float().cpu()
            mean = torch.zeros((), device=self.device)
            for member in range(len(self.networks)):
                with self.autocast():
                    logits = self._infer(x, self.runner_for(image, member), on_member)
                mean = mean + torch.softmax(logits.float(), dim=1) / len(self.networks)
            return torch.log(mean.clamp_min(torch.finfo(mean.dtype).tiny))[0].cpu()

    def predict(self, image: torch.Tensor, probabilities: bool = False, agreement: bool = False) -> Prediction:
        """Segment one image (as :meth:`__call__` takes it) and, on request, keep the softmax and
        measure how much the averaged predictions (models x TTA copies) agree.

        Args:
            image: as for :meth:`__call__`.
            probabilities: also return the softmax per label on the input's grid (the bundle's
                ``to_probabilities``).
            agreement: also return, per label value, the fraction of the voxels that any averaged
                prediction gives that label where not all of them do (on the network's grid);
                ``None`` with one model and no TTA.

        Raises:
            ValueError: the image has the wrong number of channels.
        """
        data = self.prepare({"image": image})
        channels = getattr(self.network, "in_channels", None)
        if channels is not None and data["image"].shape[0] != channels:
            raise ValueError(f"{data['image'].shape[0]} channels; this bundle's network takes {channels}")
        votes = MemberVotes()
        data["pred"] = self.logits(data["image"], on_member=votes if agreement and self.members > 1 else None)
        data = self.to_probabilities(data)
        probs = data["pred"].detach().cpu().float().clone() if probabilities else None
        labels = self.to_labels(data)["pred"]
        labels = labels[0] if labels.ndim == self.spatial_dims + 1 else labels
        return Prediction(labels, probs, votes.disagreement(), self.members)

    def as_inferer(self) -> Any:
        """This predictor as a MONAI ``Inferer`` for an Ignite evaluator: it ignores the network the
        evaluator passes and runs :meth:`logits` (so ensembles and TTA score exactly as
        ``unet3d segment`` runs them) on each image of a batch ``(B, C, *spatial)``."""
        return PredictorInferer(self)

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Segment one image as MONAI's ``LoadImage`` returns it (a ``MetaTensor``, ``(*spatial)``
        or channel-first, with its geometry in ``affine``).

        Returns:
            The label map, ``(*spatial)`` (MONAI axis order, no channel axis), on the CPU; for
            bundles whose ``to_probabilities`` inverts the preprocessing (``Invertd``) it lies on
            the input's own grid.

        Raises:
            ValueError: the preprocessed image has another number of channels than the network takes.
        """
        return self.predict(image).labels


class PredictorInferer(Inferer):
    """:meth:`BundlePredictor.logits` behind MONAI's ``Inferer`` interface (see
    :meth:`BundlePredictor.as_inferer`); the ``network`` argument is not used."""

    def __init__(self, predictor: BundlePredictor) -> None:
        super().__init__()
        self.predictor = predictor

    def __call__(self, inputs: torch.Tensor, network: Any = None, *args: Any, **kwargs: Any) -> torch.Tensor:
        return torch.stack([self.predictor.logits(image) for image in inputs]).to(inputs.device)
