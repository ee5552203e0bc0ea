"""Overlap-tile inference (Ronneberger et al. 2015, Fig. 2) for valid-convolution U-Nets.

MONAI's ``SlidingWindowInferer`` assumes the network's output has its input's size; a network
with unpadded convolutions returns only the centre of each window, so it cannot be used there.
This inferer feeds tiles whose *outputs* cover the image exactly, once, with the missing context
at the image borders mirrored, as the paper does: no blending, no seams.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from monai.inferers import Inferer

from unet3d.networks.sizes import input_size_for_output, output_size


def mirror_pad(x: torch.Tensor, pads: Sequence[tuple[int, int]]) -> torch.Tensor:
    """Mirror-pad the spatial axes of ``x`` (``N, C, *spatial``) by ``(before, after)`` voxels per axis.

    Unlike ``F.pad(mode="reflect")`` the padding may exceed the axis size: the image is reflected
    repeatedly, like ``numpy.pad(mode="reflect")``.
    """
    for axis, (before, after) in enumerate(pads):
        dim = axis + 2
        while before > 0 or after > 0:
            room = x.shape[dim] - 1
            if room < 1:
                x = torch.cat([x] * (1 + before + after), dim=dim).narrow(dim, 0, x.shape[dim] + before + after)
                break
            b, a = min(before, room), min(after, room)
            pad = [0, 0] * (x.dim() - 2)
            pad[2 * (x.dim() - 1 - dim)] = b
            pad[2 * (x.dim() - 1 - dim) + 1] = a
            # reflect padding is implemented for (N, C, W), (N, C, H, W), (N, C, D, H, W)
            x = F.pad(x, pad, mode="reflect")
            before, after = before - b, after - a
    return x


@runtime_checkable
class TiledNetwork(Protocol):
    """What overlap-tile inference needs to know of a network: its depth (number of 2x poolings)
    and whether its convolutions are unpadded (``valid``: the output is smaller than the input).
    ``unet3d.networks.UNet`` and its frozen copies (``unet3d.inference.frozen``) have both."""

    depth: int
    valid: bool

    def __call__(self, x: torch.Tensor) -> torch.Tensor: ...


def network_geometry(
    network: Callable[..., torch.Tensor], depth: int | None = None, valid: bool | None = None
) -> tuple[int, bool]:
    """``(depth, valid)``: each as given, else read from ``network`` (or its DDP ``module``).

    Raises:
        ValueError: one of them is neither given nor an attribute of the network.
    """
    net = getattr(network, "module", network)  # DistributedDataParallel / DataParallel
    depth = getattr(net, "depth", None) if depth is None else depth
    valid = getattr(net, "valid", None) if valid is None else valid
    missing = [name for name, value in (("depth", depth), ("valid", valid)) if value is None]
    if missing:
        names = " and ".join(missing)
        raise ValueError(f"{type(net).__name__} has no {names} (see TiledNetwork); pass them to OverlapTileInferer")
    return int(depth), bool(valid)  # type: ignore[arg-type]


class OverlapTileInferer(Inferer):
    """Overlap-tile inference for U-Nets with valid convolutions, as a MONAI ``Inferer``.

    Per axis, the fewest tiles no larger than ``roi_size`` are chosen, and the smallest tile size
    with which they cover the image; each tile's input is its output region plus the network's
    border (92 px for the paper's network) taken from the mirror-padded image. Tile origins are
    multiples of ``2**depth`` so that overlapping tiles agree exactly: the result equals a single
    valid pass over the whole mirror-padded image (no seams), at the input's spatial size.

    Args:
        roi_size: the largest input tile per axis, in voxels (e.g. 572 for the paper); it must be an
            accepted size of the network (see :func:`unet3d.networks.output_size`).
        sw_batch_size: tiles per network call.
        depth: the network's depth; read from ``network.depth`` if ``None``.
        valid: whether the network uses valid convolutions; read from ``network.valid`` if ``None``
            (each is resolved on its own; a network without the attribute is an error, see
            :class:`TiledNetwork`).

    Test-time augmentation is :class:`unet3d.inferers.DihedralTTAInferer` around this inferer,
    as for any other.

    Example::

        >>> net = UNet(spatial_dims=2, features=(16, 32, 64, 128, 256)).eval()
        >>> OverlapTileInferer(roi_size=572)(torch.rand(1, 1, 512, 512), net).shape
        torch.Size([1, 2, 512, 512])
    """

    def __init__(
        self,
        roi_size: Sequence[int] | int,
        sw_batch_size: int = 1,
        depth: int | None = None,
        valid: bool | None = None,
    ) -> None:
        super().__init__()
        self.roi_size = roi_size
        self.sw_batch_size = sw_batch_size
        self.depth, self.valid = depth, valid

    def plan(self, image_size: Sequence[int], depth: int, valid: bool) -> list[tuple[int, int, int, int]]:
        """Per axis: output tile size, stride, number of tiles and border (voxels).

        Tile origins are multiples of ``2**depth``, so every tile sees the max-pooling grid in the
        same phase and a voxel covered by two tiles gets the same value from both: the result
        equals one valid pass over the whole mirror-padded image.
        """
        roi = [self.roi_size] * len(image_size) if isinstance(self.roi_size, int) else list(self.roi_size)
        max_out = output_size(roi, depth, valid)
        align = int(2**depth)
        plan = []
        for size, r, m in zip(image_size, roi, max_out, strict=True):
            border = (r - m) // 2
            stride_max = max(m - m % align, align)
            n = 1 if size <= m else 1 + math.ceil((size - m) / stride_max)
            # the smallest tile (accepted input size) whose n strided copies cover the axis
            t_in = input_size_for_output([1], depth, valid)[0]
            while True:
                tile = output_size([t_in], depth, valid)[0]
                stride = max(tile - tile % align, align)
                if (n - 1) * stride + tile >= size:
                    break
                t_in = input_size_for_output([tile + 1], depth, valid)[0]
            plan.append((tile, stride, n, border))
        return plan

    def _infer(self, x: torch.Tensor, network: Callable[..., torch.Tensor], depth: int, valid: bool) -> torch.Tensor:
        spatial = list(x.shape[2:])
        plan = self.plan(spatial, depth, valid)
        covered = [(n - 1) * stride + tile for tile, stride, n, _ in plan]
        padded = mirror_pad(x, [(b, b + c - s) for (_, _, _, b), c, s in zip(plan, covered, spatial, strict=True)])
        origins = list(itertools.product(*[[i * stride for i in range(n)] for _, stride, n, _ in plan]))
        out = None
        for start in range(0, len(origins), self.sw_batch_size):
            batch = origins[start : start + self.sw_batch_size]
            windows = []
            for origin in batch:
                window = padded
                for axis, (lo, (tile, _, _, b)) in enumerate(zip(origin, plan, strict=True)):
                    window = window.narrow(axis + 2, lo, tile + 2 * b)
                windows.append(window)
            pred = network(torch.cat(windows, dim=0))
            if out is None:
                out = pred.new_zeros((x.shape[0], pred.shape[1], *covered))
            for j, origin in enumerate(batch):
                region = out
                for axis, (lo, (tile, _, _, _)) in enumerate(zip(origin, plan, strict=True)):
                    region = region.narrow(axis + 2, lo, tile)
                region.copy_(pred[j * x.shape[0] : (j + 1) * x.shape[0]])
        assert out is not None
        for axis, s in enumerate(spatial):
            out = out.narrow(axis + 2, 0, s)
        return out.contiguous()

    def __call__(self, inputs: torch.Tensor, network: Callable[..., torch.Tensor], *args: Any, **kwargs: Any) -> Any:
        """Infer ``inputs`` ``(N, C, *spatial)``; returns logits ``(N, C_out, *spatial)``."""
        depth, valid = network_geometry(network, self.depth, self.valid)

        def run(x: torch.Tensor) -> torch.Tensor:
            return network(x, *args, **kwargs)

        return self._infer(inputs, run, depth, valid)
