"""Size-adaptive inference: estimate the objects' size from a cheap first pass, then infer on the
image zoomed so that they have the size the network handles best (Cellpose's approach).

MONAI's inferers run the network at the input's own scale. A network that over-splits large
nuclei does better on an image shrunk until its nuclei have the training images' typical size;
which zoom that is depends on each image (20x against 40x tissue, microscope cameras), so it is
estimated per image: a pass on the image shrunk by ``probe_scale`` (a fraction of the pixels)
gives instances whose median diameter (:func:`unet3d.transforms.object_size.median_diameter`)
sets the zoom. The logits come back on the input's own grid, so the bundle's postprocessing is
unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from monai.inferers import Inferer

from unet3d.inferers.tta import DihedralTTAInferer
from unet3d.transforms.nuclei import instance_labels
from unet3d.transforms.object_size import median_diameter, resize_to, scaled_size, size_scale


def size_setting(diameter: float | str | None) -> float | str | None:
    """A ``diameter`` setting checked: ``None`` for ``"off"``/``None``, ``"auto"``, or a positive
    float (px); anything else is a ``ValueError`` that says what is accepted."""
    if diameter is None or (isinstance(diameter, str) and diameter.strip().lower() == "off"):
        return None
    if isinstance(diameter, str) and diameter.strip().lower() == "auto":
        return "auto"
    try:
        value = float(diameter)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"diameter must be 'off', 'auto' or a positive number of px, got {diameter!r}")
    return value


class ObjectSizeInferer(Inferer):
    """``inferer`` run on each image zoomed so that its median object is ``target_diameter`` px.

    ``diameter`` says how the objects' size is known: ``"off"`` (or ``None``): not at all, this is
    ``inferer``; a number: the objects' median diameter in the input, px, for every image
    (Cellpose's ``diameter``); ``"auto"``: estimated per image of the batch. The probe
    (``probe_inferer`` on the image zoomed by ``probe_scale``) gives a foreground probability
    (softmax channel ``foreground_channel``), its objects (seeded watershed,
    :func:`unet3d.transforms.nuclei.instance_labels` with the instance settings below) their
    median diameter ``d`` (divided by the probe's zoom: px of the input). The image is then
    zoomed by ``min(max(target_diameter / d, min_scale), max_scale)``, its sides rounded to
    multiples of ``multiple``, and ``inferer``'s logits are resampled (linearly) back to the
    input's size.

    Args:
        inferer: the inferer for the zoomed image (e.g. a ``DihedralTTAInferer``).
        diameter: ``"off"``, ``"auto"`` or the objects' median diameter in the input, px (above).
        target_diameter: the median object diameter the network sees, px.
        probe_scale: the probe's zoom (fewer pixels: ``probe_scale ** 2`` of the network time).
        min_scale, max_scale: the zoom's range; ``max_scale=1`` only ever shrinks the image.
        probe_inferer: the probe's inferer; ``None``: ``inferer``.
        foreground_channel: the logits' channel of the objects.
        threshold, seed_threshold, min_seed_size, min_seed_fraction, min_size: the probe's
            objects (see ``instance_labels``; sizes in px of the probe): the bundle's own instance
            settings, so that the probe's objects are the ones the bundle would find there.
        multiple: the zoomed image's sides are multiples of it (``2 ** depth`` for a U-Net).
        on_scale: called with each image's zoom, e.g. to report it.

    Example::

        >>> sized = ObjectSizeInferer(SimpleInferer(), diameter="auto", target_diameter=18, multiple=16)
        >>> sized(torch.rand(1, 1, 512, 512), net).shape   # (1, C, 512, 512)
    """

    def __init__(
        self,
        inferer: Inferer,
        diameter: float | str | None = "auto",
        target_diameter: float = 18.0,
        probe_scale: float = 0.6,
        min_scale: float = 0.25,
        max_scale: float = 1.0,
        probe_inferer: Inferer | None = None,
        foreground_channel: int = 1,
        threshold: float = 0.6,
        seed_threshold: float | None = 0.8,
        min_seed_size: int = 0,
        min_seed_fraction: float = 0.0,
        min_size: int = 10,
        multiple: int = 1,
        on_scale: Callable[[float], None] | None = None,
    ) -> None:
        super().__init__()
        self.diameter = size_setting(diameter)
        if not target_diameter > 0:
            raise ValueError(f"target_diameter must be positive, got {target_diameter}")
        if not 0 < probe_scale <= 1 or not 0 < min_scale <= max_scale:
            raise ValueError(
                f"need 0 < probe_scale <= 1 and 0 < min_scale <= max_scale, got {probe_scale}, {min_scale}, {max_scale}"
            )
        self.inferer, self.probe_inferer = inferer, probe_inferer if probe_inferer is not None else inferer
        self.target_diameter, self.probe_scale = target_diameter, probe_scale
        self.min_scale, self.max_scale, self.multiple = min_scale, max_scale, multiple
        self.foreground_channel, self.threshold, self.seed_threshold = foreground_channel, threshold, seed_threshold
        self.min_seed_size, self.min_seed_fraction = min_seed_size, min_seed_fraction
        self.min_size, self.on_scale = min_size, on_scale

    def estimate_diameter(
        self, image: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any
    ) -> float:
        """The median object diameter (px of ``image`` ``(1, C, *spatial)``) from the probe; ``nan``
        where it finds no object."""
        size = scaled_size(image.shape[2:], self.probe_scale, self.multiple)
        logits = self.probe_inferer(resize_to(image, size), network, *args, **kwargs)
        prob = torch.softmax(logits.float(), dim=1)[0, self.foreground_channel].detach().cpu().numpy()
        objects = instance_labels(
            prob, self.threshold, self.seed_threshold, min_size=self.min_size, expand=0, keep_unseeded=False,
            min_seed_size=self.min_seed_size, min_seed_fraction=self.min_seed_fraction,
        )  # fmt: skip
        d = median_diameter(objects)
        # the probe's sides are rounded: its zoom per axis; the geometric mean converts the size
        zoom = math.prod(s / n for s, n in zip(size, image.shape[2:], strict=True)) ** (1.0 / len(size))
        return d / zoom

    def scale_for(self, image: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> float:
        """The zoom for one image ``(1, C, *spatial)``: 1 with ``diameter`` off."""
        if self.diameter is None:
            return 1.0
        if self.diameter == "auto":
            d = self.estimate_diameter(image, network, *args, **kwargs)
        else:
            d = float(self.diameter)
        return size_scale(d, self.target_diameter, self.min_scale, self.max_scale)

    def _zoomed(
        self,
        image: torch.Tensor,
        scale: float,
        network: Callable[..., torch.Tensor],
        on_copy: Any,
        *args: Any,
        **kwargs: Any,
    ) -> torch.Tensor:
        """``inferer``'s logits for ``image`` ``(N, C, *spatial)`` zoomed by ``scale``, on its grid."""
        shape = tuple(image.shape[2:])

        def back(y: torch.Tensor) -> torch.Tensor:
            return resize_to(y.float(), shape).to(y.dtype)

        if on_copy is not None:
            # each averaged copy, back on the input's grid (a wrapped DihedralTTAInferer's copies)
            if isinstance(self.inferer, DihedralTTAInferer):
                kwargs = {**kwargs, "on_copy": lambda y: on_copy(back(y))}
        if scale != 1.0:
            image = resize_to(image, scaled_size(shape, scale, self.multiple))
        y = back(self.inferer(image, network, *args, **kwargs))
        if on_copy is not None and "on_copy" not in kwargs:
            on_copy(y)
        return y

    def __call__(
        self,
        inputs: torch.Tensor,
        network: Callable[..., torch.Tensor],
        *args: Any,
        on_copy: Callable[[torch.Tensor], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Logits ``(N, C_out, *spatial)`` for ``inputs`` ``(N, C, *spatial)``, on the inputs' grid.

        ``on_copy``, if given, is called with each prediction averaged into the result (each
        test-time augmentation copy of a wrapped ``DihedralTTAInferer``, else the output), on the
        input's grid; ``args`` and the other ``kwargs`` go to the wrapped inferers.
        """
        if self.diameter is None:  # no zoom: the whole batch through the wrapped inferer, as without this
            return self._zoomed(inputs, 1.0, network, on_copy, *args, **kwargs)
        outputs = []
        for image in inputs.split(1):
            scale = self.scale_for(image, network, *args, **kwargs)
            if self.on_scale is not None:
                self.on_scale(scale)
            outputs.append(self._zoomed(image, scale, network, on_copy, *args, **kwargs))
        return torch.cat(outputs)
