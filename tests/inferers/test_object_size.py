"""Tests for unet3d.inferers.object_size: zooming each image by its objects' estimated size."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from monai.inferers import SimpleInferer

from tests.transforms.test_object_size import disks
from unet3d.inferers import DihedralTTAInferer, ObjectSizeInferer
from unet3d.inferers.object_size import size_setting


class Bright(torch.nn.Module):
    """Logits of 'object' where the input is bright: a network whose objects are the input's disks."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.shapes.append(tuple(x.shape[2:]))
        return torch.cat([0.5 - x, x - 0.5], dim=1) * 20


def image_of_disks(radius: float) -> torch.Tensor:
    centres = [(y, x) for y in range(48, 400, 96) for x in range(48, 400, 96)]
    return torch.tensor(disks((384, 384), centres, radius) > 0, dtype=torch.float32)[None, None]


@pytest.mark.parametrize("radius, scale", [(18, 0.5), (6, 1.0)])
def test_auto_estimates_the_size_and_zooms_large_objects(radius, scale):
    x, net, scales = image_of_disks(radius), Bright(), []
    sized = ObjectSizeInferer(SimpleInferer(), "auto", target_diameter=18, multiple=16, min_size=4,
                              on_scale=scales.append)  # fmt: skip
    assert sized.estimate_diameter(x, net) == pytest.approx(2 * radius, rel=0.1)
    y = sized(x, net)
    assert y.shape == (1, 2, 384, 384)
    assert scales[0] == pytest.approx(scale, abs=0.05)
    # the probe at 0.6 (rounded to 16 px), then the network at the chosen zoom
    assert net.shapes[-1] == ((192, 192) if scale < 1 else (384, 384))
    # the logits come back on the input's grid: the objects are where they were
    agree = ((y.argmax(1) == 1) == (x[:, 0] > 0.5)).float().mean()
    assert agree > 0.97


def test_off_is_the_wrapped_inferer_and_a_given_diameter_needs_no_probe():
    x, net = image_of_disks(18), Bright()
    torch.testing.assert_close(ObjectSizeInferer(SimpleInferer(), "off")(x, net), SimpleInferer()(x, net))
    net.shapes.clear()
    ObjectSizeInferer(SimpleInferer(), 72, target_diameter=18, multiple=16)(x, net)
    assert net.shapes == [(96, 96)]  # one pass, at 18 / 72


def test_each_tta_copy_is_reported_on_the_input_grid():
    x, net, copies = image_of_disks(18), Bright(), []
    sized = ObjectSizeInferer(DihedralTTAInferer(SimpleInferer()), 36, target_diameter=18, multiple=16)
    y = sized(x, net, on_copy=copies.append)
    assert len(copies) == 8 and all(c.shape == y.shape for c in copies)
    torch.testing.assert_close(torch.stack(copies).mean(0), y, atol=1e-4, rtol=1e-4)


def test_batches_are_zoomed_per_image():
    x, net, scales = torch.cat([image_of_disks(18), image_of_disks(6)]), Bright(), []
    y = ObjectSizeInferer(SimpleInferer(), "auto", multiple=16, min_size=4, on_scale=scales.append)(x, net)
    assert y.shape == (2, 2, 384, 384) and scales[0] < 0.6 and scales[1] == 1.0


@pytest.mark.parametrize("bad", ["big", -3, 0, float("nan"), [18]])
def test_settings_that_are_not_a_size_are_refused(bad):
    with pytest.raises(ValueError, match="diameter must be 'off', 'auto' or a positive number"):
        size_setting(bad)
    assert size_setting(" Auto ") == "auto" and size_setting("OFF") is None and size_setting("22.5") == 22.5
    assert np.isfinite(size_setting(7))
