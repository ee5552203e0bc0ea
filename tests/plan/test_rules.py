"""Tests for unet3d.plan.rules: each planning rule on its own, with the shipped bundles' figures."""

from __future__ import annotations

import math

import pytest

from unet3d import networks
from unet3d.plan import rules


def test_target_spacing_is_the_median_and_keeps_thick_slices_finer():
    assert rules.target_spacing([[1, 1, 1], [1, 1, 1.2], [0.9, 1, 1]]) == [1.0, 1.0, 1.0]
    # the shared NRRD cases: 0.78 mm in plane, 6.5 / 6.5 / 2.1 mm slices: anisotropic, the coarse
    # axis takes its 10th percentile instead of the median
    target = rules.target_spacing([[0.78, 0.78, 6.5], [0.78, 0.78, 6.5], [0.66, 0.66, 2.1]])
    assert target[:2] == [0.78, 0.78] and 2.1 < target[2] < 6.5


def test_patch_is_the_median_shape_rounded_to_the_pooling_grid():
    # the hippocampus: median shape 35 x 50 x 36 at 1 mm -> the shipped bundle's patch and depth
    assert rules.patch_size([35, 50, 36], [1.0, 1.0, 1.0], 64**3) == ([40, 56, 40], [[2, 2, 2]] * 3)
    # a large volume is shrunk along its longest physical axis until it fits the budget
    patch, strides = rules.patch_size([512, 512, 300], [0.8, 0.8, 1.0], 64**3)
    assert math.prod(patch) <= 64**3 and all(p % 2 ** len(strides) == 0 for p in patch)
    assert rules.pooling([512, 512], [1, 1], rules.MAX_DEPTH[2]) == [[2, 2]] * rules.MAX_DEPTH[2]
    assert rules.pooling([6, 6], [1, 1], 5) == [[2, 2]]  # at least one pooling
    # a long 2D patch pools its long axis further
    assert rules.pooling([16, 128], [1, 1], 5) == [[2, 2], [2, 2], [1, 2], [1, 2], [1, 2]]


def test_thick_slices_are_pooled_once_in_plane_has_caught_up():
    # the shared NRRD MR cases (0.78 mm in plane, slices resampled to 3.6 mm): in-plane only
    # until the in-plane spacing is within twice the slices', then every axis (nnU-Net's rule)
    strides = rules.pooling([192, 192, 24], [0.78, 0.78, 3.6], 4)
    assert strides == [[2, 2, 1], [2, 2, 1], [2, 2, 2], [2, 2, 2]]
    patch, strides = rules.patch_size([200, 190, 22], [0.78, 0.78, 3.6], 64**3)
    divisors = networks.divisors(strides, 3)
    assert divisors[2] < divisors[0] and all(p % d == 0 for p, d in zip(patch, divisors, strict=True))
    assert 16 <= patch[2] <= 24  # the slices are not padded up to the in-plane multiple


def test_thick_slices_are_convolved_in_plane_until_their_spacing_is_reached():
    # the same cases: 3x3x1 while the slices are more than twice the in-plane spacing (levels 0
    # and 1), 3x3x3 from the level where pooling has brought them within that, and at the bottleneck
    strides = [[2, 2, 1], [2, 2, 1], [2, 2, 2], [2, 2, 2]]
    kernels = rules.conv_kernels(strides, [0.78, 0.78, 3.6])
    assert kernels == [[3, 3, 1], [3, 3, 1], [3, 3, 3], [3, 3, 3], [3, 3, 3]]
    # a kernel once 3 stays 3; nearly isotropic volumes and 2D images get 3 everywhere
    assert rules.conv_kernels([[2, 2, 2]] * 3, [1.0, 1.0, 1.5]) == [[3, 3, 3]] * 4
    assert rules.conv_kernels([[2, 2]] * 5, [1.0, 1.0]) == [[3, 3]] * 6
    # slices never pooled (too few of them) keep kernel 1 down to the bottleneck
    assert rules.conv_kernels([[2, 2, 1]] * 2, [0.5, 0.5, 5.0]) == [[3, 3, 1], [3, 3, 1], [3, 3, 3]]


def test_features_batch_and_epochs():
    assert rules.features(3) == [16, 32, 64, 128] and rules.features(5) == [16, 32, 64, 128, 256, 256]
    assert rules.batch_size([40, 56, 40], 2 * 64**3, 3) == 2
    assert rules.batch_size([64, 64], 4 * 256 * 256, 2) == 16 and rules.batch_size([512, 512], 4 * 256**2, 2) == 2
    epochs, interval = rules.epochs_for(3600, epoch_s=60, validation_s=30)
    usable = 3600 * (1 - rules.OVERHEAD)
    assert interval == 5 and epochs * 60 + (epochs / interval) * 30 <= usable < (epochs + 1) * 66
    assert rules.epochs_for(10, epoch_s=60, validation_s=30) == (2, 1)  # at least 2 epochs


def test_normalisation_ct_and_others():
    stats = {"p00_5": -1000.0, "p99_5": 400.0, "mean": 50.0, "std": 100.0}
    assert rules.normalisation(True, stats, 0.0) == {"kind": "ct", "clip": [-1000.0, 400.0], "mean": 50.0, "std": 100.0}
    assert rules.normalisation(False, stats, 0.6) == {"kind": "zscore", "nonzero": True}  # skull-stripped
    assert rules.normalisation(False, stats, 0.01) == {"kind": "zscore", "nonzero": False}


@pytest.mark.parametrize("spacing, dims, expected", [
    ([1.0, 1.0], 2, [math.pi]),
    ([1.0, 1.0, 1.0], 3, [0.2618] * 3),
    ([0.8, 0.8, 5.0], 3, [0.0, 0.0, 0.2618]),  # thick slices: in-plane rotation only
])  # fmt: skip
def test_rotation_and_flips(spacing, dims, expected):
    assert rules.rotation_range(spacing, dims) == expected
    assert rules.flip_axes(2) == [0, 1] and rules.flip_axes(3) == [0]


def test_foreground_fraction():
    assert rules.foreground_fraction([{0: 90, 1: 10}, {0: 50, 2: 50}, {0: 100}]) == pytest.approx(0.1)
