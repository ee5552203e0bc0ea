"""Sampling weights by image appearance, on real DSB2018 images of each kind."""

from __future__ import annotations

import numpy as np
import pytest

from unet3d.data import appearance, appearance_weights

# DSB2018 ids: H&E (RGBA, purple nuclei on pink), brightfield (gray, dark nuclei on light), fluorescence
KINDS = {
    "7798ca1ddb3133563e290c36228bc8f8f3c9f224e096f442ef0653856662d121": "stained",
    "1b44d22643830cd4f23c9deadb0bd499fb392fb2cd9526d81547d93077d983df": "brightfield",
    "00071198d059ba7f5914a526d124d28e6d010c92466da21d4a04cd5413362552": "fluorescence",
}


def image(data_dir, case: str) -> str:
    return str(data_dir / "dsb2018_nuclei" / case / "images" / f"{case}.png")


@pytest.mark.parametrize("case,kind", KINDS.items())
def test_appearance_of_real_images(data_dir, case, kind):
    assert appearance(image(data_dir, case)) == kind


def test_weights_balance_appearances(data_dir):
    cases = list(KINDS)
    datalist = [{"image": image(data_dir, c)} for c in [cases[0]] + [cases[1]] * 2 + [cases[2]] * 8]
    assert appearance_weights(datalist, power=0) == [1.0] * 11
    weights = np.array(appearance_weights(datalist, power=1.0))
    # power 1: every appearance is drawn equally often
    np.testing.assert_allclose([weights[:1].sum(), weights[1:3].sum(), weights[3:].sum()], 1.0)
    root = np.array(appearance_weights(datalist, power=0.5))
    np.testing.assert_allclose(root[3:].sum() / root[:1].sum(), np.sqrt(8))  # in proportion to sqrt(count)


def test_weights_by_stratum_tell_data_sets_of_one_appearance_apart():
    # three stained images of one data set, one of another: by appearance one group of four, by
    # stratum two groups drawn equally often (power 1)
    datalist = [{"image": f"{i}.png", "modality": "stained", "source": "dsb2018_nuclei"} for i in range(3)]
    datalist.append({"image": "tissue.png", "modality": "stained", "source": "he_nuclei/monuseg2018_train"})
    assert appearance_weights(datalist, power=1.0) == [0.25] * 4
    weights = np.array(appearance_weights(datalist, power=1.0, by="stratum"))
    np.testing.assert_allclose([weights[:3].sum(), weights[3]], 1.0)
    with pytest.raises(ValueError, match="by='source'"):
        appearance_weights(datalist, by="source")
