"""Tests for unet3d.report.thumbnails: overlays in anatomical orientation with true aspect ratio."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from unet3d.report.thumbnails import PALETTE, encoded, thumbnail, to_ras


def as_lps(data: np.ndarray, affine: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same volume stored with its first two voxel axes reversed (LPS+ for a RAS+ input)."""
    flipped = data[::-1, ::-1, :]
    shape = np.array(data.shape)
    flip = np.diag([-1.0, -1.0, 1.0, 1.0])
    flip[:2, 3] = shape[:2] - 1  # voxel i of the flipped array is voxel n - 1 - i of the original
    return np.ascontiguousarray(flipped), affine @ flip


def test_an_lps_volume_gives_the_thumbnail_of_the_same_volume_in_ras(data_dir):
    image = nib.load(data_dir / "msd_hippocampus" / "imagesTr" / "hippocampus_001.nii.gz")
    label = nib.load(data_dir / "msd_hippocampus" / "labelsTr" / "hippocampus_001.nii.gz")
    data, mask = image.get_fdata(dtype=np.float32), np.asarray(label.dataobj)
    ras = thumbnail(data, mask, image.affine)
    lps_data, lps_affine = as_lps(data, image.affine)
    lps_mask, _ = as_lps(mask, image.affine)
    assert nib.aff2axcodes(lps_affine) == ("L", "P", "S")
    lps = thumbnail(lps_data, lps_mask, lps_affine)
    outline = (ras == PALETTE[0]).all(-1) | (ras == PALETTE[1]).all(-1)
    assert outline.sum() > 100  # both labels are outlined
    np.testing.assert_array_equal((lps == PALETTE[0]).all(-1) | (lps == PALETTE[1]).all(-1), outline)
    np.testing.assert_array_equal(lps, ras)
    # the unflipped LPS arrays drawn as if RAS would put the outline elsewhere: the test can fail
    naive = thumbnail(lps_data, lps_mask, image.affine)
    assert not np.array_equal((naive == PALETTE[0]).all(-1), (ras == PALETTE[0]).all(-1))
    assert encoded(ras)[:4] == b"RIFF"


def test_planes_keep_the_physical_aspect_ratio():
    data = np.random.default_rng(0).random((20, 30, 10)).astype(np.float32)
    mask = np.zeros(data.shape, np.uint8)
    mask[5:10, 5:20, 2:8] = 1
    affine = np.diag([1.0, 1.0, 3.0, 1.0])  # 20 x 30 x 30 mm
    picture = thumbnail(data, mask, affine, size=60)
    # axial 30 mm (A) high x 20 mm (R) wide: 40 px; coronal 30 mm (S) x 20 mm: 40 px; sagittal 30 x 30: 60 px
    assert picture.shape == (60, 40 + 2 + 40 + 2 + 60, 3)
    _, _, spacing = to_ras(data, mask, affine)
    assert spacing.tolist() == [1.0, 1.0, 3.0]


def test_2d_thumbnail_of_grey_and_colour_images():
    grey = np.zeros((200, 100), np.float32)  # (x, y): 100 rows, 200 columns
    mask = np.zeros((200, 100), np.uint16)
    mask[50:80, 20:40] = 3
    picture = thumbnail(grey, mask, instances=True, size=160)
    assert picture.shape == (80, 160, 3)
    assert (picture == PALETTE[0]).all(-1).any()  # instance ids take label 1's colour
    colour = np.zeros((200, 100, 3), np.float32)
    assert thumbnail(colour, mask, size=160).shape == (80, 160, 3)
