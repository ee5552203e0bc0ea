"""Tests for unet3d.io.volume and unet3d.io.writers: geometry survives a read/write round trip."""

from __future__ import annotations

import gzip

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from unet3d.io import InputError, read_volume, select_series, write_mask


def test_nifti_round_trip_keeps_affine_and_header(data_dir, tmp_path):
    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    volume = read_volume(src)
    ref = nib.load(src)
    assert volume.kind == "nifti" and tuple(volume.image.shape) == ref.shape
    np.testing.assert_allclose(np.asarray(volume.image.affine), ref.affine, atol=1e-5)
    mask = (np.asarray(volume.image) > np.median(np.asarray(volume.image))).astype(np.uint8)
    out = write_mask(volume, mask, tmp_path / "m.nii.gz", "nifti")
    back = nib.load(out)
    assert back.shape == ref.shape and back.get_data_dtype() == np.uint8
    np.testing.assert_allclose(back.affine, ref.affine, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(back.dataobj), mask)


def test_dicom_series_geometry_matches_simpleitk_and_nifti(data_dir, tmp_path):
    folder = data_dir / "dicom/ct_abdomen_series"
    volume = read_volume(folder)
    assert volume.kind == "dicom" and tuple(volume.image.shape) == (512, 512, 20)
    # voxel (i, j, k) -> LPS from SimpleITK, RAS from ours
    image = sitk.ReadImage([h.filename for h in select_series(folder)])
    for index in [(0, 0, 0), (511, 0, 19), (100, 300, 7)]:
        lps = np.asarray(image.TransformIndexToPhysicalPoint(index))
        ras = np.asarray(volume.image.affine) @ np.array([*index, 1.0])
        np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-3)
    # the model-made organ labels of this series, aligned by affine (their y axis is stored flipped)
    labels = nib.load(data_dir / "dicom/ct_abdomen_series_totalseg_labels.nii.gz")
    to_labels = np.linalg.inv(labels.affine) @ np.asarray(volume.image.affine)
    ijk = np.rint(to_labels @ np.array([256, 256, 10, 1.0]))[:3].astype(int)
    assert all(0 <= v < s for v, s in zip(ijk, labels.shape, strict=True))
    mask = np.zeros(volume.image.shape, np.uint8)
    mask[100:200, 150:300, 5:15] = 1
    out = write_mask(volume, mask, tmp_path / "ct.nii.gz", "nifti")
    np.testing.assert_allclose(nib.load(out).affine, np.asarray(volume.image.affine), atol=1e-6)


def test_nrrd_reads_with_its_spacing(data_dir):
    volume = read_volume(data_dir / "nrrd/brain1_image.nrrd")
    assert volume.kind == "itk" and volume.image.ndim == 3
    spacing = np.linalg.norm(np.asarray(volume.image.affine)[:3, :3], axis=0)
    np.testing.assert_allclose(spacing, [0.78, 0.78, 6.5], rtol=0.05)


def test_mha_reads_like_the_nifti_it_came_from(data_dir, tmp_path):
    import SimpleITK as sitk

    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_003.nii.gz"
    sitk.WriteImage(sitk.ReadImage(str(src)), str(tmp_path / "case.mha"))
    nifti, mha = read_volume(src), read_volume(tmp_path / "case.mha")
    assert mha.kind == "itk" and mha.image.shape == nifti.image.shape
    np.testing.assert_allclose(np.asarray(mha.image.affine), np.asarray(nifti.image.affine), atol=1e-4)
    np.testing.assert_array_equal(np.asarray(mha.image), np.asarray(nifti.image))


def test_bad_inputs_are_named(data_dir, tmp_path):
    src = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    cut = tmp_path / "cut.nii.gz"
    cut.write_bytes(src.read_bytes()[:5000])
    with pytest.raises(InputError, match=r"cut\.nii\.gz: cannot read"):
        read_volume(cut)
    nan = tmp_path / "nan.nii.gz"
    data = np.ones((8, 8, 8), np.float32)
    data[1, 2, 3] = np.nan
    nib.save(nib.Nifti1Image(data, np.eye(4)), nan)
    with pytest.raises(InputError, match=r"nan\.nii\.gz: image contains NaN"):
        read_volume(nan)
    four = tmp_path / "four.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8, 8, 2), np.float32), np.eye(4)), four)
    with pytest.raises(InputError, match=r"four\.nii\.gz: shape \(8, 8, 8, 2\) has extra channels"):
        read_volume(four)
    flat = tmp_path / "flat.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((8, 8), np.float32), np.eye(4)), flat)
    with pytest.raises(InputError, match=r"flat\.nii\.gz: shape \(8, 8\) has only 2 dimensions; expected a single"):
        read_volume(flat)
    plain = tmp_path / "plain.nii"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    assert read_volume(plain).kind == "nifti"
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no DICOM image series"):
        read_volume(tmp_path / "empty")


def test_palette_images_are_read_as_the_colours_they_show(data_dir, tmp_path):
    """A palette PNG holds indices into a colour table; the reader must return the colours."""
    from PIL import Image

    from tests.conftest import REPO_ROOT

    gray = Image.open(data_dir / "isbi2012/train/images/slice_20.png").convert("L")
    indexed = Image.fromarray(255 - np.asarray(gray))  # index i shows gray 255 - i
    indexed = Image.frombytes("P", gray.size, indexed.tobytes())
    indexed.putpalette([v for i in range(256) for v in (255 - i,) * 3])
    indexed.save(tmp_path / "gray_palette.png")
    np.testing.assert_array_equal(np.asarray(read_volume(tmp_path / "gray_palette.png").image).T, np.asarray(gray))
    # a colour palette: RGB for a colour bundle, refused by a gray one
    colours = Image.frombytes("P", gray.size, (np.asarray(gray) // 64).astype(np.uint8).tobytes())
    colours.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * 756)
    colours.save(tmp_path / "colour_palette.png")
    rgb = np.asarray(read_volume(tmp_path / "colour_palette.png", color=True).image)
    np.testing.assert_array_equal(rgb.transpose(1, 0, 2), np.asarray(colours.convert("RGB")))
    with pytest.raises(InputError, match=r"colour_palette\.png: RGB image; this bundle takes single-channel"):
        read_volume(tmp_path / "colour_palette.png")
    # the nuclei bundle's own preprocessing (monai.bundle run inference.yaml) reads it the same way
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(REPO_ROOT / "bundles/nuclei/configs/inference.yaml")
    parser["bundle_root"] = str(REPO_ROOT / "bundles/nuclei")
    load = parser.get_parsed_content("preprocessing").transforms[0]
    np.testing.assert_array_equal(np.asarray(load({"image": str(tmp_path / "gray_palette.png")})["image"]).T,
                                  np.asarray(gray))  # fmt: skip
