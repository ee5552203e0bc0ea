"""Tests for unet3d.io.sitk_reader: SimpleITK volumes in MONAI's LoadImage, as unet3d segment reads them."""

from __future__ import annotations

import numpy as np
import pytest
from monai.transforms import LoadImage

from unet3d.io import SimpleITKReader, read_volume


def test_nrrd_reads_as_read_volume_does(data_dir):
    path = data_dir / "nrrd/brain1_image.nrrd"
    image = LoadImage(image_only=True, ensure_channel_first=True, reader=SimpleITKReader())(path)
    reference = read_volume(path).image
    assert image.shape == (1, *reference.shape)
    assert np.array_equal(np.asarray(image[0]), np.asarray(reference))
    np.testing.assert_allclose(np.asarray(image.affine), np.asarray(reference.affine))
    assert image.pixdim.tolist() == pytest.approx([0.78125, 0.78125, 6.5])


def test_nifti_agrees_with_monai_default_and_files_stack_as_channels(data_dir):
    path = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    ours = LoadImage(image_only=True, ensure_channel_first=True, reader=SimpleITKReader())(path)
    monai = LoadImage(image_only=True, ensure_channel_first=True)(path)  # nibabel
    assert np.array_equal(np.asarray(ours), np.asarray(monai))
    np.testing.assert_allclose(np.asarray(ours.affine), np.asarray(monai.affine), atol=1e-5)
    two = LoadImage(image_only=True, ensure_channel_first=True, reader=SimpleITKReader())([path, path])
    assert two.shape == (2, *monai.shape[1:])
    assert SimpleITKReader().verify_suffix("a.nrrd") and not SimpleITKReader().verify_suffix("a.png")
