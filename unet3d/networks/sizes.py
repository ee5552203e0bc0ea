"""Size arithmetic of the U-Net: which input sizes a network accepts and what it returns.

All sizes are in voxels, one integer per spatial axis, in the tensor's axis order
(``H, W`` in 2D, ``D, H, W`` in 3D). The functions are TorchScript-compatible so that
:class:`unet3d.networks.UNet` can check its input inside ``forward``.

With ``valid`` (unpadded) 3x3 convolutions every convolution removes 2 voxels per axis
and every 2x2 max-pooling halves the size, which must therefore be even. The paper's
network (depth 4) maps 572 to 388; valid inputs form the progression ``16 k + 12``.
With ``same`` (padded) convolutions the output size equals the input size, which must
be divisible by ``2**depth``.

A network may pool some axes less than others (``strides``: per pooling level, the factor per
axis, 1 or 2; nnU-Net's per-axis pooling for anisotropic volumes). An axis pooled ``k`` times
then behaves as in a depth-``k`` network with padded convolutions; with unpadded ones a level
that does not pool an axis still removes 4 voxels on the way down and 4 on the way up.
"""

from typing import List, Tuple


def axis_factors(depth: int, strides: List[List[int]] | None, axis: int) -> List[int]:
    """The pooling factor of each level (``depth`` of them) along spatial ``axis``: 2 on every
    level when ``strides`` is ``None``, else ``strides[level][axis]``."""
    if strides is None:
        return [2] * depth
    return [int(strides[level][axis]) for level in range(depth)]


def divisors(strides: List[List[int]], spatial_dims: int) -> List[int]:
    """Per spatial axis, the product of its pooling factors over the levels of ``strides``: what
    the sizes a padded network takes must be multiples of.

    Example::

        >>> divisors([[2, 2, 1], [2, 2, 2]], 3)
        [4, 4, 2]
    """
    result: List[int] = []
    for axis in range(spatial_dims):
        step = 1
        for level in strides:
            step *= int(level[axis])
        result.append(step)
    return result


def _poolings(factors: List[int]) -> int:
    """How many levels pool an axis with these factors."""
    n = 0
    for f in factors:
        if f > 1:
            n += 1
    return n


def _output_size_1d(size: int, factors: List[int], valid: bool) -> int:
    """The output size along one axis pooled by ``factors`` (one per level), or -1 if ``size``
    is not accepted."""
    if size <= 0:
        return -1
    step = 1
    for f in factors:
        step *= f
    if not valid:
        return size if size % step == 0 else -1
    shrink = 4  # voxels removed per axis by two unpadded 3x3 convolutions (a local: TorchScript)
    s = size
    for f in factors:
        s -= shrink
        if s <= 0 or s % f != 0:
            return -1
        s = s // f
    s -= shrink
    if s <= 0:
        return -1
    for i in range(len(factors)):
        s = factors[len(factors) - 1 - i] * s - shrink
        if s <= 0:
            return -1
    return s


def nearest_valid_sizes(
    size: int, depth: int, valid: bool, strides: List[List[int]] | None = None, axis: int = 0
) -> Tuple[int, int]:
    """The nearest accepted sizes at or below and at or above ``size`` along spatial ``axis``.

    Returns ``-1`` for the lower one when no accepted size lies below ``size``.
    """
    factors = axis_factors(depth, strides, axis)
    step = 1
    for f in factors:
        step *= f
    lower = -1
    for s in range(size, max(size - 2 * step, 0), -1):
        if _output_size_1d(s, factors, valid) > 0:
            lower = s
            break
    upper = max(size, 1)
    while _output_size_1d(upper, factors, valid) <= 0:
        upper += 1
    return lower, upper


def output_size(input_size: List[int], depth: int, valid: bool, strides: List[List[int]] | None = None) -> List[int]:
    """The spatial output size of the U-Net for a spatial input size.

    Args:
        input_size: spatial input size in voxels, one entry per axis.
        depth: number of pooling steps (4 in the paper).
        valid: ``True`` for unpadded (paper) convolutions, ``False`` for padded ones.
        strides: per pooling level, the pooling factor per axis (1 or 2); ``None``: 2 on every
            axis.

    Raises:
        ValueError: if an axis has a size the network cannot take; the message names the
            size and the nearest accepted sizes.

    Example::

        >>> output_size([572, 572], depth=4, valid=True)
        [388, 388]
        >>> output_size([64, 64, 20], depth=3, valid=False, strides=[[2, 2, 1], [2, 2, 2], [2, 2, 2]])
        [64, 64, 20]
    """
    out: List[int] = []
    for axis, size in enumerate(input_size):
        o = _output_size_1d(size, axis_factors(depth, strides, axis), valid)
        if o <= 0:
            lower, upper = nearest_valid_sizes(size, depth, valid, strides, axis)
            mode = "valid" if valid else "same"
            raise ValueError(
                "input size "
                + str(size)
                + " along spatial axis "
                + str(axis)
                + " is not accepted by a depth-"
                + str(depth)
                + " U-Net"
                + (
                    ""
                    if strides is None
                    else " pooling it " + str(_poolings(axis_factors(depth, strides, axis))) + " times"
                )
                + " with "
                + mode
                + " padding; nearest accepted sizes: "
                + (str(lower) + " and " if lower > 0 else "")
                + str(upper)
            )
        out.append(o)
    return out


def input_size_for_output(
    output: List[int], depth: int, valid: bool, strides: List[List[int]] | None = None
) -> List[int]:
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
    for axis, size in enumerate(output):
        if size <= 0:
            raise ValueError("output size must be positive, got " + str(size))
        factors = axis_factors(depth, strides, axis)
        n = size
        while _output_size_1d(n, factors, valid) < size:
            n += 1
        result.append(n)
    return result
