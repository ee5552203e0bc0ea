"""Choose an instance bundle's post-processing settings on its validation split (or, to keep that
split unseen, on its training images: ``--split training``), for all images or one source or
modality (``--source he_nuclei``, ``--modality stained``).

The network runs once per validation image (the bundle's own preprocessing, inferer and
inversion, from ``train.yaml``); then every combination of ``threshold``, ``seed_threshold``,
``min_seed_size``, ``min_seed_fraction``, ``keep_unseeded``, ``min_size`` and ``expand`` of
:func:`unet3d.transforms.instance_labels` is scored with :func:`unet3d.metrics.instance_scores`.
Prints every combination's figures and the best by mean AP@0.5 (ties: mean AP); the bundle's
configs are not changed.

    .venv/bin/python scripts/tune_instances.py --bundle bundles/nuclei --dataset_dir ../shared/data
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # benchmarks/ (the modality kinds)


def probabilities(
    bundle: Path,
    dataset_dir: str,
    weights: Path | None,
    tta: bool = False,
    overrides: dict | None = None,
    split: str = "validation",
    source: str = "",
    modality: str | None = None,
    every: int = 1,
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]]:
    """``(kind, truth, foreground probability, border pixels or None)`` per image of ``split``
    whose source starts with ``source`` and whose modality is ``modality`` (any when ``None``);
    ``kind`` is the modality it is reported under (``benchmarks/nuclei.py``'s ``kind``); only
    every ``every``-th of those images (in datalist order), to choose on a sample."""
    from monai.bundle import ConfigParser

    from benchmarks.nuclei import kind
    from unet3d.data.nuclei import stratum

    parser = ConfigParser()
    parser.read_config(str(bundle / "configs/train.yaml"))
    parser.update(
        {"bundle_root": str(bundle), "dataset_dir": dataset_dir, "device": "$torch.device('cpu')", "tta": tta}
        | (overrides or {})
    )
    network = parser.get_parsed_content("network_def")
    state = torch.load(weights or bundle / "models/model.pt", map_location="cpu", weights_only=True)
    network.load_state_dict(state.get("model", state))
    network.eval()
    inferer = parser.get_parsed_content("inferer")
    preprocessing = parser.get_parsed_content("preprocessing")
    # the postprocessing up to (not including) the step that makes instances
    post = parser.get_parsed_content("postprocessing")
    from monai.transforms import Compose

    from unet3d.transforms import InstanceLabelsd

    to_prob = Compose([t for t in post.transforms if not isinstance(t, InstanceLabelsd)])
    labeller = next(t for t in post.transforms if isinstance(t, InstanceLabelsd))
    out = []
    entries = [
        entry
        for entry in parser.get_parsed_content("datalist")[split]
        if entry["source"].startswith(source) and modality in (None, entry.get("modality"))
    ]
    for entry in entries[::every]:
        data = preprocessing(dict(entry))
        with torch.inference_mode():
            data["pred"] = inferer(data["image"][None], network)[0]
        prob, grow_into = labeller.foreground_and_borders(to_prob(data)["pred"].numpy())
        truth = np.asarray(data["label"][0]).astype(np.int64)
        out.append((kind(stratum(entry["source"], entry["modality"])), truth, prob, grow_into))
        print(f"{len(out)} images", end="\r", flush=True)
    return out


def main() -> None:
    from unet3d.metrics import instance_scores
    from unet3d.transforms import instance_labels

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bundle", type=Path, default=Path("bundles/nuclei"))
    ap.add_argument("--dataset_dir", default="../shared/data")
    ap.add_argument("--weights", type=Path, default=None, help="default: the bundle's models/model.pt")
    ap.add_argument("--tta", action="store_true", help="the bundle's test-time augmentation")
    ap.add_argument("--split", choices=["validation", "training"], default="validation",
                    help="the images to choose on: choosing on training images keeps validation unseen")  # fmt: skip
    ap.add_argument("--source", default="", help="only sources starting with this, e.g. he_nuclei")
    ap.add_argument("--modality", default=None, help="only images of this modality, e.g. stained")
    ap.add_argument("--every", type=int, default=1, help="every k-th image of the split only (a sample)")
    ap.add_argument("--border_class", choices=["true", "false"], default=None, help="default: the bundle's")
    ap.add_argument("--override", nargs=2, action="append", default=[], metavar=("ID", "VALUE"),
                    help="a train.yaml setting, e.g. --override network_def#features '[32, 64, 128, 256]'")  # fmt: skip
    ap.add_argument("--cache", type=Path, default=None,
                    help="a .pt file of the probabilities: written once, then read (no network)")  # fmt: skip
    ap.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.6, 0.7])
    ap.add_argument("--seed-thresholds", type=float, nargs="+", default=[-1, 0.8, 0.9], help="-1: none")
    ap.add_argument("--min-seed-sizes", type=int, nargs="+", default=[0, 25], help="with seeds")
    ap.add_argument("--min-seed-fractions", type=float, nargs="+", default=[0.0],
                    help="with seeds: smallest seed as a fraction of the image's median seed")  # fmt: skip
    ap.add_argument("--keep-unseeded", choices=["true", "false"], nargs="+", default=["true", "false"])
    ap.add_argument("--min-sizes", type=int, nargs="+", default=[15, 30])
    ap.add_argument("--expands", type=int, nargs="+", default=[0, 1])
    args = ap.parse_args()
    overrides = {} if args.border_class is None else {"border_class": args.border_class == "true"}
    for key, value in args.override:
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):  # a word: a string setting
            overrides[key] = value
    if args.cache is not None and args.cache.exists():
        stored = torch.load(args.cache, weights_only=False)
        args.split, cases = stored["split"], stored["cases"]
        print(f"{len(cases)} {args.split} images' probabilities from {args.cache}", end=" ")
        print("(delete it after changing the model or the images)")
    else:
        cases = probabilities(args.bundle, args.dataset_dir, args.weights, args.tta, overrides, args.split,
                              args.source, args.modality, args.every)  # fmt: skip
        if args.cache is not None:
            torch.save({"split": args.split, "cases": cases}, args.cache)
    kinds = sorted({c[0] for c in cases})
    print("images per kind: " + ", ".join(f"{k} {sum(c[0] == k for c in cases)}" for k in kinds))
    seeding = [(None, 0, 0.0, True)] * (-1 in args.seed_thresholds) + [
        (s, n, f, k == "true")
        for s, n, f, k in itertools.product(
            args.seed_thresholds, args.min_seed_sizes, args.min_seed_fractions, args.keep_unseeded
        )
        if s >= 0
    ]
    results = []
    for t, (seed, n, f, keep), m, e in itertools.product(args.thresholds, seeding, args.min_sizes, args.expands):
        settings = {"threshold": t, "seed_threshold": seed, "min_seed_size": n, "min_seed_fraction": f}
        settings["keep_unseeded"] = keep
        settings |= {"min_size": m, "expand": e}
        scores = [
            instance_scores(truth, instance_labels(prob, grow_into=grow, **settings)) for _, truth, prob, grow in cases
        ]
        mean = {k: float(np.nanmean([sc[k] for sc in scores])) for k in scores[0]}
        for name in kinds:
            mean[f"ap50 {name}"] = float(
                np.nanmean([sc["ap50"] for sc, c in zip(scores, cases, strict=True) if c[0] == name])
            )
        results.append((settings, mean))
        figures = ", ".join(f"{k} {v:.4f}" for k, v in mean.items())
        print(" ".join(f"{k} {v}" for k, v in settings.items()) + f": {figures}", flush=True)
    results.sort(key=lambda r: (r[1]["ap50"], r[1]["map"]), reverse=True)
    settings, best = results[0]
    print(f"\nbest on {len(cases)} {args.split} images: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
    print("  " + ", ".join(f"{k} {v:.4f}" for k, v in best.items() if not math.isnan(v)))


if __name__ == "__main__":
    main()
