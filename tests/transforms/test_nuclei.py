"""Nuclei transforms: the paper's target, instance ids."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from unet3d.transforms import InstanceLabelsd, InstanceTargetd, instance_labels
from unet3d.transforms.nuclei import touching_borders

# a DSB2018 brightfield image with touching nuclei
BRIGHTFIELD = "1b44d22643830cd4f23c9deadb0bd499fb392fb2cd9526d81547d93077d983df"


def dsb(data_dir, case: str) -> tuple[np.ndarray, np.ndarray]:
    root = data_dir / "dsb2018_nuclei" / case
    image = np.asarray(Image.open(root / "images" / f"{case}.png"))
    return image.transpose(2, 0, 1), np.asarray(Image.open(root / "mask_instances_derived.png")).astype(np.int64)


def test_touching_nuclei_get_a_background_gap_and_border_weights():
    instances = np.zeros((20, 30), np.int64)
    instances[5:15, 3:13] = 1
    instances[5:15, 13:23] = 2  # touches 1 along a column
    borders = touching_borders(instances)
    assert borders[:, 12].sum() == 10 and borders[:, 13].sum() == 10 and borders.sum() == 20
    out = InstanceTargetd("label")({"label": torch.from_numpy(instances)[None].float()})
    label, weight = out["label"][0].numpy(), out["weight"][0].numpy()
    assert set(np.unique(label)) == {0, 1} and label[:, 12:14].sum() == 0
    # the paper's border term peaks in the gap between the two objects
    assert weight[10, 12] > 5 * weight[1, 1]
    # a binary mask is not instance truth: no gap, no border term
    out = InstanceTargetd("label")({"label": torch.from_numpy(instances > 0)[None].float(), "instances": False})
    assert out["label"][0, :, 12:14].sum() == 20 and out["weight"].max() < 5


def test_touching_nuclei_in_a_real_label_become_separate_objects(data_dir):
    from skimage.measure import label as components

    _, instances = dsb(data_dir, BRIGHTFIELD)
    touching = touching_borders(instances).any()
    assert touching
    label, _ = InstanceTargetd("label")({"label": torch.from_numpy(instances)[None].float()})["label"], None
    # every true nucleus keeps an interior, and no two nuclei share a connected component
    objects = components(label[0].numpy() > 0, connectivity=1)
    for i in range(1, instances.max() + 1):
        inside = objects[(instances == i) & (objects > 0)]
        if inside.size:
            others = np.unique(objects[(instances != i) & (instances > 0)])
            assert not set(np.unique(inside)) & set(others)


def disc_pair(separation: float, dip: float) -> np.ndarray:
    """Foreground probability of two discs (radius 8) whose centres are ``separation`` apart; the
    probability falls to ``dip`` on the line between them."""
    yy, xx = np.mgrid[:40, :60].astype(np.float32)
    a = np.hypot(yy - 20, xx - 30 + separation / 2) <= 8
    b = np.hypot(yy - 20, xx - 30 - separation / 2) <= 8
    prob = np.where(a | b, 0.95, 0.05).astype(np.float32)
    prob[(a | b) & (np.abs(xx - 30) < 1)] = dip
    return prob


def test_touching_objects_are_split_where_the_probability_dips():
    prob = disc_pair(14, 0.6)  # one foreground component, two seeds
    labels = instance_labels(prob, threshold=0.5, seed_threshold=0.8, min_size=5, expand=0)
    assert labels.max() == 2 and set(np.unique(labels[20, [20, 40]])) == {1, 2}
    merged = instance_labels(prob, threshold=0.5, seed_threshold=None, expand=0)
    assert merged.max() == 1


def test_small_seeds_do_not_split_and_unseeded_objects_can_be_dropped():
    yy, xx = np.mgrid[:40, :60]
    disc = np.hypot(yy - 20, xx - 23) <= 8
    prob = np.where(disc, 0.95, 0.05).astype(np.float32)
    prob[disc & (xx == 29)] = 0.7  # cuts an 8 px fragment (x 30-31) off the disc's sure interior
    prob[30:36, 45:51] = 0.7  # a 36 px object the network is nowhere sure of
    settings = dict(threshold=0.5, seed_threshold=0.8, min_size=5, expand=0)
    assert instance_labels(prob, **settings).max() == 3  # the disc split in two, and the unsure object
    whole = instance_labels(prob, **settings, min_seed_size=10)
    assert whole.max() == 2 and len(np.unique(whole[disc])) == 1 and whole[32, 47] > 0
    sure = instance_labels(prob, **settings, min_seed_size=10, keep_unseeded=False)
    assert sure.max() == 1 and (sure[disc] == 1).all() and (sure[~disc] == 0).all()


def fragmented_nuclei(scale: int) -> np.ndarray:
    """Four nuclei of radius ``5 * scale`` px in a row, each with a piece of its sure interior cut
    off (a fragment an eighth of the nucleus' seed): the same picture at another magnification."""
    r = 5 * scale
    yy, xx = np.mgrid[: 2 * r + 10, : 8 * r + 20]
    prob = np.full(yy.shape, 0.05, np.float32)
    for i in range(4):
        cx = 5 + r + i * (2 * r + 2)
        disc = np.hypot(yy - r - 5, xx - cx) <= r
        prob[disc] = 0.95
        prob[disc & (xx == cx + r - 2 * scale)] = 0.7
    return prob


def test_a_seed_size_relative_to_the_image_s_nuclei_holds_at_every_magnification():
    settings = dict(threshold=0.5, seed_threshold=0.8, min_size=5, expand=0, keep_unseeded=False)
    small, large = fragmented_nuclei(1), fragmented_nuclei(4)
    # an absolute size serves one magnification: fragments of large nuclei outgrow it, or whole
    # seeds of small ones fall under it
    assert instance_labels(small, **settings, min_seed_size=25).max() == 4
    assert instance_labels(large, **settings, min_seed_size=25).max() == 8
    assert instance_labels(small, **settings, min_seed_size=200).max() == 0
    for prob in (small, large):
        assert instance_labels(prob, **settings, min_seed_fraction=0.3).max() == 4
        assert instance_labels(prob, **settings, min_seed_fraction=0.0).max() == 8
    # a small nucleus among large ones: its seed is under the relative size, yet it stays a nucleus
    # (only foreground without any sure interior is dropped)
    yy, xx = np.mgrid[:50, :230]
    with_small = np.full(yy.shape, 0.05, np.float32)
    for cx, r in ((25, 20), (70, 20), (115, 20), (160, 20), (210, 4)):
        with_small[np.hypot(yy - 25, xx - cx) <= r] = 0.95
    small_ids = instance_labels(with_small, **settings, min_seed_fraction=0.3)
    assert small_ids.max() == 5 and small_ids[25, 210] == 5
    out = InstanceLabelsd("pred", **settings, min_seed_fraction=0.3)(
        {"pred": torch.from_numpy(np.stack([1 - large, large]))}
    )
    assert out["pred"].max() == 4


def test_instance_ids_small_objects_and_growth():
    prob = disc_pair(30, 0.95)
    prob[2:4, 2:4] = 0.9  # 4 px speck
    labels = instance_labels(prob, min_size=10, expand=0)
    assert labels.max() == 2 and labels[3, 3] == 0
    assert list(np.unique(labels)) == [0, 1, 2] and labels[20, 15] == 1  # ids in raster order
    grown = instance_labels(prob, min_size=10, expand=2)
    assert (grown > 0).sum() > (labels > 0).sum() and grown.max() == 2
    out = InstanceLabelsd("pred")({"pred": torch.from_numpy(np.stack([1 - prob, prob]))})["pred"]
    assert out.shape == (1, 40, 60) and out.max() == 2
    assert instance_labels(np.zeros((8, 8))).max() == 0


def test_border_class_marks_where_touching_nuclei_meet_and_objects_take_it_back():
    instances = np.zeros((20, 30), np.int64)
    instances[5:15, 3:13] = 1
    instances[5:15, 13:23] = 2
    paper = InstanceTargetd("label")({"label": torch.from_numpy(instances)[None].float()})
    three = InstanceTargetd("label", border_class=True)({"label": torch.from_numpy(instances)[None].float()})
    label = three["label"][0].numpy()
    assert set(np.unique(label)) == {0, 1, 2} and (label == 2).sum() == 20
    assert (label[5:15, 12:14] == 2).all()  # both sides of the contact
    np.testing.assert_array_equal(label == 1, paper["label"][0].numpy() == 1)  # same interior
    torch.testing.assert_close(three["weight"], paper["weight"])  # same weight map
    # a network that says "border" on the gap: the two objects stay apart and take the gap back
    probs = np.zeros((3, 20, 30), np.float32)
    probs[0] = 1.0
    for c, mask in ((1, label == 1), (2, label == 2)):
        probs[:, mask] = 0.0
        probs[c, mask] = 1.0
    ids = InstanceLabelsd("pred", threshold=0.5, seed_threshold=None, min_size=5, expand=0, border_channel=2)(
        {"pred": torch.from_numpy(probs)}
    )["pred"][0].numpy()
    np.testing.assert_array_equal(ids, instances)  # exactly the truth, gap included
    without = InstanceLabelsd("pred", threshold=0.5, seed_threshold=None, min_size=5, expand=0)(
        {"pred": torch.from_numpy(probs)}
    )["pred"][0].numpy()
    assert without.max() == 2 and (without[:, 12:14] == 0).all()
