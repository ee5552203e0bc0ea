"""``python -m monai.bundle run training`` against bad data and bad disks: one line naming the file.

Each case copies a few real files of ``../shared/data`` into a temporary folder, breaks them there
and runs the training command as a user does; the last line of stderr is the error.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from PIL import Image

from tests.shipped_bundles.common import bundle_cmd, run


def em_data(data: Path, tmp: Path) -> Path:
    root = tmp / "data"
    for sub in ("images", "labels"):
        (root / sub).mkdir(parents=True)
        for i in range(3):
            shutil.copy(data / f"isbi2012/train/{sub}/slice_{i:02d}.png", root / sub)
    return root


def hippo_data(data: Path, tmp: Path) -> Path:
    root = tmp / "data"
    for sub in ("imagesTr", "labelsTr"):
        (root / sub).mkdir(parents=True)
        for name in ("hippocampus_001.nii.gz", "hippocampus_003.nii.gz", "hippocampus_004.nii.gz"):
            shutil.copy(data / "msd_hippocampus" / sub / name, root / sub)
    return root


def em_label_of_another_size(data: Path, tmp: Path) -> tuple[str, Path, str]:
    root = em_data(data, tmp)
    Image.open(root / "labels/slice_01.png").resize((256, 256)).save(root / "labels/slice_01.png")
    return "em", root, f"error: {root}/labels/slice_01.png: label size"


def em_unreadable_label(data: Path, tmp: Path) -> tuple[str, Path, str]:
    root = em_data(data, tmp)
    (root / "labels/slice_01.png").write_bytes(b"not a png")
    return "em", root, f"error: {root}/labels/slice_01.png: not a readable image"


def hippo_label_of_another_shape(data: Path, tmp: Path) -> tuple[str, Path, str]:
    root = hippo_data(data, tmp)
    label = nib.load(root / "labelsTr/hippocampus_003.nii.gz")
    cut = np.asarray(label.dataobj)[:-2]
    nib.save(nib.Nifti1Image(cut, label.affine), root / "labelsTr/hippocampus_003.nii.gz")
    return "hippocampus", root, f"error: {root}/labelsTr/hippocampus_003.nii.gz: label shape"


def hippo_unreadable_label(data: Path, tmp: Path) -> tuple[str, Path, str]:
    root = hippo_data(data, tmp)
    (root / "labelsTr/hippocampus_003.nii.gz").write_bytes(b"\x1f\x8b truncated")
    return "hippocampus", root, f"error: {root}/labelsTr/hippocampus_003.nii.gz: not a readable volume"


def hippo_empty_dataset_dir(data: Path, tmp: Path) -> tuple[str, Path, str]:
    (tmp / "empty").mkdir()
    return "hippocampus", tmp / "empty", f"error: {tmp}/empty: no image/label pairs found"


def nuclei_label_of_another_size(data: Path, tmp: Path) -> tuple[str, Path, str]:
    root = tmp / "data/dsb2018_nuclei"
    cases = sorted(p.name for p in (data / "dsb2018_nuclei").iterdir())[:3]
    for case in cases:
        shutil.copytree(data / "dsb2018_nuclei" / case, root / case)
    label = root / cases[1] / "mask_instances_derived.png"
    Image.open(label).crop((0, 0, 64, 64)).save(label)
    return "nuclei", tmp / "data", f"error: {label}: label size"


CASES = [em_label_of_another_size, em_unreadable_label, hippo_label_of_another_shape, hippo_unreadable_label,
         hippo_empty_dataset_dir, nuclei_label_of_another_size]  # fmt: skip


def train(bundle: str, dataset_dir: Path, output_dir: Path, *overrides: str) -> list[str]:
    return bundle_cmd("run", "training", "--config_file", f"bundles/{bundle}/train.yaml",
                      "--dataset_dir", str(dataset_dir), "--output_dir", str(output_dir),
                      "--max_epochs", "1", "--samples_per_epoch", "2", "--val_interval", "10", *overrides)  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_training_data_is_one_line(data_dir, tmp_path, case):
    bundle, dataset_dir, words = case(data_dir, tmp_path)
    res = run(train(bundle, dataset_dir, tmp_path / "out"))
    assert res.returncode == 1, res.stderr[-2000:]
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(words), res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert not (tmp_path / "out/checkpoints").exists()  # nothing trained, nothing written


@pytest.mark.slow
def test_full_disk_before_and_during_training(data_dir, tmp_path, private_mounts):
    data, mnt = hippo_data(data_dir, tmp_path), tmp_path / "mnt"
    mnt.mkdir()
    cmd = " ".join(train("hippocampus", data, mnt / "out"))
    # 4 MB: under the 100 MB asked for before training; then, with the check off, too small for a
    # checkpoint (the weights alone are larger)
    ckpt = f"latest_checkpoint('{mnt}/out/checkpoints')"
    resumable = f"{sys.executable} -c \"from unet3d.bundle import latest_checkpoint; print('resume from', {ckpt})\""
    res = private_mounts(f"mount -t tmpfs -o size=4m tmpfs {mnt} && {cmd}; echo status $? >&2; "
                         f"{cmd} --min_free_mb 0; echo status $? >&2; {resumable}")  # fmt: skip
    lines = res.stderr.strip().splitlines()
    statuses = [i for i, line in enumerate(lines) if line.startswith("status ")]
    before, during = lines[statuses[0] - 1], lines[statuses[1] - 1]
    assert before.startswith(f"error: {mnt}/out: ") and "training needs at least 100 MB" in before, res.stderr[-3000:]
    assert during.startswith(f"error: {mnt}/out: no space left on device while training"), res.stderr[-3000:]
    assert lines[statuses[0]] == lines[statuses[1]] == "status 1"
    # the checkpoint the full disk cut short is not taken for one to resume from
    assert res.stdout.strip().splitlines()[-1] == "resume from None", res.stdout[-2000:]
