"""BundlePredictor: explicit settings, label maps of the input's shape, the fast frozen copy."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor
from monai.inferers import SlidingWindowInferer

from tests.conftest import REPO_ROOT
from unet3d.inference import BundlePredictor
from unet3d.io import read_volume

HIPPOCAMPUS = REPO_ROOT / "bundles" / "hippocampus"


def test_only_inputs_of_many_windows_are_frozen():
    predictor = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=8)
    small = torch.zeros(1, 40, 56, 40)
    large = torch.zeros(1, 40 * 8, 56, 40)
    assert predictor.runner_for(small) is predictor.network
    runner = predictor.runner_for(large)
    assert isinstance(runner, torch.jit.ScriptModule)
    assert predictor.runner_for(large) is runner  # made once
    never = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=None)
    assert never.runner_for(large) is never.network


def test_large_volume_segmented_as_by_the_eager_network(data_dir):
    """A real volume tiled 3x2x2 (more than 8 windows): the frozen path's mask equals the eager one's."""
    volume = read_volume(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz").image
    image = MetaTensor(volume.as_tensor().tile(3, 2, 2), affine=volume.affine, meta=dict(volume.meta))
    fast = BundlePredictor(HIPPOCAMPUS, device="cpu")
    assert isinstance(fast.runner_for(image[None]), torch.jit.ScriptModule)
    mask = fast(image.clone())
    reference = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=None)(image.clone())
    assert mask.shape == reference.shape == image.shape  # a label map of the input's shape, no channel axis
    assert (reference > 0).sum() > 1000  # the hippocampi were found, so the comparison means something
    assert (mask != reference).float().mean() < 1e-4


def test_inferer_settings_are_arguments():
    predictor = BundlePredictor(HIPPOCAMPUS, device="cpu", overlap=0.5, mode="constant", sw_batch_size=4)
    assert isinstance(predictor.inferer, SlidingWindowInferer)
    assert (predictor.inferer.overlap, predictor.inferer.mode, predictor.inferer.sw_batch_size) == (0.5, "constant", 4)
    default = BundlePredictor(HIPPOCAMPUS, device="cpu")
    assert (default.inferer.overlap, default.inferer.mode) == (0.25, "gaussian")  # the bundle's own
    nuclei = BundlePredictor(REPO_ROOT / "bundles" / "nuclei", device="cpu", sw_batch_size=2)  # inside its TTA wrapper
    assert nuclei.inferer.inferer.sw_batch_size == 2
    mine = SlidingWindowInferer((32, 32, 32))
    assert BundlePredictor(HIPPOCAMPUS, device="cpu", inferer=mine).inferer is mine
    with pytest.raises(ValueError, match="does not take overlap"):
        BundlePredictor(REPO_ROOT / "bundles" / "em", device="cpu", overlap=0.5)  # overlap-tile has no overlap


def test_2d_label_map_has_the_image_shape(data_dir):
    image = read_volume(data_dir / "isbi2012" / "test" / "images" / "slice_00.png").image
    labels = BundlePredictor(REPO_ROOT / "bundles" / "em", device="cpu")(image)
    assert labels.shape == image.shape == (512, 512)
    assert set(torch.unique(labels).tolist()) == {0, 1}
