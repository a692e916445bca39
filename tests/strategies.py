"""Hypothesis strategies that generate only valid convolution and pooling problems.

Every geometry drawn here satisfies the public contract (kernel no larger than the padded input,
padding >= 0, stride >= 1), so a failure is a wrong answer, never a rejected input. Paddings go up to
and beyond the kernel size, as PyTorch allows: the outputs that see only zeros must be the bias.
Sizes stay small because the naive loops are the reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

DTYPES = st.sampled_from([np.float32, np.float64])


@dataclass(frozen=True)
class ConvCase:
    """x (N, C, H, W), w (F, C, KH, KW), b (F,) or None, stride and padding as the user passed them
    (int or pair), and the pairs they stand for."""

    x: np.ndarray
    w: np.ndarray
    b: np.ndarray | None
    stride: int | tuple[int, int]
    padding: int | tuple[int, int]
    stride_pair: tuple[int, int]
    padding_pair: tuple[int, int]


@dataclass(frozen=True)
class PoolCase:
    """x (N, C, H, W), kernel_size and stride as the user passed them (stride may be None), and the
    pairs they stand for."""

    x: np.ndarray
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] | None
    kernel_pair: tuple[int, int]
    stride_pair: tuple[int, int]


def _as_given(draw, pair: tuple[int, int]):
    """The pair as an int when both entries agree and hypothesis says so, else as a tuple."""
    if pair[0] == pair[1] and draw(st.booleans()):
        return pair[0]
    return pair


def _values(draw, shape, dtype) -> np.ndarray:
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@st.composite
def conv_cases(draw, max_batch: int = 3, max_channels: int = 3, max_size: int = 9, dtypes=DTYPES):
    """A valid conv2d problem: non-square input, kernel, stride and padding (from 0 to the kernel
    size + 1, so as large as the kernel and larger too), bias or not."""
    dtype = draw(dtypes)
    n, c, f = (draw(st.integers(1, m)) for m in (max_batch, max_channels, max_channels))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh + 1)), draw(st.integers(0, kw + 1))
    h = draw(st.integers(max(1, kh - 2 * ph), max_size))
    w = draw(st.integers(max(1, kw - 2 * pw), max_size))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    b = _values(draw, (f,), dtype) if draw(st.booleans()) else None
    return ConvCase(
        x=_values(draw, (n, c, h, w), dtype),
        w=_values(draw, (f, c, kh, kw), dtype),
        b=b,
        stride=_as_given(draw, (sh, sw)),
        padding=_as_given(draw, (ph, pw)),
        stride_pair=(sh, sw),
        padding_pair=(ph, pw),
    )


@st.composite
def pool_cases(draw, max_batch: int = 3, max_channels: int = 3, max_size: int = 9, dtypes=DTYPES):
    """A valid pooling problem: non-square kernel and stride, overlapping windows (stride < kernel)
    and gaps (stride > kernel) both drawn, stride omitted (= kernel_size) sometimes."""
    dtype = draw(dtypes)
    n, c = draw(st.integers(1, max_batch)), draw(st.integers(1, max_channels))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h, w = draw(st.integers(kh, max_size)), draw(st.integers(kw, max_size))
    if draw(st.booleans()):
        stride, stride_pair = None, (kh, kw)
    else:
        stride_pair = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
        stride = _as_given(draw, stride_pair)
    x = _values(draw, (n, c, h, w), dtype)
    if draw(st.booleans()):
        x = np.round(x).astype(dtype)  # many ties, to exercise "the first maximum"
    return PoolCase(x, _as_given(draw, (kh, kw)), stride, (kh, kw), stride_pair)
