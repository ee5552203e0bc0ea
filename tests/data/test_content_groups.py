from __future__ import annotations

import numpy as np
from PIL import Image

from unet3d.data.content_groups import content_hashes, overlap_groups, shared_content_groups


def test_overlap_groups_find_shifted_crops(tmp_path):
    rng = np.random.default_rng(1)
    field = rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)
    other = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    paths = []
    for name, array in (("a", field[:128, :128]), ("b", field[37:165, 59:187]), ("c", other)):
        paths.append(tmp_path / f"{name}.png")
        Image.fromarray(array).save(paths[-1])
    groups = overlap_groups(paths)
    assert groups[0] == groups[1] != groups[2]


def test_flat_images_share_nothing_and_narrow_images_hash_nothing():
    """Runs without texture (a flat background) are not content; an image narrower than a run has no runs."""
    flat = Image.fromarray(np.full((64, 64, 3), 200, np.uint8))
    assert content_hashes(flat).size == 0
    assert content_hashes(Image.fromarray(np.zeros((64, 8, 3), np.uint8))).size == 0
    assert shared_content_groups([content_hashes(flat), content_hashes(flat)]) == [0, 1]
    assert shared_content_groups([]) == []
