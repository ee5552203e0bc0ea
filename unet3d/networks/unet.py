"""The U-Net of Ronneberger et al. (2015), one class for 2D and 3D."""

from __future__ import annotations

from collections.abc import Sequence
from typing import List

import torch
import torch.nn as nn
from monai.networks.layers.factories import Conv, Dropout

from unet3d.networks.blocks import DoubleConv, Down, UpCat
from unet3d.networks.sizes import divisors, input_size_for_output, output_size

__all__ = ["UNet", "per_axis_kernels", "per_axis_strides"]

PAPER_FEATURES = (64, 128, 256, 512, 1024)


def _per_level(
    values: Sequence[int | Sequence[int]],
    name: str,
    levels: int,
    spatial_dims: int,
    allowed: tuple[int, int],
    unit: str,
    order: str,
) -> list[list[int]]:
    """``values`` (per level an int or one per axis) as one list per level of one int per axis,
    checked: ``levels`` levels, ``spatial_dims`` entries each, every entry in ``allowed``;
    ``unit`` names an entry and ``order`` the levels in the error messages."""
    out = [[int(v)] * spatial_dims if isinstance(v, int) else [int(a) for a in v] for v in values]
    if len(out) != levels or any(len(level) != spatial_dims for level in out):
        raise ValueError(f"{name} needs {levels} levels of {spatial_dims} {unit}s ({order}), got {values}")
    if any(a not in allowed for level in out for a in level):
        raise ValueError(f"{name}: {unit}s are {allowed[0]} or {allowed[1]}, got {values}")
    return out


def per_axis_strides(strides: Sequence[int | Sequence[int]] | None, depth: int, spatial_dims: int) -> list[list[int]]:
    """``strides`` as one list of factors per level, one factor per axis (2 everywhere for ``None``).

    Raises:
        ValueError: not ``depth`` levels, a level without one factor per axis, or a factor other
            than 1 and 2.
    """
    if strides is None:
        return [[2] * spatial_dims for _ in range(depth)]
    return _per_level(strides, "strides", depth, spatial_dims, (1, 2), "factor", "one per pooling")


def per_axis_kernels(
    kernel_sizes: Sequence[int | Sequence[int]] | None, depth: int, spatial_dims: int
) -> list[list[int]]:
    """``kernel_sizes`` as one list of sizes per level (``depth + 1``: the top level to the
    bottleneck), one size per axis (3 everywhere for ``None``).

    Raises:
        ValueError: not ``depth + 1`` levels, a level without one size per axis, or a size other
            than 1 and 3.
    """
    if kernel_sizes is None:
        return [[3] * spatial_dims for _ in range(depth + 1)]
    return _per_level(kernel_sizes, "kernel_sizes", depth + 1, spatial_dims, (1, 3), "size", "top level to bottleneck")


