"""The fast transforms give MONAI's results (on a real MRI volume and on ties), metadata kept."""

from __future__ import annotations

import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import AsDiscreted, LoadImaged, NormalizeIntensityd

from unet3d.transforms import ArgmaxChannelsd, ZScored, argmax_channels


@pytest.mark.parametrize("shape", [(3, 17, 23), (4, 9, 11, 13)])
def test_argmax_channels_equals_torch_argmax_with_ties(shape):
    x = torch.randn(shape)
    x[:, :3] = 0.5  # all channels tied: the lowest index wins, as in torch.argmax
    x[2, 3:5] = x[1, 3:5] = x[:, 3:5].amax(0) + 1  # two channels tied above the rest
    assert torch.equal(argmax_channels(x), torch.argmax(x, 0, keepdim=True).to(x.dtype))


def test_argmaxd_matches_asdiscreted_and_keeps_the_geometry():
    pred = MetaTensor(torch.randn(3, 20, 30, 10), affine=torch.diag(torch.tensor([2.0, 3.0, 4.0, 1.0])))
    ours = ArgmaxChannelsd(keys="pred")({"pred": pred})["pred"]
    theirs = AsDiscreted(keys="pred", argmax=True)({"pred": pred})["pred"]
    assert isinstance(ours, MetaTensor) and ours.dtype == theirs.dtype and ours.shape == (1, 20, 30, 10)
    assert torch.equal(ours.as_tensor(), theirs.as_tensor())
    assert torch.equal(ours.affine, pred.affine)


@pytest.mark.parametrize("nonzero, channel_wise", [(True, True), (True, False), (False, True), (False, False)])
def test_zscore_matches_normalize_intensity_on_a_real_volume(data_dir, nonzero, channel_wise):
    path = data_dir / "msd_hippocampus/imagesTr/hippocampus_001.nii.gz"
    image = LoadImaged(keys="image", ensure_channel_first=True)({"image": str(path)})["image"]
    image = torch.cat([image, image * 3 + 7])  # two channels with different statistics
    image[:, :6] = 0  # background outside the head, as in skull-stripped MRI (the crop has none)
    kept = image.clone()
    ours = ZScored(keys="image", nonzero=nonzero, channel_wise=channel_wise)({"image": image})["image"]
    theirs = NormalizeIntensityd(keys="image", nonzero=nonzero, channel_wise=channel_wise)({"image": image.clone()})[
        "image"
    ]
    assert isinstance(ours, MetaTensor) and ours.dtype == torch.float32
    assert torch.equal(ours.affine, image.affine) and torch.equal(image, kept)  # input left as it was
    assert (ours == 0).sum() == (theirs == 0).sum() > (0 if nonzero else -1)
    assert torch.allclose(ours, theirs, atol=1e-5), (ours - theirs).abs().max()
    assert abs(float(ours[ours != 0].std())) > 0.5  # really normalised, not passed through


def test_zscore_all_zero_channel_is_left_alone():
    x = torch.zeros(2, 5, 5)
    x[1] = torch.arange(25.0).reshape(5, 5)
    out = ZScored(keys="x")({"x": x})["x"]
    assert torch.equal(out[0], x[0]) and abs(float(out[1][x[1] != 0].mean())) < 1e-6
