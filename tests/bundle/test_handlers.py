"""ResumeFromLatest (resume or fine-tune) and EvaluationReport (CSV + JSON), on small engines."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from ignite.engine import Engine

from unet3d.bundle import EvaluationReport, ResumeFromLatest


def test_init_weights_used_only_without_a_checkpoint(tmp_path):
    source, target = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    torch.save(source.state_dict(), tmp_path / "model.pt")
    ckpt_dir = tmp_path / "checkpoints"
    ckpt_dir.mkdir()
    ResumeFromLatest(str(ckpt_dir), {"model": target}, init_weights=str(tmp_path / "model.pt")).attach(
        Engine(lambda e, b: None)
    )
    assert torch.equal(target.weight, source.weight)

    resumed = torch.nn.Linear(3, 2)
    torch.save({"model": resumed.state_dict()}, ckpt_dir / "checkpoint_epoch=3.pt")
    engine = Engine(lambda e, b: None)
    ResumeFromLatest(str(ckpt_dir), {"model": target}, init_weights=str(tmp_path / "model.pt")).attach(engine)
    engine.run([0], max_epochs=1)  # CheckpointLoader restores when the run starts
    assert torch.equal(target.weight, resumed.weight)  # the checkpoint wins over init_weights

    with pytest.raises(FileNotFoundError, match=r"missing\.pt: init_weights not found"):
        ResumeFromLatest(str(tmp_path / "none"), {"model": target}, init_weights=str(tmp_path / "missing.pt")).attach(
            Engine(lambda e, b: None)
        )


def test_report_has_one_column_per_class(tmp_path):
    from monai.data import MetaTensor

    def step(engine, batch):  # as MONAI's metric handlers with save_details=True leave it
        engine.state.metric_details = {"dice": torch.tensor([[0.8, 0.6], [1.0, float("nan")]])}
        return batch

    engine = Engine(step)
    EvaluationReport(str(tmp_path), class_names=["anterior", "posterior"]).attach(engine)

    batches = [{"image": MetaTensor(torch.zeros(1), meta={"filename_or_obj": f"case{i}.nii.gz"})} for i in (1, 2)]
    engine.run(batches, max_epochs=1)
    rows = list(csv.DictReader(open(tmp_path / "per_image.csv")))
    assert [r["image"] for r in rows] == ["case1.nii.gz", "case2.nii.gz"]
    assert float(rows[0]["dice"]) == pytest.approx(0.7) and float(rows[1]["dice"]) == pytest.approx(1.0)
    assert float(rows[0]["dice_posterior"]) == pytest.approx(0.6)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["images"] == 2 and summary["dice_anterior"]["mean"] == pytest.approx(0.9)
    assert summary["dice_posterior"]["mean"] == pytest.approx(0.6)  # NaN (class absent) left out
