"""Drop-in replacements for two MONAI transforms that are slow on CT-sized volumes.

On a CT-sized volume (measured in ``benchmarks/README.md``), MONAI 1.6's

- ``AsDiscreted(argmax=True)`` spends most of its time in ``torch.argmax(x, dim=0)`` over the
  channels: PyTorch's CPU reduction over the outermost dimension is slow. A running maximum over
  the channels gives the same labels in a fraction of the time (the figures: ``benchmarks/README.md``).
- ``NormalizeIntensityd(nonzero=True)`` spends most of its time in boolean-mask indexing
  (``img[img != 0]`` and its write-back) of a ``MetaTensor``. Masked sums give the same mean and
  standard deviation without copying the selected voxels.

Both give MONAI's result up to float rounding (``tests/transforms/test_large_volume.py``), keep the
input's metadata and run in 2D and 3D. They are not written for more than speed: use MONAI's
transforms for their other options.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type, convert_to_tensor


def argmax_channels(x: torch.Tensor) -> torch.Tensor:
    """Per-voxel index of the largest channel, as ``torch.argmax(x, 0, keepdim=True)``.

    Ties go to the lowest channel index, as in ``torch.argmax``; NaNs are not treated specially.

    Args:
        x: ``(C, *spatial)`` scores (logits or probabilities), ``spatial`` 2D or 3D.

    Returns:
        ``(1, *spatial)``, same dtype and type (``MetaTensor`` metadata kept) as ``x``.

    Examples::

        argmax_channels(torch.rand(3, 64, 64))  # 2D: (1, 64, 64)
        argmax_channels(torch.rand(3, 512, 512, 200))  # 3D: (1, 512, 512, 200)
    """
    t = convert_to_tensor(x, track_meta=False)
    best = t[0].clone()
    index = torch.zeros(t.shape[1:], dtype=torch.uint8 if t.shape[0] <= 256 else torch.int64, device=t.device)
    for c in range(1, t.shape[0]):
        better = t[c] > best  # strictly greater: a tie keeps the lower index
        index.masked_fill_(better, c)
        torch.maximum(best, t[c], out=best)
    out, *_ = convert_to_dst_type(index[None], x, dtype=x.dtype)
    return out


def zscore(x: torch.Tensor, nonzero: bool = True, channel_wise: bool = True) -> torch.Tensor:
    """``(x - mean) / std`` as MONAI's ``NormalizeIntensity`` computes it (population std; a zero
    std divides by 1), over the non-zero voxels only if ``nonzero`` (zeros stay 0).

    Args:
        x: ``(C, *spatial)``, any real dtype; the result is float32.
        nonzero: statistics over, and normalisation of, the non-zero voxels only.
        channel_wise: statistics per channel rather than over all channels.

    Returns:
        float32 ``(C, *spatial)``, same type as ``x`` (``MetaTensor`` metadata kept).
    """
    t = convert_to_tensor(x, dtype=torch.float32, track_meta=False)
    out_t = torch.empty_like(t)  # MONAI writes into its input; this leaves the input as it was
    for g, o in zip(t, out_t, strict=True) if channel_wise else [(t, out_t)]:
        n = int(torch.count_nonzero(g)) if nonzero else g.numel()
        if n == 0:  # nothing to normalise, as MONAI
            o.copy_(g)
            continue
        # float32 sums as in MONAI's torch.mean/torch.std (PyTorch sums in cascades, so they stay
        # accurate on 52 M voxels); zeros add nothing to the sum
        mean = float(g.sum()) / n
        torch.sub(g, mean, out=o)
        if nonzero:
            o.mul_(g != 0)  # the zeros stay zero and add nothing to the variance
        std = (float(o.square().sum()) / n) ** 0.5 or 1.0
        o.div_(std)
    out, *_ = convert_to_dst_type(out_t, x, dtype=torch.float32)
    return out


class ArgmaxChannelsd(MapTransform):
    """Dictionary :func:`argmax_channels`: ``AsDiscreted(keys, argmax=True)``, fast on large volumes."""

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = argmax_channels(d[key])
        return d


class ZScored(MapTransform):
    """Dictionary :func:`zscore`: ``NormalizeIntensityd(keys, nonzero, channel_wise)``, fast on large volumes."""

    def __init__(
        self, keys: KeysCollection, nonzero: bool = True, channel_wise: bool = True, allow_missing_keys: bool = False
    ) -> None:
        super().__init__(keys, allow_missing_keys)
        self.nonzero, self.channel_wise = nonzero, channel_wise

    def __call__(self, data: Mapping[Hashable, torch.Tensor]) -> dict[Hashable, torch.Tensor]:
        d = dict(data)
        for key in self.key_iterator(d):
            d[key] = zscore(d[key], self.nonzero, self.channel_wise)
        return d
