"""Training loops: `fit` a model with mini-batch gradient descent, `evaluate` it, `predict` with it.

Each step is the lecture's recipe made explicit: forward, cost, backward (dJ/dw for every layer),
then the optimiser's update. Accuracy is reported for classification: integer labels (N,) compared
with the argmax of the outputs, or one-hot targets (N, K) (0s and 1s, one 1 per row) compared by argmax;
it is NaN for any other target (regression). Layering: imports `course.nn`, `course.optim` and the
helpers `course._args` and `course._blas`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from course import _args
from course._blas import single_threaded_blas
from course.nn.module import Module
from course.optim import Optimizer

__all__ = ["History", "accuracy", "evaluate", "fit", "predict"]


@dataclass
class History:
    """Per-epoch averages: training loss and accuracy, and validation ones when validation data was given
    (NaN accuracy when the targets are not classes). The losses are per example, whatever the loss's
    reduction (a "sum" loss is divided by the number of examples)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)

    def plot(self):
        """Loss and accuracy curves against the epoch, side by side; returns the matplotlib Figure."""
        import matplotlib.pyplot as plt

        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.5))
        epochs = np.arange(1, len(self.train_loss) + 1)
        for ax, train, val, label in (
            (ax_loss, self.train_loss, self.val_loss, "loss"),
            (ax_acc, self.train_acc, self.val_acc, "accuracy"),
        ):
            ax.plot(epochs, train, "o-", label=f"train {label}")
            if val:
                ax.plot(epochs, val, "s-", label=f"validation {label}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(label)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        return fig


def accuracy(outputs: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows of outputs (N, K) whose argmax is the class: y (N,) integer labels, or y (N, K)
    one-hot (only 0s and 1s, exactly one 1 per row) compared by its argmax. NaN for any other y, such as
    regression targets, which have no classes."""
    _check_data("accuracy", outputs, y, names=("outputs", "y"))
    if outputs.ndim != 2:
        return float("nan")
    if y.ndim == 1 and np.issubdtype(y.dtype, np.integer):
        return float(np.mean(outputs.argmax(axis=1) == y))
    if y.shape == outputs.shape and y.shape[1] > 1 and _is_one_hot(y):
        return float(np.mean(outputs.argmax(axis=1) == y.argmax(axis=1)))
    return float("nan")


def _is_one_hot(y: np.ndarray) -> bool:
    """True when y (N, K) holds only 0s and 1s, with exactly one 1 in each row."""
    return bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1))


def fit(
    model: Module,
    loss_fn: Module,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    x_val: np.ndarray | None = None,
    y_val: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    progress: bool = True,
) -> History:
    """Train `model` on (x, y) for `epochs` passes in shuffled mini-batches; returns a `History`.

    x (N, ...) and y (N, ...) share their first axis. Each batch: outputs = model(x_b), J = loss_fn(outputs,
    y_b), model.backward_parameters(loss_fn.backward()) (backward without dJ/dx_b, which nothing needs),
    optimizer.step(), optimizer.zero_grad(). The order of the examples is drawn from `rng` each epoch
    (`rng.permutation(N)`, one call per epoch; a fresh unseeded generator when rng is None).
    With `progress`, a tqdm bar per epoch shows the running loss and accuracy.
    """
    _check_data("fit", x, y)
    if x_val is not None or y_val is not None:
        _check_data("fit", x_val, y_val, names=("x_val", "y_val"))
    if not isinstance(optimizer, Optimizer):
        raise TypeError(
            "fit: optimizer must be a course.optim Optimizer, e.g. optim.SGD(model.parameters(), lr=0.1), "
            f"got {type(optimizer).__name__}"
        )
    epochs = _args.positive_int("fit", "epochs", epochs)
    batch_size = _args.positive_int("fit", "batch_size", batch_size)
    rng = _args.generator("fit", rng)
    progress = _args.flag("fit", "progress", progress)
    history = History()
    optimizer.zero_grad()
    with single_threaded_blas():
        for epoch in range(epochs):
            model.train()
            order = rng.permutation(len(x))
            total_loss, total_correct, seen = 0.0, 0.0, 0
            bar = tqdm(range(0, len(x), batch_size), desc=f"epoch {epoch + 1}/{epochs}", disable=not progress)
            for start in bar:
                idx = order[start : start + batch_size]
                outputs = model(x[idx])
                loss = loss_fn(outputs, y[idx])
                model.backward_parameters(loss_fn.backward())
                optimizer.step()
                optimizer.zero_grad()
                total_loss += _batch_total(loss_fn, loss, len(idx))
                total_correct += accuracy(outputs, y[idx]) * len(idx)
                seen += len(idx)
                bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{total_correct / seen:.4f}")
            history.train_loss.append(total_loss / seen)
            history.train_acc.append(total_correct / seen)
            if x_val is not None:
                val_loss, val_acc = evaluate(model, loss_fn, x_val, y_val, batch_size=max(batch_size, 256))
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
                bar.set_postfix(
                    loss=f"{total_loss / seen:.4f}",
                    acc=f"{total_correct / seen:.4f}",
                    val_loss=f"{val_loss:.4f}",
                    val_acc=f"{val_acc:.4f}",
                )
            bar.close()
    model.train()
    return history


def evaluate(model: Module, loss_fn: Module, x: np.ndarray, y: np.ndarray, batch_size: int = 256):
    """(mean loss per example, accuracy) of `model` on (x, y), in eval mode, batch by batch."""
    _check_data("evaluate", x, y)
    batch_size = _args.positive_int("evaluate", "batch_size", batch_size)
    outputs = predict(model, x, batch_size)
    total = 0.0
    for start in range(0, len(x), batch_size):
        part = slice(start, start + batch_size)
        total += _batch_total(loss_fn, loss_fn(outputs[part], y[part]), len(y[part]))
    return total / len(x), accuracy(outputs, y)


def _batch_total(loss_fn: Module, loss: float, batch: int) -> float:
    """A batch's loss summed over its examples: J times the batch size for a loss that averages them
    (reduction "mean", and a loss without the attribute), J itself for one that adds them ("sum")."""
    return loss if getattr(loss_fn, "reduction", "mean") == "sum" else loss * batch


def predict(model: Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """The model's outputs for x (N, ...), computed batch by batch in eval mode; the mode is restored."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"predict: x must be a numpy array (N, ...), got {type(x).__name__}")
    if x.ndim < 1 or len(x) == 0:
        raise ValueError(f"predict: x must hold at least one example (N, ...), got x.shape={x.shape}")
    batch_size = _args.positive_int("predict", "batch_size", batch_size)
    was_training = model.training
    model.eval()
    try:
        with single_threaded_blas():
            batches = [x[start : start + batch_size] for start in range(0, len(x), batch_size)]
            return np.concatenate([model(batch) for batch in batches])
    finally:
        model.train(was_training)


def _check_data(op: str, x, y, names: tuple[str, str] = ("x", "y")) -> None:
    """x and y must be arrays (N, ...) with the same N >= 1; `names` are the arguments' names in `op`."""
    a, b = names
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        got = f"{type(x).__name__} and {type(y).__name__}"
        raise TypeError(f"{op}: {a} and {b} must be numpy arrays, got {got}")
    if x.ndim == 0 or y.ndim == 0 or len(x) == 0 or len(x) != len(y):
        raise ValueError(
            f"{op}: {a} and {b} must hold the same positive number of examples, got {a}.shape={x.shape}, "
            f"{b}.shape={y.shape}"
        )
