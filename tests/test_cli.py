"""Tests for unet3d.cli."""

from __future__ import annotations

import subprocess
import sys
import time

from tests.conftest import REPO_ROOT
from unet3d.cli import main


def test_help_is_fast_and_lists_commands():
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "unet3d.cli", "--help"], capture_output=True, text=True, cwd=REPO_ROOT)
    assert time.perf_counter() - start < 2.0
    assert res.returncode == 0 and "bundles" in res.stdout


def test_bundles_lists_em(capsys):
    assert main(["bundles", str(REPO_ROOT / "bundles")]) == 0
    assert "em" in capsys.readouterr().out


def test_bundles_in_a_folder_without_bundles(tmp_path, capsys):
    assert main(["bundles", str(tmp_path)]) == 2
    assert str(tmp_path) in capsys.readouterr().err


def test_a_bundle_without_a_tta_id_is_refused_in_one_line(data_dir, tmp_path, capsys):
    """`tta` is an id of the bundle contract: a bundle without it is refused in one line naming
    it, and nothing is written."""
    import shutil

    bundle = tmp_path / "em_without_tta"
    shutil.copytree(REPO_ROOT / "bundles/em/configs", bundle / "configs")
    shutil.copytree(REPO_ROOT / "bundles/em/models", bundle / "models")
    config = bundle / "configs/inference.yaml"
    lines = [line for line in config.read_text().splitlines() if not line.startswith("tta:")]
    config.write_text("\n".join(line.replace("@tta, 'tta'", "False, 'tta'") for line in lines) + "\n")
    image, out = data_dir / "isbi2012/test/images/slice_00.png", tmp_path / "out"
    assert main(["segment", str(image), "--bundle", str(bundle), "--output-dir", str(out), "--tta"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "inference.yaml: no `tta` id" in err[0], err
    assert not out.exists() or not any(out.iterdir())
    from unet3d.inference import BundleLayout

    for name in ("em", "hippocampus", "nuclei"):  # the shipped ones accept it
        assert BundleLayout(REPO_ROOT / "bundles" / name).inference_parser(tta=True)["tta"] is True


def test_modality_reaches_the_nuclei_bundle_and_is_refused_elsewhere(data_dir, tmp_path, capsys):
    """--modality sets the nuclei bundle's `modality` key; a bundle without one refuses it in one line."""
    from unet3d.inference import BundleLayout

    parser = BundleLayout(REPO_ROOT / "bundles/nuclei").inference_parser(modality="stained")
    assert parser.get_parsed_content("prepare").transforms[1].modality == "stained"
    image, out = data_dir / "isbi2012/test/images/slice_00.png", tmp_path / "out"
    code = main(["segment", str(image), "--bundle", str(REPO_ROOT / "bundles/em"), "--output-dir", str(out),
                 "--modality", "fluorescence"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "this bundle takes no image modality" in err[0], err
    assert not out.exists() or not any(out.iterdir())


def test_diameter_reaches_the_nuclei_bundle_and_a_bad_one_stops_before_any_output(data_dir, tmp_path, capsys):
    """--diameter sets the nuclei bundle's `object_diameter`; a value that is not a size is refused
    while the command line is read (status 2, nothing created); a bundle without the id refuses it."""
    import pytest

    from unet3d.inference import BundlePredictor

    assert BundlePredictor(REPO_ROOT / "bundles/nuclei", device="cpu", diameter="25").inferer.diameter == 25.0
    out = tmp_path / "out"
    image = data_dir / "isbi2012/test/images/slice_00.png"
    with pytest.raises(SystemExit) as stop:
        main(["segment", str(image), "--bundle", str(REPO_ROOT / "bundles/nuclei"), "--output-dir", str(out),
              "--diameter", "large"])  # fmt: skip
    assert stop.value.code == 2 and "--diameter" in capsys.readouterr().err and not out.exists()
    code = main(["segment", str(image), "--bundle", str(REPO_ROOT / "bundles/em"), "--output-dir", str(out),
                 "--diameter", "20"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "this bundle takes no object size" in err[0], err
    assert not out.exists() or not any(out.iterdir())
