"""One training loop for both applications: mini-batches, a loss that returns its own gradient, Adam.

The segmentation and detection losses are not layers: each is a plain function
`loss_fn(out, targets) -> (J, dJ/dout)`, so the loop is the lecture's recipe written out once:
forward, loss and its gradient, backward, step. Layering: imports course.nn, course.optim,
course.training and course._args.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from course import _args
from course.nn import Module
from course.optim import Adam
from course.training import single_threaded_blas

__all__ = ["train"]


def train(
    model: Module,
    loss_fn: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    images: np.ndarray,
    targets: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 8,
    lr: float = 2e-3,
    seed: int = 0,
    log: Callable[[str], None] | None = print,
) -> list[float]:
    """Train `model` on images (N, 1, H, W) and per-image targets (N, ...) with Adam(lr) for `epochs`
    passes in mini-batches drawn in an order from `np.random.default_rng(seed)`. Each step:
    out = model(x_b); J, dJ/dout = loss_fn(out, targets_b); model.backward_parameters(dJ/dout); step.
    Returns the mean loss of each epoch; `log` (or None) hears one line per epoch.
    """
    epochs = _args.positive_int("train", "epochs", epochs)
    batch_size = _args.positive_int("train", "batch_size", batch_size)
    if len(images) != len(targets):
        raise ValueError(
            f"train: images and targets must have one entry each, got {len(images)}, {len(targets)}"
        )
    rng = np.random.default_rng(seed)
    optimizer = Adam(model.parameters(), lr=lr)
    optimizer.zero_grad()
    model.train()
    losses = []
    start = time.perf_counter()
    with single_threaded_blas():
        for epoch in range(epochs):
            order = rng.permutation(len(images))
            total = 0.0
            for first in range(0, len(images), batch_size):
                idx = order[first : first + batch_size]
                loss, grad = loss_fn(model(images[idx]), targets[idx])
                model.backward_parameters(grad)
                optimizer.step()
                optimizer.zero_grad()
                total += loss * len(idx)
            losses.append(total / len(images))
            if log is not None:
                log(
                    f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f} ({time.perf_counter() - start:.0f} s)"
                )
    model.eval()
    return losses
