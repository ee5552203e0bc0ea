"""Faster CPU copies of a bundle's network for inference: same function, same weights.

``benchmarks/infer_options.py`` measures each step; ``tests/inference/test_frozen.py`` checks that
the logits stay equal up to float rounding.
"""

from __future__ import annotations

import copy
import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

KEPT_ATTRIBUTES = ("depth", "valid")  # unet3d.inferers.TiledNetwork: read by OverlapTileInferer


def instance_norms_as_group_norms(network: nn.Module) -> nn.Module:
    """``network`` with every instance norm that uses its input's own statistics replaced by a
    ``GroupNorm`` with one group per channel, in place.

    Both normalise each (sample, channel) over its spatial axes with the same ``eps`` and per-
    channel affine weights, so the function is unchanged. PyTorch runs instance norm as a batch
    norm over ``N*C`` channels; its group-norm kernel is several times faster on the hippocampus
    network's feature maps (``benchmarks/infer_options.py``). Instance norms with running
    statistics are left as they are.
    """
    for name, child in list(network.named_children()):
        if isinstance(child, nn.modules.instancenorm._InstanceNorm) and not child.track_running_stats:
            group = nn.GroupNorm(child.num_features, child.num_features, eps=child.eps, affine=child.affine)
            if child.affine:
                group.load_state_dict(child.state_dict())
            setattr(network, name, group)
        else:
            instance_norms_as_group_norms(child)
    return network


class PairwiseMaxPool(nn.Module):
    """2x2 (2x2x2) max-pooling with stride 2 as element-wise maxima of strided views, one axis at a
    time. Same values as ``nn.MaxPool{2,3}d(2, 2)`` (odd sizes drop their last voxel, NaN
    propagates) without the index tensor that PyTorch's CPU kernel computes even when it is not
    returned.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for dim in range(2, x.dim()):
            half = x.shape[dim] // 2
            pairs = x.narrow(dim, 0, 2 * half).unflatten(dim, [half, 2])
            x = torch.maximum(pairs.select(dim + 1, 0), pairs.select(dim + 1, 1))
        return x


class ShuffledUpConv(nn.Module):
    """A 2x2 (2x2x2) transposed convolution with stride 2, run as a 1x1 convolution to ``2**d``
    times the channels whose outputs are then interleaved on the doubled grid.

    With kernel equal to stride the transposed convolution's output blocks do not overlap, so
    each output voxel is one dot product over the input channels, as here. PyTorch runs the
    transposed convolution through a slower path (col2vol).

    Args:
        up: the ``nn.ConvTranspose2d``/``3d`` to replace (kernel 2, stride 2, no padding, groups 1).
    """

    def __init__(self, up: nn.modules.conv._ConvTransposeNd) -> None:
        super().__init__()
        self.spatial_dims, self.out_channels = up.weight.dim() - 2, up.out_channels
        in_ch, blocks = up.in_channels, 2**self.spatial_dims
        conv_type = nn.Conv3d if self.spatial_dims == 3 else nn.Conv2d
        self.conv = conv_type(in_ch, self.out_channels * blocks, 1, bias=up.bias is not None)
        with torch.no_grad():  # (in, out, *kernel) -> (out * kernel offsets, in, 1, ...): channel o*blocks+t
            weight = up.weight.reshape(in_ch, self.out_channels * blocks).t()
            self.conv.weight.copy_(weight.reshape(self.conv.weight.shape))
            if up.bias is not None and self.conv.bias is not None:
                self.conv.bias.copy_(up.bias.repeat_interleave(blocks))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z, n, c = self.conv(x), x.shape[0], self.out_channels
        if self.spatial_dims == 3:
            d, h, w = x.shape[2], x.shape[3], x.shape[4]
            z = z.view(n, c, 2, 2, 2, d, h, w).permute(0, 1, 5, 2, 6, 3, 7, 4)
            return z.reshape(n, c, 2 * d, 2 * h, 2 * w)
        h, w = x.shape[2], x.shape[3]
        return z.view(n, c, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3).reshape(n, c, 2 * h, 2 * w)


def _all(value: Any, target: int) -> bool:
    """Whether a layer argument (an int or one int per axis) is ``target`` on every axis."""
    return all(v == target for v in (value if isinstance(value, tuple) else (value,)))


def _is_2_stride_2(m: nn.MaxPool2d | nn.MaxPool3d | nn.ConvTranspose2d | nn.ConvTranspose3d) -> bool:
    """Kernel 2 and stride 2 on every axis, no padding, no dilation."""
    return _all(m.kernel_size, 2) and _all(m.stride, 2) and _all(m.padding, 0) and _all(m.dilation, 1)


def fast_resampling(network: nn.Module) -> nn.Module:
    """``network`` with its 2x2 (2x2x2) stride-2 max-poolings as :class:`PairwiseMaxPool` and its
    stride-2 up-convolutions as :class:`ShuffledUpConv`, in place. Same function; other poolings
    and transposed convolutions are left as they are."""
    for name, child in list(network.named_children()):
        if (
            isinstance(child, (nn.MaxPool2d, nn.MaxPool3d))
            and _is_2_stride_2(child)
            and not (child.ceil_mode or child.return_indices)
        ):
            setattr(network, name, PairwiseMaxPool())
        elif (
            isinstance(child, (nn.ConvTranspose2d, nn.ConvTranspose3d))
            and _is_2_stride_2(child)
            and _all(child.output_padding, 0)
            and child.groups == 1
        ):
            setattr(network, name, ShuffledUpConv(child))
        else:
            fast_resampling(child)
    return network


def frozen(network: nn.Module) -> nn.Module:
    """A fast copy of ``network`` for inference: instance norms as group norms
    (:func:`instance_norms_as_group_norms`), poolings and up-convolutions in faster equivalent
    forms (:func:`fast_resampling`), then TorchScript scripted and frozen (weights inlined
    as constants). ``network`` itself is returned if it cannot be scripted. ``depth`` and
    ``valid`` stay readable (overlap-tile uses them); ``network`` is not changed.
    """
    try:
        fast = fast_resampling(instance_norms_as_group_norms(copy.deepcopy(network).eval()))
        keep = [a for a in KEPT_ATTRIBUTES if hasattr(fast, a)]
        return torch.jit.freeze(torch.jit.script(fast), preserved_attrs=keep)
    except Exception as e:  # a network TorchScript cannot compile still runs, only slower
        logger.warning(f"running {type(network).__name__} eagerly: TorchScript failed ({e})")
        return network
