"""Argument checking shared by the public ops: turn what the user passed into what the kernels need,
or raise an error that names the argument, what was expected and what was got.

Imports nothing from the rest of the package.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
MAX_ARRAY_BYTES = np.iinfo(np.intp).max  # no numpy array holds more bytes than np.intp counts


def is_int(value) -> bool:
    """True for Python and numpy integers; False for bools (True is not a count) and everything else."""
    return isinstance(value, Integral) and not isinstance(value, bool)


def positive_int(op: str, name: str, value) -> int:
    """`value` as an int >= 1, or a TypeError (not an integer) or ValueError (< 1) naming it."""
    if not is_int(value):
        raise TypeError(f"{op}: {name} must be a positive int, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be a positive int, got {value!r}")
    return int(value)


def flag(op: str, name: str, value) -> bool:
    """`value` as a bool, or a TypeError naming it: only True or False (numpy's too), not any truthy value."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be True or False, got {value!r}")
    return bool(value)


def real_number(op: str, name: str, value, expected: str) -> float:
    """`value` as a float, or a TypeError naming it when it is not a real number (a bool, a string or an
    array is not); `expected` says what is accepted, e.g. "a number in [0, 1)"."""
    if not isinstance(value, Real) or isinstance(value, bool):
        raise TypeError(f"{op}: {name} must be {expected}, got {value!r}")
    return float(value)


def finite_number(op: str, name: str, value, expected: str, in_range) -> float:
    """`value` as a finite float for which in_range(value) holds, or an error naming it: a TypeError
    when it is not a real number (`real_number`), a ValueError when it is NaN, infinite or out of range."""
    number = real_number(op, name, value, expected)
    if not (math.isfinite(number) and in_range(number)):
        raise ValueError(f"{op}: {name} must be {expected}, got {value!r}")
    return number


def generator(op: str, rng) -> np.random.Generator:
    """`rng` itself, a fresh unseeded generator for None, or a TypeError naming `rng`."""
    if rng is None:
        return np.random.default_rng()
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            f"{op}: rng must be a numpy.random.Generator (np.random.default_rng(seed)) or None, "
            f"got {type(rng).__name__}"
        )
    return rng


def as_pair(op: str, name: str, value, *, minimum: int) -> tuple[int, int]:
    """`value` as an (h, w) pair of ints >= minimum; an int stands for (value, value)."""
    if is_int(value):
        pair = (int(value), int(value))
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise TypeError(f"{op}: {name} must be an int or a pair (h, w) of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{op}: {name} must be >= {minimum} in each dimension, got {value!r}")
    return pair


