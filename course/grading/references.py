"""Trusted solutions of the exercises that have no `course.functional` twin.

Each function has the signature of its exercise (see the registry) and is what the checks compare a
student's answer with. They are written to be obviously right rather than fast. Layering: imports
`course.functional` and `course.gradcheck` only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from course import functional, gradcheck

__all__ = [
    "fc_param_count",
    "conv_param_count",
    "receptive_field",
    "conv2d_single",
    "conv_output_size",
    "separable_factors",
    "trace_shapes",
    "mse_cost",
    "gradient_descent_step",
    "dense_backward",
    "conv2d_backward",
    "numerical_gradient",
]


def fc_param_count(height: int, width: int, channels: int, hidden_units: int) -> int:
    """Weights of a dense layer from a height x width x channels image to `hidden_units` units."""
    return height * width * channels * hidden_units


def conv_param_count(kernel_h: int, kernel_w: int, in_channels: int, out_channels: int) -> int:
    """Weights of a convolutional layer: one KH x KW x C kernel per output channel (no bias)."""
    return kernel_h * kernel_w * in_channels * out_channels


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Side of the input region one output of a stack of (kernel_size, stride) layers sees.

    Layer l widens the region by (k_l - 1) steps of the input grid, and one step of its input is
    `jump` input pixels, the product of the strides before it: r = 1 + sum_l (k_l - 1) * prod_{m<l} s_m.
    """
    side, jump = 1, 1
    for kernel_size, stride in layers:
        side += (kernel_size - 1) * jump
        jump *= stride
    return side


def conv2d_single(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """z[n, m] = sum_{j, i} a[n + j, m + i] * w[j, i] for a (H, W), w (KH, KW): (H-KH+1, W-KW+1)."""
    w = w.astype(a.dtype, copy=False)
    return functional.conv2d(a[None, None], w[None, None])[0, 0]


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: (size + 2 * padding - kernel_size) // stride + 1."""
    return (size + 2 * padding - kernel_size) // stride + 1


def separable_factors(kernel: np.ndarray, rtol: float = 1e-9) -> tuple[np.ndarray, np.ndarray] | None:
    """(column (KH,), row (KW,)) with np.outer(column, row) == kernel, or None when rank(kernel) > 1.

    The best rank-1 approximation is s0 * u0 v0^T (the first singular triple); the kernel is
    separable when the other singular values vanish next to s0.
    """
    u, s, vt = np.linalg.svd(np.asarray(kernel, dtype=np.float64))
    if s.size > 1 and s[1] > rtol * max(s[0], 1e-300):
        return None
    root = np.sqrt(s[0])
    return u[:, 0] * root, vt[0] * root


def trace_shapes(layers: Sequence[tuple], input_shape: tuple[int, int, int]) -> list[tuple[tuple, int]]:
    """(output shape without batch, parameters incl. biases) after each layer of a CNN description.

    layers: ("conv", F, k, s, p), ("relu",), ("maxpool", k, s), ("avgpool", k, s), ("flatten",),
    ("linear", out_features); conv and pooling use Ho = (H + 2p - k) // s + 1.
    """
    shape, trace = tuple(input_shape), []
    for layer in layers:
        kind, params = layer[0], 0
        if kind == "conv":
            out_channels, k, s, p = layer[1:]
            channels, h, w = shape
            shape = (out_channels, conv_output_size(h, k, s, p), conv_output_size(w, k, s, p))
            params = out_channels * channels * k * k + out_channels
        elif kind in ("maxpool", "avgpool"):
            k, s = layer[1:]
            channels, h, w = shape
            shape = (channels, conv_output_size(h, k, s), conv_output_size(w, k, s))
        elif kind == "flatten":
            shape = (int(np.prod(shape)),)
        elif kind == "linear":
            (in_features,), out_features = shape, layer[1]
            shape, params = (out_features,), in_features * out_features + out_features
        elif kind != "relu":
            raise ValueError(f"trace_shapes: unknown layer kind {kind!r} in {layer!r}")
        trace.append((shape, params))
    return trace


def mse_cost(a: np.ndarray, y: np.ndarray) -> float:
    """J = 1/2 * sum_j (a_j - y_j)^2."""
    return 0.5 * float(np.sum((np.asarray(a, np.float64) - y) ** 2))


def gradient_descent_step(w: np.ndarray, grad_w: np.ndarray, lr: float) -> np.ndarray:
    """w - lr * dJ/dw, as a new array of w's shape and dtype."""
    return (w - lr * grad_w).astype(w.dtype, copy=False)


def dense_backward(a_prev: np.ndarray, w: np.ndarray, b: np.ndarray, y: np.ndarray):
    """Gradients of J = 1/2 sum (a - y)^2 for one sigmoid layer a = sigmoid(w @ a_prev + b).

    a_prev (n_in,), w (n_out, n_in), b (n_out,), y (n_out,). delta = (a - y) * a * (1 - a);
    returns (grad_w = outer(delta, a_prev), grad_b = delta, grad_a_prev = w.T @ delta).
    """
    with np.errstate(over="ignore"):  # a saturated unit: exp(-z) = inf gives a = 0 exactly
        a = 1.0 / (1.0 + np.exp(-(w @ a_prev + b)))
    delta = (a - y) * a * (1.0 - a)
    return np.outer(delta, a_prev), delta, w.T @ delta


def conv2d_backward(grad_out: np.ndarray, x: np.ndarray, w: np.ndarray, stride=1, padding=0):
    """(grad_x, grad_w, grad_b) of z = conv2d(x, w, b, stride, padding), each in the dtype of the array
    it belongs with: grad_x in x's, grad_w in w's, grad_b in grad_out's (the statements'; the library's
    `functional.conv2d_backward` gives all three in x's dtype). Computed in the widest of the three
    dtypes, then each converted."""
    dtype = np.result_type(grad_out, x, w)
    grads = functional.conv2d_backward(
        *(v.astype(dtype, copy=False) for v in (grad_out, x, w)), stride, padding
    )
    return tuple(g.astype(v.dtype, copy=False) for g, v in zip(grads, (x, w, grad_out), strict=True))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central differences (f(x + eps e_k) - f(x - eps e_k)) / (2 eps) for every entry k of x."""
    return gradcheck.numerical_gradient(f, x, eps=eps)
