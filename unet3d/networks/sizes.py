"""Size arithmetic of the U-Net: which input sizes a network accepts and what it returns.

All sizes are in voxels, one integer per spatial axis, in the tensor's axis order
(``H, W`` in 2D, ``D, H, W`` in 3D). The functions are TorchScript-compatible so that
:class:`unet3d.networks.UNet` can check its input inside ``forward``.

With ``valid`` (unpadded) 3x3 convolutions every convolution removes 2 voxels per axis
and every 2x2 max-pooling halves the size, which must therefore be even. The paper's
network (depth 4) maps 572 to 388; valid inputs form the progression ``16 k + 12``.
With ``same`` (padded) convolutions the output size equals the input size, which must
be divisible by ``2**depth``.
"""

from typing import List, Tuple


def _output_size_1d(size: int, depth: int, valid: bool) -> int:
    """The output size along one axis, or -1 if ``size`` is not accepted."""
    if size <= 0:
        return -1
    if not valid:
        return size if size % int(2**depth) == 0 else -1
    shrink = 4  # voxels removed per axis by two unpadded 3x3 convolutions (a local: TorchScript)
    s = size
    for _ in range(depth):
        s -= shrink
        if s <= 0 or s % 2 != 0:
            return -1
        s = s // 2
    s -= shrink
    if s <= 0:
        return -1
    for _ in range(depth):
        s = 2 * s - shrink
        if s <= 0:
            return -1
    return s


def nearest_valid_sizes(size: int, depth: int, valid: bool) -> Tuple[int, int]:
    """The nearest accepted sizes at or below and at or above ``size`` along one axis.

    Returns ``-1`` for the lower one when no accepted size lies below ``size``.
    """
    step = int(2**depth)
    lower = -1
    for s in range(size, max(size - 2 * step, 0), -1):
        if _output_size_1d(s, depth, valid) > 0:
            lower = s
            break
    upper = max(size, 1)
    while _output_size_1d(upper, depth, valid) <= 0:
        upper += 1
    return lower, upper


def output_size(input_size: List[int], depth: int, valid: bool) -> List[int]:
    """The spatial output size of the U-Net for a spatial input size.

    Args:
        input_size: spatial input size in voxels, one entry per axis.
        depth: number of pooling steps (4 in the paper).
        valid: ``True`` for unpadded (paper) convolutions, ``False`` for padded ones.

    Raises:
        ValueError: if an axis has a size the network cannot take; the message names the
            size and the nearest accepted sizes.

    Example::

        >>> output_size([572, 572], depth=4, valid=True)
        [388, 388]
    """
    out: List[int] = []
    for axis, size in enumerate(input_size):
        o = _output_size_1d(size, depth, valid)
        if o <= 0:
            lower, upper = nearest_valid_sizes(size, depth, valid)
            mode = "valid" if valid else "same"
            raise ValueError(
                "input size "
                + str(size)
                + " along spatial axis "
                + str(axis)
                + " is not accepted by a depth-"
                + str(depth)
                + " U-Net with "
                + mode
                + " padding; nearest accepted sizes: "
                + (str(lower) + " and " if lower > 0 else "")
                + str(upper)
            )
        out.append(o)
    return out


def input_size_for_output(output: List[int], depth: int, valid: bool) -> List[int]:
    """The smallest accepted input size whose output covers at least ``output`` voxels.

    Overlap-tile inference uses it to choose input tiles: the returned input gives an output
    of ``output_size(result) >= output`` per axis (equal where ``output`` is itself reachable).

    Example::

        >>> input_size_for_output([388, 388], depth=4, valid=True)
        [572, 572]
        >>> input_size_for_output([60, 60, 60], depth=3, valid=False)
        [64, 64, 64]
    """
    result: List[int] = []
    for size in output:
        if size <= 0:
            raise ValueError("output size must be positive, got " + str(size))
        n = size
        while _output_size_1d(n, depth, valid) < size:
            n += 1
        result.append(n)
    return result
