"""``unet3d plan``: a labelled data set in, a configured MONAI bundle out (nnU-Net's self-configuration).

:func:`plan` runs the three steps: :func:`~unet3d.plan.fingerprint.fingerprint` (what the data
are), :func:`~unet3d.plan.plans.make_plans` (each setting by a rule of :mod:`unet3d.plan.rules`)
(epochs sized to a time budget by :func:`~unet3d.plan.timing.fit_to_budget`) and
:func:`~unet3d.plan.writer.write_bundle` (the bundle, in the shipped bundles' layout and
contract).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from unet3d.plan.fingerprint import Fingerprint, PlanError, fingerprint
from unet3d.plan.plans import Plans, make_plans
from unet3d.plan.writer import write_bundle

__all__ = ["Fingerprint", "PlanError", "Plans", "fingerprint", "make_plans", "plan", "write_bundle"]


def plan(
    dataset_dir: str | os.PathLike,
    output: str | os.PathLike,
    name: str | None = None,
    time_budget_min: float | None = None,
    modality: Mapping[int, str] | None = None,
    num_folds: int = 5,
    overwrite: bool = False,
) -> Path:
    """Plan a bundle for a labelled data set and write it.

    Args:
        dataset_dir: the data set (:func:`unet3d.data.msd.find_pairs` layouts: MSD with or without
            ``dataset.json``, ``images/`` + ``labels/``, ``<case>_image`` + ``<case>_label``; 2D or 3D).
        output: the bundle folder to write (refused if it exists, unless ``overwrite``).
        name: the task's name (default: the data set folder's name).
        time_budget_min: minutes of training on this machine (sized by a timing run); ``None``: 100 epochs.
        modality: channel -> name (``{0: "CT"}`` switches on CT normalisation), over ``dataset.json``'s.
        num_folds: cross-validation folds (fold 0 validates).
        overwrite: replace an existing ``output``.

    Returns:
        The bundle folder.

    Raises:
        PlanError: bad cases, one line each (nothing written).
        DatasetError: no cases found.
        FileExistsError: ``output`` exists.
    """
    if Path(output).exists() and not overwrite:
        raise FileExistsError(f"{output}: exists")
    fp = fingerprint(dataset_dir, modality)
    plans = make_plans(fp, name or Path(dataset_dir).resolve().name, num_folds)
    if time_budget_min is not None:
        from unet3d.plan.timing import fit_to_budget

        plans = fit_to_budget(plans, fp, time_budget_min)
    return write_bundle(plans, fp, output, overwrite=overwrite)
