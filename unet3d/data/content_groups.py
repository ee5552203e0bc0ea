"""Images that share pixel content: overlapping crops of one microscope field under different names.

DSB2018 holds such crops under different ids; a split that puts one crop in training and another in
validation scores the network on pixels it was trained on. A hash of every textured run of pixels,
a content-chosen fraction of them kept (so that the same runs are kept whatever the crop's offset),
finds them without comparing every pair of images pixel by pixel.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image


def content_hashes(image: Image.Image, run: int = 16, keep_every: int = 16) -> np.ndarray:
    """The distinct kept content hashes of one image, int64 (see :func:`overlap_groups`).

    Every horizontal run of ``run`` pixels (RGB, exact values) with some texture (standard
    deviation of green above 1.5 grey levels) is hashed; a content-chosen ``1 / keep_every`` of
    the hashes is kept, so the same runs are kept in every crop, whatever the offset.
    """
    rng = np.random.default_rng(0)
    weights = rng.integers(1, 2**61, size=run, dtype=np.int64)
    rgb = np.asarray(image.convert("RGB")).astype(np.int64)
    width = rgb.shape[1] - run + 1
    if width < 1:
        return np.zeros(0, np.int64)
    packed = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    # sum over shifts rather than a (H, W, run) window array: the same int64 values (the sum wraps
    # around: a hash, not a sum) in a fraction of the memory and time
    hashes = np.zeros((rgb.shape[0], width), np.int64)
    for k in range(run):
        hashes += packed[:, k : k + width] * weights[k]
    # rolling variance from cumulative sums, in exact integers: n * sum(x^2) - sum(x)^2 > (1.5 n)^2
    green = rgb[..., 1]
    zero = np.zeros((green.shape[0], 1), np.int64)
    c1 = np.concatenate([zero, np.cumsum(green, 1)], 1)
    c2 = np.concatenate([zero, np.cumsum(green * green, 1)], 1)
    total, squares = c1[:, run:] - c1[:, :-run], c2[:, run:] - c2[:, :-run]
    texture = (run * squares - total * total) > (1.5**2) * run * run
    return np.unique(hashes[texture & (hashes % keep_every == 0)])


def overlap_groups(paths: list[Path], run: int = 16, keep_every: int = 16, min_shared: int = 5) -> list[int]:
    """Group images that share pixel content (overlapping crops of one field): a group index per path.

    Each image's :func:`content_hashes` are computed; two images sharing at least ``min_shared``
    of them are joined, and groups are the connected components of that relation.
    """
    hashes = []
    for path in paths:
        with Image.open(path) as im:
            hashes.append(content_hashes(im, run, keep_every))
    return shared_content_groups(hashes, min_shared)


def shared_content_groups(hashes: Sequence[np.ndarray], min_shared: int = 5) -> list[int]:
    """Connected components of "shares at least ``min_shared`` hashes": a group index per image.

    Args:
        hashes: per image, its distinct :func:`content_hashes`.
    """
    values = np.concatenate([np.asarray(h, np.int64) for h in hashes] or [np.zeros(0, np.int64)])
    owner = np.repeat(np.arange(len(hashes)), [len(h) for h in hashes])
    order = np.argsort(values, kind="stable")
    values, owner = values[order], owner[order]
    _, starts, counts = np.unique(values, return_index=True, return_counts=True)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    content = (counts > 1) & (counts <= 10)  # a run found in many images is background, not content
    for start, count in zip(starts[content], counts[content], strict=True):
        members = owner[start : start + count].tolist()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared[(a, b)] += 1
    parent = list(range(len(hashes)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for (a, b), count in shared.items():
        if count >= min_shared:
            parent[find(a)] = find(b)
    return [find(i) for i in range(len(hashes))]
