"""The nuclei intensity convention on real images of every kind: the modality decision and bright nuclei."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from unet3d.transforms import BrightNucleid, bright_nuclei, nuclei_modality
from unet3d.transforms.modality import LUMA

# (data set, case) -> the kind; DSB2018 images are RGBA as released, whatever the microscope
KINDS = {
    ("dsb2018_nuclei", "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552"): "fluorescence",
    ("dsb2018_nuclei", "1b44d22643830cd4f23c9deadb0bd499fb392fb2cd9526d81547d93077d983df"): "brightfield",
    ("dsb2018_nuclei", "7798ca1ddb3133563e290c36228bc8f8f3c9f224e096f442ef0653856662d121"): "stained",
    # dense H&E tissue (breast, 40x), where the median rule failed (most of the image is stained)
    ("he_nuclei/monuseg2018_train", "TCGA-AR-A1AS-01Z-00-DX1"): "stained",
    ("he_nuclei/monuseg2018_train", "TCGA-49-4488-01Z-00-DX1"): "stained",
}


def case_image(data_dir, source: str, case: str) -> tuple[np.ndarray, np.ndarray]:
    root = data_dir / source / case
    image = np.asarray(Image.open(root / "images" / f"{case}.png"))
    image = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    return image, np.asarray(Image.open(root / "mask_instances_derived.png")).astype(np.int64)


def contrast(gray: np.ndarray, instances: np.ndarray) -> float:
    """How far the nuclei stand above the background, in background standard deviations."""
    inside, outside = gray[instances > 0], gray[instances == 0]
    return float((inside.mean() - outside.mean()) / outside.std())


@pytest.mark.parametrize("key", KINDS, ids=[k[1][:12] for k in KINDS])
def test_modality_and_bright_nuclei_on_real_images(data_dir, key):
    image, instances = case_image(data_dir, *key)
    assert nuclei_modality(image) == KINDS[key]
    gray = bright_nuclei(image)[0]
    assert gray.shape == instances.shape
    assert contrast(gray, instances) > 0.5


def test_hematoxylin_channel_puts_nuclei_above_the_lumen(data_dir):
    """On H&E tissue the white lumen was the brightest part under the median rule; the hematoxylin
    channel puts it below the nuclei."""
    image, instances = case_image(data_dir, "he_nuclei/monuseg2018_train", "TCGA-AR-A1AS-01Z-00-DX1")
    rgb = image[:3].astype(np.float32)
    luma = sum(w * rgb[i] for i, w in enumerate(LUMA))
    lumen = (luma > np.percentile(luma, 97)) & (instances == 0)  # the whitest background
    h = bright_nuclei(image)[0]
    assert np.median(h[instances > 0]) > np.percentile(h[lumen], 90)
    # the rule it replaces inverted only when the median lay above the middle of the 1st-99th
    # percentile range: not on dense tissue, so the lumen stayed the brightest part
    low, median, high = np.percentile(luma, (1, 50, 99))
    assert median <= (low + high) / 2
    assert np.median(luma[instances > 0]) < np.median(luma[lumen])


def test_cell_tracking_challenge_16_bit_fluorescence(data_dir):
    image = np.asarray(Image.open(data_dir / "ctc_fluo_nuclei/N2DH-GOWT1/img/t01.tif"))[None]
    truth = np.asarray(Image.open(data_dir / "ctc_fluo_nuclei/N2DH-GOWT1/gt/man_seg01.tif"))
    assert nuclei_modality(image) == "fluorescence"
    np.testing.assert_array_equal(bright_nuclei(image)[0], image[0].astype(np.float32))
    assert contrast(bright_nuclei(image)[0], truth) > 0.5


def test_pseudo_coloured_fluorescence_takes_the_stain_channel(data_dir):
    """A fluorescence image shown in blue (as DAPI often is) is colour but not stained: the blue
    channel, not luma (which would weight it by 0.114) and not a deconvolution."""
    image, _ = case_image(data_dir, *next(k for k, v in KINDS.items() if v == "fluorescence"))
    blue = np.zeros_like(image[:3])
    blue[2] = image[0]
    assert nuclei_modality(blue) == "fluorescence"
    np.testing.assert_array_equal(bright_nuclei(blue)[0], image[0].astype(np.float32))


def test_a_given_modality_overrides_the_decision(data_dir):
    image, instances = case_image(data_dir, *next(k for k, v in KINDS.items() if v == "brightfield"))
    assert contrast(bright_nuclei(image, "fluorescence")[0], instances) < 0  # told wrong: dark nuclei
    out = BrightNucleid("image", modality="brightfield")({"image": torch.from_numpy(image.copy())})["image"]
    np.testing.assert_allclose(out.numpy(), bright_nuclei(image)[0][None])
    with pytest.raises(ValueError, match="modality 'phase'"):
        BrightNucleid("image", modality="phase")


def test_channel_layouts():
    assert BrightNucleid("image")({"image": torch.rand(2, 8, 8)})["image"].shape == (1, 8, 8)  # gray + alpha
    gray = np.zeros((1, 8, 8), np.float32)
    gray[0, 2:4, 2:4] = 100
    np.testing.assert_array_equal(bright_nuclei(gray), gray)  # dark background: kept as it is
    np.testing.assert_array_equal(bright_nuclei(100 - gray), gray)  # light background: inverted
    with pytest.raises(ValueError, match="5 channels"):
        bright_nuclei(np.zeros((5, 8, 8)))
