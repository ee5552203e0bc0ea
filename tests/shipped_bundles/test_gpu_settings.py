"""Every bundle's GPU settings (``amp``, ``data_device``, windows per call), checked on a CPU machine:
the configs resolve for ``device: cuda`` without running CUDA, and a 2-iteration training with
``amp: true`` runs on the CPU (where autocast and gradient scaling switch themselves off)."""

from __future__ import annotations

import pytest
import torch
from monai.bundle import ConfigParser, ConfigWorkflow
from monai.data import DataLoader, ThreadDataLoader
from monai.transforms import ToDeviced

from benchmarks.common import ct_training_set
from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import run_recording_losses

BUNDLES = ("em", "hippocampus", "nuclei", "spleen_ct")


@pytest.fixture(scope="module")
def datasets(data_dir, tmp_path_factory) -> dict[str, str]:
    return {
        "em": str(data_dir / "isbi2012/train"),
        "hippocampus": str(data_dir / "msd_hippocampus"),
        "nuclei": str(data_dir / "ctc_fluo_nuclei/N2DH-GOWT1"),
        "spleen_ct": str(ct_training_set(data_dir, tmp_path_factory.mktemp("ct"))),
    }


def parsed(bundle: str, config: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "bundles" / bundle / "configs" / config))
    parser.update({"bundle_root": str(REPO_ROOT / "bundles" / bundle), **overrides})
    return parser


# a CUDA device everywhere, the network itself left on the CPU (this machine has no CUDA), nothing cached;
# a plain string, as MONAI Label passes it (`torch.device(@device)` in the configs takes both forms)
ON_CUDA = {"device": "cuda:0", "network": "$@network_def"}


@pytest.mark.parametrize("bundle", BUNDLES)
def test_training_config_resolves_for_cuda(bundle, datasets, tmp_path):
    parser = parsed(bundle, "train.yaml", dataset_dir=datasets[bundle], output_dir=str(tmp_path), **ON_CUDA,
                    **{"train#dataset#cache_rate": 0.0, "validate#dataset#cache_rate": 0.0})  # fmt: skip
    with pytest.warns(UserWarning):  # MONAI's GradScaler and autocast("cuda") say CUDA is missing here
        trainer = parser.get_parsed_content("train#trainer")
    evaluator = parser.get_parsed_content("validate#evaluator")
    assert trainer.amp and evaluator.amp and torch.device(trainer.state.device) == torch.device("cuda:0")
    assert isinstance(trainer.data_loader, ThreadDataLoader) and trainer.data_loader.num_workers == 0
    (move,) = [t for t in parser.get_parsed_content("train#augmentation") if isinstance(t, ToDeviced)]
    assert str(move.converter.device) == "cuda:0"
    assert "image" in move.keys and "label" in move.keys
    # the cached part ends with the move: every transform before it is deterministic
    transforms = parser.get_parsed_content("train#preprocessing").transforms
    from monai.transforms import Randomizable

    assert not any(isinstance(t, Randomizable) for t in transforms[: transforms.index(move)])
    assert any("cudnn" in str(step) for step in parser["initialize"])
    assert parser.get_parsed_content("amp") is True
    parser["device"] = "$torch.device('cpu')"  # the same config on a CPU: no AMP, data stays put
    parser.parse()
    assert parser.get_parsed_content("amp") is False and str(parser.get_parsed_content("data_device")) == "cpu"
    loader = parser.get_parsed_content("train#dataloader")
    assert type(loader) is DataLoader  # on a CPU a loader thread takes cores from the network


@pytest.mark.parametrize("bundle", BUNDLES)
def test_inference_config_resolves_for_cuda(bundle, tmp_path):
    weights = {"handlers#0#load_path": str(tmp_path / "model.pt")}  # not loaded here; spleen_ct ships none
    cpu = parsed(bundle, "inference.yaml", dataset_dir=str(tmp_path), **weights)
    gpu = parsed(bundle, "inference.yaml", dataset_dir=str(tmp_path), **weights, **ON_CUDA)
    assert gpu.get_parsed_content("evaluator").amp and not cpu.get_parsed_content("evaluator").amp
    inferers = [p.get_parsed_content("inferer") for p in (cpu, gpu)]
    windows = [getattr(i, "inferer", i) for i in inferers]  # the window inferer inside TTA
    batch = [getattr(w, "sw_batch_size", 1) for w in windows]
    assert batch[1] >= batch[0]
    if bundle in ("hippocampus", "spleen_ct"):  # 3D: several windows per call on a GPU
        assert batch[1] > batch[0], batch


@pytest.mark.slow
@pytest.mark.parametrize("bundle", ["em", "hippocampus", "nuclei"])  # spleen_ct: its own smoke test
def test_two_iterations_with_amp_on_the_cpu(bundle, datasets, tmp_path):
    small = {
        "em": {"samples_per_epoch": 2, "val_slices": [20], "patch_size": [572, 572]},
        "hippocampus": {"batch_size": 1, "train#datalist": "$@datalist['training'][:2]",
                        "validate#datalist": "$@datalist['validation'][:1]"},
        "nuclei": {"samples_per_epoch": 2, "batch_size": 1},
    }[bundle]  # fmt: skip
    wf = ConfigWorkflow(
        config_file=str(REPO_ROOT / "bundles" / bundle / "configs/train.yaml"), workflow_type="train",
        bundle_root=str(REPO_ROOT / "bundles" / bundle), dataset_dir=datasets[bundle], output_dir=str(tmp_path),
        max_epochs=1, val_interval=1, amp=True, **small,
    )  # fmt: skip
    trainer, losses = run_recording_losses(wf)
    assert trainer.amp and len(losses) == 2 and all(torch.isfinite(torch.tensor(losses))), losses
    assert (tmp_path / "checkpoints/checkpoint_epoch=1.pt").is_file()
