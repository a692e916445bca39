"""Ready-made networks built from the layers: `lenet()`, a LeNet-5-style CNN for 28 x 28 digits."""

from __future__ import annotations

import numpy as np

from course import _args
from course.nn.activation import ReLU
from course.nn.conv import Conv2d
from course.nn.linear import Linear
from course.nn.module import Sequential
from course.nn.pooling import MaxPool2d
from course.nn.shape import Flatten

__all__ = ["lenet"]


def lenet(num_classes: int = 10, *, rng: np.random.Generator | None = None, dtype=np.float32) -> Sequential:
    """LeNet-5 with ReLU and max pooling, for (N, 1, 28, 28) images; returns logits (N, num_classes).

    Shapes through the network (61,706 parameters for 10 classes):
        (N, 1, 28, 28) -conv 5x5, pad 2-> (N, 6, 28, 28) -pool 2-> (N, 6, 14, 14)
        -conv 5x5-> (N, 16, 10, 10) -pool 2-> (N, 16, 5, 5) -flatten-> (N, 400)
        -linear-> (N, 120) -linear-> (N, 84) -linear-> (N, num_classes)
    """
    num_classes = _args.positive_int("lenet", "num_classes", num_classes)
    return Sequential(
        Conv2d(1, 6, 5, padding=2, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Conv2d(6, 16, 5, rng=rng, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(400, 120, rng=rng, dtype=dtype),
        ReLU(),
        Linear(120, 84, rng=rng, dtype=dtype),
        ReLU(),
        Linear(84, num_classes, rng=rng, dtype=dtype),
    )
