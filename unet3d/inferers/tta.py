"""Test-time augmentation around any MONAI inferer: the mean over flipped/rotated copies.

MONAI's ``TestTimeAugmentation`` works on dictionaries through random invertible transforms and
reports the spread; a bundle's ``inferer`` slot takes an ``Inferer`` that maps a batch to logits.
This wraps one (``SlidingWindowInferer``, ``SimpleInferer``, ...) and averages its logits over the
deterministic dihedral set (:func:`dihedral_transforms`), so every bundle gets the same TTA
through its ``tta`` id, whatever its window inferer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from monai.inferers import Inferer


def dihedral_transforms(spatial_dims: int, flip_axes: Sequence[int] | None = None) -> list[tuple[int, tuple[int, ...]]]:
    """Test-time augmentations as ``(k, flip_dims)``: ``rot90(k)`` in the last two axes, then flips
    (``flip_dims`` are tensor dimensions of ``(N, C, *spatial)``).

    2D: the 8 rotations/reflections of the square (the paper averaged rotated inputs). 3D: the 8
    combinations of flips of the three axes (no rotation, as voxels are often anisotropic).
    ``flip_axes`` (spatial axes, 0-based) restricts either to the combinations of flips of those
    axes only, e.g. ``(0,)``: left-right for a model trained with left-right flips alone.
    """
    if spatial_dims == 2 and flip_axes is None:
        return [(k, flip) for k in range(4) for flip in ((), (3,))]
    axes = tuple(a + 2 for a in (range(spatial_dims) if flip_axes is None else flip_axes))
    return [
        (0, tuple(a for a, f in zip(axes, bits, strict=True) if f))
        for bits in itertools.product((0, 1), repeat=len(axes))
    ]


class DihedralTTAInferer(Inferer):
    """``inferer``'s logits averaged over the 8 flips/rotations (2D) or 8 axis flips (3D).

    In 2D the rotations are by 90 degrees in the image plane, so the input's spatial sizes are
    swapped for half the copies: the wrapped inferer must accept both orders (whole-image and
    sliding-window inference do). With ``enabled=False`` it is the wrapped inferer.

    Args:
        inferer: the inferer to run on each copy.
        enabled: average over the copies; ``False`` runs ``inferer`` once.
        flip_axes: spatial axes (0-based) whose flips are averaged (all their combinations, no
            rotation); ``None``: the full set above. E.g. ``[0]`` for a 3D model trained with
            left-right flips only (mirrored along the other axes, the anatomy is one it never saw).
        average: ``"logits"``: the mean of the copies' logits; ``"probabilities"``: the mean of
            their softmax over the channels (nnU-Net's mirroring), returned as its logarithm, so
            that a bundle's postprocessing softmax gives that mean back exactly.

    Example::

        >>> tta = DihedralTTAInferer(SlidingWindowInferer(roi_size=(-1, -1)))
        >>> tta(torch.rand(1, 1, 64, 96), net).shape   # (1, C, 64, 96), 8 network passes
    """

    def __init__(
        self,
        inferer: Inferer,
        enabled: bool = True,
        flip_axes: Sequence[int] | None = None,
        average: str = "logits",
    ) -> None:
        super().__init__()
        if average not in ("logits", "probabilities"):
            raise ValueError(f"average must be 'logits' or 'probabilities', got {average!r}")
        self.inferer, self.enabled, self.average = inferer, enabled, average
        self.flip_axes = None if flip_axes is None else tuple(int(a) for a in flip_axes)

    def __call__(
        self,
        inputs: torch.Tensor,
        network: Callable[..., torch.Tensor],
        *args: Any,
        on_copy: Callable[[torch.Tensor], None] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Logits ``(N, C_out, *spatial)`` for ``inputs`` ``(N, C, *spatial)``.

        ``on_copy``, if given, is called with each copy's output mapped back to the input's
        orientation (logits ``(N, C_out, *spatial)``), e.g. to measure how much the copies
        disagree; ``args`` and the other ``kwargs`` go to the wrapped inferer.
        """
        if not self.enabled:
            y = self.inferer(inputs, network, *args, **kwargs)
            if on_copy is not None:
                on_copy(y)
            return y
        total = None
        transforms = dihedral_transforms(inputs.dim() - 2, self.flip_axes)
        for k, flip in transforms:
            x = torch.rot90(inputs, k, dims=(-2, -1)) if k else inputs
            x = torch.flip(x, dims=flip) if flip else x
            y = self.inferer(x.contiguous(), network, *args, **kwargs)
            y = torch.flip(y, dims=flip) if flip else y
            y = torch.rot90(y, -k, dims=(-2, -1)) if k else y
            if on_copy is not None:
                on_copy(y)
            y = torch.softmax(y, dim=1) if self.average == "probabilities" else y
            total = y if total is None else total + y
        assert total is not None
        mean = total / len(transforms)
        return torch.log(mean.clamp_min(torch.finfo(mean.dtype).tiny)) if self.average == "probabilities" else mean


def tta_inferer(inferer: Any) -> DihedralTTAInferer | None:
    """The ``DihedralTTAInferer`` in ``inferer`` (itself, or one it wraps as ``.inferer``, e.g. in an
    ``ObjectSizeInferer``); ``None`` if there is none."""
    seen = 0
    while inferer is not None and seen < 8:
        if isinstance(inferer, DihedralTTAInferer):
            return inferer
        inferer, seen = getattr(inferer, "inferer", None), seen + 1
    return None