class UNet(nn.Module):
    """U-Net (Ronneberger, Fischer and Brox, MICCAI 2015), dimension-generic.

    Contracting path: per level two 3x3 (3x3x3) convolutions with ReLU, then 2x2 max-pooling
    with stride 2, channels doubling (64 to 1024 in the paper). Expanding path: per level a
    2x2 up-convolution halving the channels, concatenation with the centre-cropped encoder
    features, two 3x3 convolutions with ReLU. A final 1x1 convolution maps to ``out_channels``
    logits. With the paper's five widths that is 23 convolutional layers.

    ``padding="valid"`` is the paper's network: no padding, so the output is smaller than the
    input (572x572 gives 388x388) and inference over large images uses overlap-tiles
    (:class:`unet3d.inferers.OverlapTileInferer`). ``padding="same"`` pads the convolutions so the
    output has the input's size (which must be divisible by ``2**depth``); it is usually combined
    with normalisation and works with MONAI's ``SlidingWindowInferer``.

    Weights are initialised as in the paper: Gaussian with standard deviation ``sqrt(2 / N)``,
    ``N`` the fan-in (He initialisation).

    Args:
        spatial_dims: number of spatial dimensions, 2 or 3.
        in_channels: number of input channels.
        out_channels: number of output channels (classes); the network returns logits.
        features: channels of each level, from the top level to the bottleneck; its length
            minus one is the depth (number of poolings). Defaults to the paper's
            ``(64, 128, 256, 512, 1024)``.
        padding: ``"valid"`` (paper, unpadded) or ``"same"`` (padded) convolutions.
        act: activation type and arguments. Defaults to ReLU.
        norm: normalisation after each convolution, e.g. ``"batch"`` or ``"instance"``, or
            ``None`` (the paper has none).
        dropout: dropout probability at the end of the contracting path (after the bottleneck),
            where the paper puts it. 0 disables it.
        bias: whether convolutions have a bias term.
        strides: per pooling level (``depth`` entries, top first), the pooling factor: an int (1
            or 2) or one per spatial axis, e.g. ``[(2, 2, 1), (2, 2, 1), (2, 2, 2)]`` to keep
            the thick-slice axis of an anisotropic volume unpooled at the top two levels
            (nnU-Net's per-axis pooling). ``None``: 2 on every axis, the paper's. Factors other
            than 2 need ``padding="same"`` (overlap-tile inference assumes the paper's grid); an
            axis pooled ``k`` times takes sizes divisible by ``2**k``.
        kernel_sizes: per level (``depth + 1`` entries, top level first, the bottleneck last), the
            convolutions' kernel: 3 or 1 per spatial axis, e.g. ``[(3, 3, 1), (3, 3, 1), (3, 3, 3),
            (3, 3, 3)]`` so that the top levels of an anisotropic volume convolve in-plane only
            while its thick slices are not yet pooled (nnU-Net's kernels; the decoder level uses
            its encoder level's kernel). ``None``: 3 everywhere, the paper's. Sizes other than 3
            need ``padding="same"``.

    Examples::

        # the paper's 2D network: (1, 1, 572, 572) -> (1, 2, 388, 388)
        >>> net = UNet(spatial_dims=2, in_channels=1, out_channels=2, padding="valid")

        # a padded 3D network with instance norm: (1, 1, 64, 64, 64) -> (1, 3, 64, 64, 64)
        >>> net = UNet(spatial_dims=3, in_channels=1, out_channels=3, features=(16, 32, 64, 128),
        ...            padding="same", norm="instance")

        # an anisotropic volume (thick slices along the last axis), pooled in-plane first:
        # (1, 1, 64, 64, 20) -> (1, 2, 64, 64, 20)
        >>> net = UNet(spatial_dims=3, in_channels=1, out_channels=2, features=(16, 32, 64, 128),
        ...            padding="same", norm="instance", strides=[(2, 2, 1), (2, 2, 2), (2, 2, 2)])

        # the same, convolving in-plane only at the top level (where the slices are not pooled)
        >>> net = UNet(spatial_dims=3, in_channels=1, out_channels=2, features=(16, 32, 64, 128),
        ...            padding="same", norm="instance", strides=[(2, 2, 1), (2, 2, 2), (2, 2, 2)],
        ...            kernel_sizes=[(3, 3, 1), (3, 3, 3), (3, 3, 3), (3, 3, 3)])
    """

    def __init__(
        self,
        spatial_dims: int = 2,
        in_channels: int = 1,
        out_channels: int = 2,
        features: Sequence[int] = PAPER_FEATURES,
        padding: str = "valid",
        act: str | tuple = ("relu", {"inplace": True}),
        norm: str | tuple | None = None,
        dropout: float = 0.0,
        bias: bool = True,
        strides: Sequence[int | Sequence[int]] | None = None,
        kernel_sizes: Sequence[int | Sequence[int]] | None = None,
    ) -> None:
        super().__init__()
        if spatial_dims not in (2, 3):
            raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        features = tuple(int(f) for f in features)
        if len(features) < 2:
            raise ValueError(f"features needs at least two levels, got {features}")
        self.spatial_dims = spatial_dims
        self.features = features
        self.depth = len(features) - 1
        self.valid = padding == "valid"
        self.strides: List[List[int]] = per_axis_strides(strides, self.depth, spatial_dims)
        self.uniform = all(f == 2 for level in self.strides for f in level)
        if self.valid and not self.uniform:
            raise ValueError(f"strides other than 2 need padding='same', got {self.strides} with padding='valid'")
        self.kernel_sizes: List[List[int]] = per_axis_kernels(kernel_sizes, self.depth, spatial_dims)
        if self.valid and any(k != 3 for level in self.kernel_sizes for k in level):
            raise ValueError(f"kernel sizes other than 3 need padding='same', got {self.kernel_sizes}")
        # per level, the padding that keeps the size (same) or none (valid: the paper's)
        pads = [[0 if self.valid else k // 2 for k in level] for level in self.kernel_sizes]
        kernels = self.kernel_sizes

        self.stem = DoubleConv(spatial_dims, in_channels, features[0], act, norm, pads[0], bias, kernels[0])
        self.encoders = nn.ModuleList(
            [
                Down(
                    spatial_dims,
                    features[i],
                    features[i + 1],
                    act,
                    norm,
                    pads[i + 1],
                    bias,
                    self.strides[i],
                    kernels[i + 1],
                )
                for i in range(self.depth)
            ]
        )
        drop_type = Dropout[Dropout.DROPOUT, spatial_dims]
        self.dropout = drop_type(dropout) if dropout > 0 else nn.Identity()
        self.decoders = nn.ModuleList(
            [
                UpCat(
                    spatial_dims,
                    features[i + 1],
                    features[i],
                    features[i],
                    act,
                    norm,
                    pads[i],
                    bias,
                    self.strides[i],
                    kernels[i],
                )
                for i in reversed(range(self.depth))
            ]
        )
        self.head = Conv[Conv.CONV, spatial_dims](features[0], out_channels, kernel_size=1)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
                # fan-in of a transposed convolution is out_channels * prod(kernel), PyTorch's fan_out
                transposed = isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose3d))
                nn.init.kaiming_normal_(m.weight, mode="fan_out" if transposed else "fan_in", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Map ``(N, C_in, *spatial)`` to logits ``(N, C_out, *output_size(spatial))``.

        Raises:
            ValueError: if a spatial size is not accepted (see :meth:`output_size`).
        """
        strides: List[List[int]] | None = None if self.uniform else self.strides
        output_size(list(x.shape[2:]), self.depth, self.valid, strides)  # raises a clear ValueError
        x = self.stem(x)
        skips = [x]
        for encoder in self.encoders:
            x = encoder(x)
            skips.append(x)
        x = self.dropout(skips.pop())
        for i, decoder in enumerate(self.decoders):
            x = decoder(x, skips[self.depth - 1 - i])
        return self.head(x)

    @torch.jit.unused
    def output_size(self, input_size: Sequence[int]) -> list[int]:
        """Spatial output size (voxels, same axis order) for a spatial input size.

        Raises:
            ValueError: naming the size and the nearest accepted ones, if not accepted.
        """
        return output_size([int(s) for s in input_size], self.depth, self.valid, self.strides)

    @torch.jit.unused
    def input_size_for_output(self, output: Sequence[int]) -> list[int]:
        """The smallest accepted spatial input size whose output covers ``output`` voxels."""
        return input_size_for_output([int(s) for s in output], self.depth, self.valid, self.strides)

    @torch.jit.unused
    def divisors(self) -> list[int]:
        """Per spatial axis, what padded inputs' sizes must be multiples of (``2**depth`` on every
        axis unless ``strides`` pools some axes less)."""
        return divisors(self.strides, self.spatial_dims)

    @torch.jit.unused
    def border(self) -> int:
        """Voxels lost on each side of each axis in valid mode (92 for the paper), 0 in same mode."""
        n = self.input_size_for_output([1])[0]
        return (n - self.output_size([n])[0]) // 2
