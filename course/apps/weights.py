"""The trained weights shipped with the package, and the recipe that made them.

`scripts/train_apps.py` trains both models with `RECIPE` on `load_scenes(**SCENES)` and writes
course/apps/weights/{segmenter,detector}.npz; running it again gives the same files (everything is
seeded, and Numba's kernels are deterministic). `load_segmenter()` and `load_detector()` rebuild the
networks and load those files, so notebooks and tests need no training.
Layering: imports course.apps.segmentation and course.apps.detection.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from course.apps import detection, segmentation
from course.nn import Sequential

__all__ = ["WEIGHTS_DIR", "SCENES", "RECIPE", "BACKGROUND_WEIGHT", "load_segmenter", "load_detector"]

WEIGHTS_DIR = Path(__file__).with_name("weights")
SCENES = {"n_train": 1200, "n_test": 300, "seed": 0, "max_digits": 4}  # the scenes both models learn from
RECIPE = {
    "segmenter": {"epochs": 12, "batch_size": 8, "lr": 4e-3, "seed": 0},
    "detector": {"epochs": 12, "batch_size": 8, "lr": 3e-3, "seed": 0},
}
BACKGROUND_WEIGHT = 0.25  # the segmenter's loss weighs background pixels (96% of all) 4x less than digits


def load_segmenter() -> Sequential:
    """`segmentation.build_segmenter()` with the shipped trained weights, in eval mode."""
    return _load(segmentation.build_segmenter(np.random.default_rng(0)), "segmenter")


def load_detector() -> Sequential:
    """`detection.build_detector()` with the shipped trained weights, in eval mode."""
    return _load(detection.build_detector(np.random.default_rng(0)), "detector")


def _load(model: Sequential, name: str) -> Sequential:
    path = WEIGHTS_DIR / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"no shipped weights at {path}; make them with `python scripts/train_apps.py`"
        )
    model.load(path)
    return model.eval()
