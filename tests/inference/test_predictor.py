"""BundlePredictor: explicit settings, label maps of the input's shape, the fast frozen copy."""

from __future__ import annotations

import shutil

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
    never = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=0)
    assert never.runner_for(large) is never.network


def test_large_volume_segmented_as_by_the_eager_network(data_dir):
    """A real volume tiled 3x2x2 (more than 8 windows): the frozen path's mask equals the eager one's."""
    volume = read_volume(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz").image
    image = MetaTensor(volume.as_tensor().tile(3, 2, 2), affine=volume.affine, meta=dict(volume.meta))
    fast = BundlePredictor(HIPPOCAMPUS, device="cpu")
    assert isinstance(fast.runner_for(image[None]), torch.jit.ScriptModule)
    mask = fast(image.clone())
    reference = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=0)(image.clone())
    assert mask.shape == reference.shape == image.shape  # a label map of the input's shape, no channel axis
    assert (reference > 0).sum() > 1000  # the hippocampi were found, so the comparison means something
    assert (mask != reference).float().mean() < 1e-4


def test_inferer_settings_are_arguments():
    window = BundlePredictor(HIPPOCAMPUS, device="cpu", overlap=0.5, mode="constant", sw_batch_size=4).inferer.inferer
    assert isinstance(window, SlidingWindowInferer)  # inside the bundle's TTA wrapper
    assert (window.overlap, window.mode, window.sw_batch_size) == (0.5, "constant", 4)
    default = BundlePredictor(HIPPOCAMPUS, device="cpu").inferer.inferer
    assert (default.overlap, default.mode) == (0.25, "gaussian")  # the bundle's own
    nuclei = BundlePredictor(REPO_ROOT / "bundles" / "nuclei", device="cpu", sw_batch_size=2)
    assert nuclei.inferer.inferer.inferer.sw_batch_size == 2  # in the size zoom, in the TTA wrapper
    assert nuclei.inferer.probe_inferer.sw_batch_size == 2  # the size probe's window is the same
    mine = SlidingWindowInferer((32, 32, 32))
    assert BundlePredictor(HIPPOCAMPUS, device="cpu", inferer=mine).inferer is mine
    with pytest.raises(ValueError, match="does not take overlap"):
        BundlePredictor(REPO_ROOT / "bundles" / "em", device="cpu", overlap=0.5)  # overlap-tile has no overlap


def test_2d_label_map_has_the_image_shape(data_dir):
    image = read_volume(data_dir / "isbi2012" / "test" / "images" / "slice_00.png").image
    labels = BundlePredictor(REPO_ROOT / "bundles" / "em", device="cpu")(image)
    assert labels.shape == image.shape == (512, 512)
    assert set(torch.unique(labels).tolist()) == {0, 1}


def test_an_ensemble_of_identical_models_segments_as_one(data_dir, tmp_path):
    """models/fold_K.pt make an ensemble (mean softmax); two copies of the shipped model give its mask."""
    import shutil

    bundle = tmp_path / "hippocampus"
    shutil.copytree(HIPPOCAMPUS / "configs", bundle / "configs")
    (bundle / "models").mkdir()
    for name in ("model.pt", "fold_0.pt", "fold_1.pt"):
        shutil.copy(HIPPOCAMPUS / "models" / "model.pt", bundle / "models" / name)
    image = read_volume(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz").image
    single = BundlePredictor(HIPPOCAMPUS, device="cpu")(image.clone())
    ensemble = BundlePredictor(bundle, device="cpu")
    assert len(ensemble.networks) == 2
    assert (single > 0).sum() > 1000
    assert torch.equal(ensemble(image.clone()), single)
    assert len(BundlePredictor(bundle, device="cpu", folds=[1]).networks) == 1
    with pytest.raises(FileNotFoundError, match=r"no fold_3\.pt \(folds shipped: 0, 1\)"):
        BundlePredictor(bundle, device="cpu", folds=[3])


def test_explicit_weights_and_overrides(data_dir, tmp_path):
    """weights= replaces the bundle's files (a list averages them); overrides reach the config; not with folds."""
    image = read_volume(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz").image
    single = BundlePredictor(HIPPOCAMPUS, device="cpu")
    shipped = HIPPOCAMPUS / "models" / "model.pt"
    pair = BundlePredictor(HIPPOCAMPUS, device="cpu", weights=[shipped, shipped])
    assert len(pair.networks) == 2
    assert len(BundlePredictor(HIPPOCAMPUS, device="cpu", weights=shipped).networks) == 1  # one file
    assert torch.equal(pair(image.clone()), single(image.clone()))
    flips = BundlePredictor(HIPPOCAMPUS, device="cpu", tta=True, overrides={"tta_flip_axes": [0, 1]})
    assert flips.inferer.flip_axes == (0, 1)
    with pytest.raises(ValueError, match="either folds"):
        BundlePredictor(HIPPOCAMPUS, device="cpu", folds=[0], weights=[shipped])
    with pytest.raises(ValueError, match="cannot load the weights"):
        (tmp_path / "bad.pt").write_text("not weights")
        BundlePredictor(HIPPOCAMPUS, device="cpu", weights=[tmp_path / "bad.pt"])
    # a bundle without models/model.pt (still training) runs with a checkpoint given as weights
    untrained = tmp_path / "untrained"
    shutil.copytree(HIPPOCAMPUS, untrained, symlinks=True, ignore=shutil.ignore_patterns("models", "runs", "eval"))
    with pytest.raises(FileNotFoundError, match="no trained weights"):
        BundlePredictor(untrained, device="cpu")
    checkpoint = BundlePredictor(untrained, device="cpu", weights=shipped)
    assert torch.equal(checkpoint(image.clone()), single(image.clone()))


def test_member_votes_measure_disagreement():
    from unet3d.inference.predictor import MemberVotes

    votes = MemberVotes()
    a = torch.tensor([[[5.0, 0.0, 0.0, 0.0]], [[0.0, 5.0, 5.0, 0.0]]])  # (C=2, 1, 4): labels 0 1 1 0
    votes(a[None])
    assert votes.disagreement() is None  # one prediction: nothing to compare
    b = torch.tensor([[[5.0, 5.0, 0.0, 0.0]], [[0.0, 0.0, 5.0, 0.0]]])  # labels 0 0 1 0
    votes(b[None])
    # label 1: voxels 1 and 2 have it in some prediction, voxel 1 not in all -> 1/2; label 0: 3 voxels, 1 differs
    assert votes.disagreement() == pytest.approx({0: 1 / 3, 1: 1 / 2})


def test_mixed_precision_segments_as_fp32(data_dir):
    """bf16 autocast (what a GPU user gets with --precision bf16; fp16 is the CUDA default) runs on
    the CPU too: the real volume's mask agrees with fp32's, through the frozen copy as well."""
    image = read_volume(data_dir / "msd_hippocampus/imagesTr/hippocampus_003.nii.gz").image
    assert BundlePredictor(HIPPOCAMPUS, device="cpu").precision == "fp32"
    for freeze in (0, 1):
        reference = BundlePredictor(HIPPOCAMPUS, device="cpu", freeze_min_windows=freeze)(image)
        mixed = BundlePredictor(HIPPOCAMPUS, device="cpu", precision="bf16", freeze_min_windows=freeze)
        assert mixed.precision == "bf16"
        labels = mixed(image)
        for value in (1, 2):
            a, b = reference == value, labels == value
            assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.98
    with pytest.raises(ValueError, match="precision 'fp8'"):
        BundlePredictor(HIPPOCAMPUS, device="cpu", precision="fp8")
