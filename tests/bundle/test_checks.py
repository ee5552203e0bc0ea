"""Tests for unet3d.bundle.checks: switches from the command line."""

from __future__ import annotations

import pytest

from tests.conftest import REPO_ROOT
from unet3d.bundle import flag


def test_flag_reads_what_the_command_line_passes():
    for value in (True, "true", "True", "yes", "1", 1):
        assert flag(value) is True
    for value in (False, "false", "False", "no", "0", 0, None):
        assert flag(value) is False
    with pytest.raises(SystemExit, match=r"--tta 'maybe': expected true or false"):
        flag("maybe", "tta")


def test_false_on_the_command_line_switches_off():
    """``--separate_touching false`` arrives as the string 'false' (truthy in Python): the nuclei
    config must still train on plain foreground masks then, and ``--tta false`` must not enable TTA."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "bundles/nuclei/configs/train.yaml"))
    parser.update({"bundle_root": str(REPO_ROOT / "bundles/nuclei"), "separate_touching": "false", "tta": "false"})
    assert parser.get_parsed_content("w0") == 0.0
    assert parser.get_parsed_content("inferer").inferer.enabled is False  # the TTA inside the size zoom
    parser = ConfigParser()
    parser.read_config(str(REPO_ROOT / "bundles/em/configs/inference.yaml"))
    parser.update({"bundle_root": str(REPO_ROOT / "bundles/em"), "tta": "false"})
    assert parser.get_parsed_content("inferer").enabled is False
