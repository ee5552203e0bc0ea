"""BundlePredictor: large inputs run through the fast frozen copy with the same result."""

from __future__ import annotations

import torch
from monai.data import MetaTensor

import unet3d.bundle.predictor as predictor_module
from tests.conftest import REPO_ROOT
from unet3d.bundle.predictor import FREEZE_MIN_WINDOWS, BundlePredictor
from unet3d.io import read_volume

HIPPOCAMPUS = REPO_ROOT / "bundles" / "hippocampus"


def test_only_inputs_of_many_windows_are_frozen():
    predictor = BundlePredictor(HIPPOCAMPUS, device="cpu")
    small = torch.zeros(1, 40, 56, 40)
    large = torch.zeros(1, 40 * FREEZE_MIN_WINDOWS, 56, 40)
    assert predictor.runner_for(small) is predictor.network
    runner = predictor.runner_for(large)
    assert isinstance(runner, torch.jit.ScriptModule)
    assert predictor.runner_for(large) is runner  # made once


def test_large_volume_segmented_as_by_the_eager_network(data_dir, monkeypatch):
    """A real volume tiled 3x2x2 (more than 8 windows): the frozen path's mask equals the eager one's."""
    volume = read_volume(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz").image
    image = MetaTensor(volume.as_tensor().tile(3, 2, 2), affine=volume.affine, meta=dict(volume.meta))
    fast = BundlePredictor(HIPPOCAMPUS, device="cpu")
    mask = fast(image.clone())
    assert isinstance(fast._frozen, torch.jit.ScriptModule)
    monkeypatch.setattr(predictor_module, "FREEZE_MIN_WINDOWS", 10**9)
    eager = BundlePredictor(HIPPOCAMPUS, device="cpu")
    reference = eager(image.clone())
    assert eager._frozen is None
    assert mask.shape == reference.shape == (1, *image.shape)
    assert (reference > 0).sum() > 1000  # the hippocampi were found, so the comparison means something
    assert (mask != reference).float().mean() < 1e-4
