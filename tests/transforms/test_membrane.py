"""Tests for unet3d.transforms.membrane: closed boundaries without thicker membranes."""

from __future__ import annotations

import numpy as np
import torch
from skimage.measure import label

from unet3d.metrics import rand_error
from unet3d.transforms import MembraneMaskd, membrane_mask


def two_cells_with_a_faint_gap() -> tuple[np.ndarray, np.ndarray]:
    """Probability map of two cells split by a membrane that fades out in the middle."""
    truth = np.zeros((40, 60), np.uint8)
    truth[:, 29:31] = 1  # the membrane between the cells
    truth[[0, -1], :] = 1
    truth[:, [0, -1]] = 1
    prob = truth * 0.95 + 0.02
    prob[15:25, 29:31] = 0.45  # the network is unsure here: thresholding at 0.5 opens a gap
    return truth, prob.astype(np.float32)


def test_watershed_closes_the_gap_that_thresholding_leaves():
    truth, prob = two_cells_with_a_faint_gap()
    plain = membrane_mask(prob, threshold=0.5)
    closed = membrane_mask(prob, threshold=0.5, seed_threshold=0.2, min_seed_size=10)
    assert rand_error(truth, plain) > 0.3  # the two cells merge through the gap
    assert rand_error(truth, closed) < 0.02
    assert closed.sum() - plain.sum() <= 10  # only a one-pixel line was added in the gap


def test_small_seeds_are_ignored_and_3d_works():
    prob = np.full((6, 20, 20), 0.9, np.float32)
    prob[:, 2:18, 2:8] = 0.05
    prob[:, 2:18, 12:18] = 0.05
    prob[3, 10, 10] = 0.05  # a one-voxel seed in the membrane: too small to become a cell
    cells = [label(membrane_mask(prob, 0.5, 0.2, min_seed_size=n) == 0, connectivity=1).max() for n in (5, 1)]
    assert cells == [2, 3]  # kept as a seed, the voxel would become a cell of its own
    out = MembraneMaskd("pred", channel=1, threshold=0.5)({"pred": torch.from_numpy(np.stack([1 - prob, prob]))})
    assert out["pred"].shape == (1, 6, 20, 20) and out["pred"].dtype == torch.float32


def test_membrane_labels_from_isbi_or_masks():
    from monai.data import MetaTensor

    from unet3d.transforms import MembraneLabeld

    isbi = MetaTensor(torch.tensor([[[0.0, 255.0], [255.0, 0.0]]]))
    out = MembraneLabeld("label")({"label": isbi})["label"]
    assert isinstance(out, MetaTensor) and out.dtype == isbi.dtype
    assert out.tolist() == [[[1.0, 0.0], [0.0, 1.0]]]
    mask = torch.tensor([[[1, 0], [0, 0]]], dtype=torch.uint8)
    assert torch.equal(MembraneLabeld("label")({"label": mask})["label"], mask)
