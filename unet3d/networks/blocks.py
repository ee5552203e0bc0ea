"""Building blocks of :class:`unet3d.networks.UNet`, dimension-generic through MONAI's factories."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn as nn
from monai.networks.blocks import Convolution, UpSample
from monai.networks.layers.factories import Pool


def center_crop(x: torch.Tensor, size: list[int]) -> torch.Tensor:
    """Crop the spatial axes of ``x`` (``N, C, *spatial``) to ``size``, keeping the centre.

    The paper's skip connections crop the encoder features this way ("cropping is necessary
    due to the loss of border pixels in every convolution"). Where the difference is odd the
    extra voxel is dropped at the end of the axis.
    """
    for axis in range(len(size)):
        dim = axis + 2
        start = (x.shape[dim] - size[axis]) // 2
        x = x.narrow(dim, start, size[axis])
    return x


class DoubleConv(nn.Sequential):
    """Two 3x3 (3x3x3) convolutions, each followed by optional normalisation and activation.

    Args:
        spatial_dims: number of spatial dimensions, 2 or 3.
        in_channels: number of input channels.
        out_channels: number of output channels of both convolutions.
        act: activation type and arguments, e.g. ``("relu", {"inplace": True})``.
        norm: normalisation type and arguments, or ``None`` (the paper has none).
        padding: 0 for the paper's unpadded convolutions (each removes 2 voxels per axis), or
            ``kernel_size // 2`` (per axis) to keep the size.
        bias: whether the convolutions have a bias term.
        kernel_size: 3, or one size per axis, e.g. ``(3, 3, 1)``: in-plane only, for the levels of
            an anisotropic volume where the thick-slice axis is not yet pooled (nnU-Net's kernels).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple,
        norm: str | tuple | None,
        padding: int | Sequence[int],
        bias: bool = True,
        kernel_size: int | Sequence[int] = 3,
    ) -> None:
        super().__init__()
        kernel_size = kernel_size if isinstance(kernel_size, int) else tuple(kernel_size)
        padding = padding if isinstance(padding, int) else tuple(padding)
        for i, c_in in enumerate((in_channels, out_channels)):
            conv = Convolution(
                spatial_dims, c_in, out_channels, kernel_size=kernel_size, act=act, norm=norm, bias=bias,
                padding=padding,
            )  # fmt: skip
            self.add_module(f"conv_{i}", conv)


class Down(nn.Sequential):
    """2x2 (2x2x2) max-pooling with stride 2 followed by a :class:`DoubleConv`; ``stride`` (one
    factor per axis, e.g. ``(2, 2, 1)``) pools some axes only, kernel equal to stride;
    ``kernel_size`` and ``padding`` are the convolutions' (:class:`DoubleConv`)."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        out_channels: int,
        act: str | tuple,
        norm: str | tuple | None,
        padding: int | Sequence[int],
        bias: bool = True,
        stride: int | Sequence[int] = 2,
        kernel_size: int | Sequence[int] = 3,
    ) -> None:
        super().__init__()
        stride = stride if isinstance(stride, int) else tuple(stride)
        self.add_module("pool", Pool[Pool.MAX, spatial_dims](kernel_size=stride, stride=stride))
        self.add_module(
            "convs", DoubleConv(spatial_dims, in_channels, out_channels, act, norm, padding, bias, kernel_size)
        )


class UpCat(nn.Module):
    """Up-convolution, crop-and-concatenate skip connection, then a :class:`DoubleConv`.

    The up-convolution is the paper's 2x2 transposed convolution that halves the channels
    (kernel and stride ``scale``: one factor per axis for a level that pooled some axes only).
    The encoder features (``skip``) are centre-cropped to the upsampled size before
    concatenation (a no-op with padded convolutions).

    Args:
        spatial_dims: number of spatial dimensions, 2 or 3.
        in_channels: channels of the decoder input (before up-convolution).
        skip_channels: channels of the encoder features.
        out_channels: channels of the output.
        act: activation type and arguments.
        norm: normalisation type and arguments, or ``None``.
        padding: 0 (valid) or ``kernel_size // 2`` (same) for the two convolutions.
        bias: whether the convolutions have a bias term.
        scale: the upsampling factor, one int or one per axis (the matching :class:`Down`'s stride).
        kernel_size: the two convolutions' kernel, one int or one per axis (:class:`DoubleConv`).
    """

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        skip_channels: int,
        out_channels: int,
        act: str | tuple,
        norm: str | tuple | None,
        padding: int | Sequence[int],
        bias: bool = True,
        scale: int | Sequence[int] = 2,
        kernel_size: int | Sequence[int] = 3,
    ) -> None:
        super().__init__()
        scale = scale if isinstance(scale, int) else tuple(scale)
        self.up = UpSample(spatial_dims, in_channels, in_channels // 2, scale_factor=scale, mode="deconv", bias=bias)
        self.convs = DoubleConv(
            spatial_dims, in_channels // 2 + skip_channels, out_channels, act, norm, padding, bias, kernel_size
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = self.up(x)
        skip = center_crop(skip, list(x.shape[2:]))
        return self.convs(torch.cat([skip, x], dim=1))