def float_array(op: str, name: str, value, ndim: int | None, layout: str) -> np.ndarray:
    """Check that `value` is a float32/float64 ndarray with `ndim` dimensions (named by `layout`), or
    any number of them when ndim is None."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array of shape {layout}, got {type(value).__name__}")
    if value.dtype not in FLOAT_DTYPES:
        raise TypeError(
            f"{op}: {name} must have dtype float32 or float64, got {value.dtype} "
            f"(convert with {name}.astype(np.float32))"
        )
    if ndim is not None and value.ndim != ndim:
        raise ValueError(
            f"{op}: {name} must have {ndim} dimension{'s' * (ndim != 1)} {layout}, "
            f"got {value.ndim} ({name}.shape={value.shape})"
        )
    return value


def matching_dtype(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """`value` converted to `dtype` (the input's), so the output keeps the input's precision."""
    return value if value.dtype == dtype else value.astype(dtype)


def array_fits(op: str, name: str, value, what: str, shape, dtype) -> None:
    """A ValueError naming `name` when `name`=value makes `what`, an array of `shape` and `dtype`, larger
    than any numpy array can be (more bytes than np.intp holds): numpy's own error for it ("Maximum
    allowed dimension exceeded", or "array is too big") names no argument."""
    if math.prod(shape) * np.dtype(dtype).itemsize > MAX_ARRAY_BYTES:
        raise ValueError(
            f"{op}: {name}={value!r} makes {what} of shape {tuple(shape)}, larger than any numpy array can be"
        )


def pooled_size(op: str, size: int, kernel: int, stride: int, padding: int, axis: str) -> int:
    """Output length along one axis: (size + 2*padding - kernel) // stride + 1, which must be >= 1."""
    padded = size + 2 * padding
    if kernel > padded:
        what = "padded input" if padding else "input"
        raise ValueError(f"{op}: kernel {axis} {kernel} is larger than the {what} {axis} {padded}")
    return (padded - kernel) // stride + 1


def clamped_stride(stride: tuple[int, int], padded: tuple[int, int]) -> tuple[int, int]:
    """The stride with each axis at most the padded input's size along it. A larger stride leaves one
    output position, the window at 0, just as a stride equal to the size does, so the outputs and
    gradients are the same; clamping keeps a huge stride (2**70, say) from reaching the kernels as an
    integer Numba cannot type."""
    return (min(stride[0], padded[0]), min(stride[1], padded[1]))


def conv_args(op: str, x, w, b, stride, padding):
    """Validate conv2d arguments. Returns x, w, b (in x's dtype), (sh, sw) (clamped to the padded size),
    (ph, pw) and the output's shape (N, F, Ho, Wo). Every axis but N must be at least 1."""
    x = float_array(op, "x", x, 4, "(N, C, H, W)")
    w = matching_dtype(float_array(op, "w", w, 4, "(F, C, KH, KW)"), x.dtype)
    if 0 in x.shape[1:]:  # N = 0, an empty batch, is fine: no outputs
        raise ValueError(f"{op}: C, H and W of x (N, C, H, W) must be at least 1, got x.shape={x.shape}")
    if 0 in w.shape:
        raise ValueError(f"{op}: every axis of w (F, C, KH, KW) must be at least 1, got w.shape={w.shape}")
    if w.shape[1] != x.shape[1]:
        raise ValueError(
            f"{op}: w has {w.shape[1]} input channels but x has {x.shape[1]} "
            f"(w.shape={w.shape}, x.shape={x.shape})"
        )
    if b is not None:
        b = matching_dtype(float_array(op, "b", b, 1, "(F,)"), x.dtype)
        if b.shape[0] != w.shape[0]:
            raise ValueError(
                f"{op}: b must have one entry per output channel, F={w.shape[0]}, got b.shape={b.shape}"
            )
    stride = as_pair(op, "stride", stride, minimum=1)
    padding_value, padding = padding, as_pair(op, "padding", padding, minimum=0)
    kh, kw = w.shape[2:]
    pooled_size(op, x.shape[2], kh, stride[0], padding[0], "height")
    pooled_size(op, x.shape[3], kw, stride[1], padding[1], "width")
    padded = (x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])
    array_fits(op, "padding", padding_value, "a padded input", (*x.shape[:2], *padded), x.dtype)
    stride = clamped_stride(stride, padded)
    output = conv_output_shape(x.shape, w.shape, stride, padding)
    array_fits(op, "padding", padding_value, "an output", output, x.dtype)
    return x, w, b, stride, padding, output


def conv_output_shape(x_shape, w_shape, stride, padding) -> tuple[int, int, int, int]:
    """(N, F, Ho, Wo) with Ho = (H + 2*ph - KH) // sh + 1 and likewise Wo."""
    n, _, h, w = x_shape
    f, _, kh, kw = w_shape
    return (n, f, (h + 2 * padding[0] - kh) // stride[0] + 1, (w + 2 * padding[1] - kw) // stride[1] + 1)


def grad_out_array(op: str, grad_out, x: np.ndarray, expected: tuple[int, ...], layout: str) -> np.ndarray:
    """Check grad_out has the forward output's shape `expected`, whose axes `layout` names (e.g.
    "(N, C, Ho, Wo)" for a pooling); return it in x's dtype."""
    grad_out = float_array(op, "grad_out", grad_out, len(expected), layout)
    if grad_out.shape != tuple(expected):
        raise ValueError(
            f"{op}: grad_out must have the forward output's shape {tuple(expected)}, "
            f"got grad_out.shape={grad_out.shape}"
        )
    return matching_dtype(grad_out, x.dtype)


def pool_args(op: str, x, kernel_size, stride):
    """Validate pooling arguments. Returns x, (kh, kw), (sh, sw); stride defaults to kernel_size and is
    clamped to the input's size."""
    x = float_array(op, "x", x, 4, "(N, C, H, W)")
    kernel = as_pair(op, "kernel_size", kernel_size, minimum=1)
    stride = kernel if stride is None else as_pair(op, "stride", stride, minimum=1)
    pooled_size(op, x.shape[2], kernel[0], stride[0], 0, "height")
    pooled_size(op, x.shape[3], kernel[1], stride[1], 0, "width")
    return x, kernel, clamped_stride(stride, x.shape[2:])


def pool_output_shape(x_shape, kernel, stride) -> tuple[int, int, int, int]:
    """(N, C, Ho, Wo) with Ho = (H - KH) // sh + 1 and likewise Wo."""
    n, c, h, w = x_shape
    return (n, c, (h - kernel[0]) // stride[0] + 1, (w - kernel[1]) // stride[1] + 1)
