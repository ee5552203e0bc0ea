"""bundles/spleen_ct: a CT bundle without weights. The user's commands on the project's one real CT
series: training (a few iterations), then DICOM in, DICOM SEG out with the weights trained."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pydicom
import pytest

from benchmarks.common import ct_training_set
from tests.conftest import REPO_ROOT
from tests.shipped_bundles.common import bundle_cmd, check_inference_repeats_train, run

BUNDLE = REPO_ROOT / "bundles/spleen_ct"
UNET3D = [sys.executable, "-m", "unet3d.cli"]


def test_layout_links_and_no_weights():
    for rel in ("configs/metadata.json", "configs/train.yaml", "configs/inference.yaml", "configs/evaluate.yaml",
                "configs/logging.conf", "docs/README.md", "LICENSE"):  # fmt: skip
        assert (BUNDLE / rel).is_file(), rel
    for name in ("train.yaml", "inference.yaml", "evaluate.yaml", "metadata.json", "logging.conf"):
        assert (BUNDLE / name).resolve() == (BUNDLE / "configs" / name).resolve()
    assert not list(BUNDLE.glob("models/*.pt")), "the CT bundle ships no weights (no labelled CT here)"
    meta = json.loads((BUNDLE / "configs/metadata.json").read_text())
    assert meta["dicom_seg_codes"]["1"]["type"] == ["78961009", "SCT", "Spleen"]


def test_inference_repeats_train_exactly():
    keys = ("network_def", "spatial_dims", "pixdim", "hu_window")
    check_inference_repeats_train(BUNDLE, keys)


def test_verify_net_in_out_and_metadata():
    common = ["--meta_file", "bundles/spleen_ct/configs/metadata.json", "--config_file",
              "bundles/spleen_ct/configs/inference.yaml", "--bundle_root", "bundles/spleen_ct"]  # fmt: skip
    res = run(bundle_cmd("verify_net_in_out", "network_def", *common))
    assert res.returncode == 0 and "verified with no error" in res.stdout + res.stderr, res.stderr[-2000:]
    res = run(bundle_cmd("verify_metadata", "--meta_file", "bundles/spleen_ct/configs/metadata.json",
                         "--filepath", "bundles/meta_schema.json"))  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]


def test_segment_and_bundle_inference_refuse_the_untrained_bundle(data_dir, tmp_path):
    out = tmp_path / "out"
    res = run([*UNET3D, "segment", str(data_dir / "dicom/ct_abdomen_series"), "--bundle", "bundles/spleen_ct",
               "--output-dir", str(out)])  # fmt: skip
    assert res.returncode == 1 and "Traceback" not in res.stderr
    (line,) = res.stderr.strip().splitlines()
    assert "no trained weights" in line and "monai.bundle run training --config_file" in line, line
    assert not out.exists() or not any(out.iterdir())
    res = run(bundle_cmd("run", "--config_file", "bundles/spleen_ct/inference.yaml", "--dataset_dir",
                         str(tmp_path), "--output_dir", str(out)))  # fmt: skip
    assert res.returncode == 1 and "no trained weights" in res.stderr.strip().splitlines()[-1], res.stderr[-1500:]


@pytest.mark.slow
def test_smoke_training_on_real_ct_then_dicom_seg_from_the_series(data_dir, tmp_path):
    """Training (2 iterations, AMP switched on: a no-op on the CPU), the best model published to
    the (copied) bundle, then `unet3d segment` on the DICOM series writes a DICOM SEG on its grid."""
    dataset = ct_training_set(data_dir, tmp_path / "Task09_like")
    bundle = tmp_path / "spleen_ct"
    shutil.copytree(BUNDLE, bundle, symlinks=True)
    res = run(bundle_cmd("run", "training", "--config_file", str(bundle / "train.yaml"), "--dataset_dir",
                         str(dataset), "--num_folds", "2", "--max_epochs", "2", "--val_interval", "1",
                         "--batch_size", "1", "--samples_per_volume", "1", "--amp", "true",
                         "--publish_model", "true"))  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert "val_mean_dice" in res.stdout + res.stderr
    assert (bundle / "runs/fold_0/checkpoints/checkpoint_epoch=2.pt").is_file()
    assert (bundle / "models/model.pt").is_file(), "training did not publish models/model.pt"

    series = data_dir / "dicom/ct_abdomen_series"
    out = tmp_path / "out"
    res = run([*UNET3D, "segment", str(series), "--bundle", str(bundle), "--output-dir", str(out)])
    assert res.returncode == 0, res.stderr[-3000:]
    (seg_file,) = out.glob("*.dcm")
    seg = pydicom.dcmread(seg_file)
    assert seg.Modality == "SEG" and seg.SegmentSequence[0].SegmentLabel == "spleen"
    code = seg.SegmentSequence[0].SegmentedPropertyTypeCodeSequence[0]
    assert (code.CodeValue, code.CodingSchemeDesignator) == ("78961009", "SCT")
    source = [pydicom.dcmread(f, stop_before_pixels=True) for f in sorted(series.iterdir())]
    assert seg.NumberOfFrames == len(source) and (seg.Rows, seg.Columns) == (source[0].Rows, source[0].Columns)
    referenced = {i.ReferencedSOPInstanceUID for i in seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence}
    # this series blanks SOPInstanceUID in its data sets (the file meta holds it); the SEG references the real one
    assert referenced == {ds.file_meta.MediaStorageSOPInstanceUID for ds in source}
    from unet3d.io.dicom_seg import read_dicom_seg

    labels, names = read_dicom_seg(seg_file, source)
    assert labels.shape == (len(source), 512, 512) and names == {1: "spleen"} and set(np.unique(labels)) <= {0, 1}
