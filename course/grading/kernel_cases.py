"""The shapes the kernel exercises are checked on, visible and hidden, and the arrays drawn for them.

Visible setups cover, between them, every class of geometry the hidden draws can produce, so a function
right on them is right on the hidden ones: non-square inputs and kernels, 1-wide kernels, stride 1 and
> 1, stride larger than the kernel (skipped rows), padding 0 and > 0 (with stride 1 and with stride > 1,
also 0 along one axis only), (h, w) pairs, one output row, batch > 1, C != F, overlapping pooling
windows (stride < kernel), leftover rows and columns that no window reaches, float32 and float64.
Hidden setups are drawn from the grader's generator. Pooling inputs have no ties (distinct values
spaced far apart), except in the one case that is about ties. Shapes are small so a check is fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ConvSetup",
    "PoolSetup",
    "VISIBLE_CONV",
    "VISIBLE_POOL",
    "hidden_conv",
    "hidden_pool",
    "pair",
    "zero_padding_hint",
]


def pair(value) -> tuple[int, int]:
    """An int or an (h, w) pair as a pair."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


@dataclass(frozen=True)
class ConvSetup:
    """x (n, c, h, w), w (f, c, kh, kw), stride and padding as passed (int or pair). With
    `others_dtype`, w, b and grad_out are converted to it after drawing: x keeps `dtype` (a case that
    mixes dtypes, where x's dtype or another's decides the output's)."""

    label: str
    n: int
    c: int
    h: int
    w: int
    f: int
    kh: int
    kw: int
    stride: int | tuple[int, int] = 1
    padding: int | tuple[int, int] = 0
    dtype: str = "float64"
    bias: bool = True
    others_dtype: str | None = None

    def arrays(self, rng: np.random.Generator):
        """(x, w, b or None, grad_out) drawn from rng in the setup's dtype (w, b and grad_out then
        converted to `others_dtype`, when given)."""
        (sh, sw), (ph, pw) = pair(self.stride), pair(self.padding)
        ho, wo = (self.h + 2 * ph - self.kh) // sh + 1, (self.w + 2 * pw - self.kw) // sw + 1
        x = rng.standard_normal((self.n, self.c, self.h, self.w)).astype(self.dtype)
        w = rng.standard_normal((self.f, self.c, self.kh, self.kw)).astype(self.dtype)
        b = rng.standard_normal(self.f).astype(self.dtype) if self.bias else None
        grad_out = rng.standard_normal((self.n, self.f, ho, wo)).astype(self.dtype)
        if self.others_dtype is not None:
            w, grad_out = w.astype(self.others_dtype), grad_out.astype(self.others_dtype)
            b = None if b is None else b.astype(self.others_dtype)
        return x, w, b, grad_out


@dataclass(frozen=True)
class PoolSetup:
    """x (n, c, h, w) pooled with kernel_size and stride as passed (stride None: not passed at all)."""

    label: str
    n: int
    c: int
    h: int
    w: int
    kernel_size: int | tuple[int, int]
    stride: int | tuple[int, int] | None = None
    dtype: str = "float64"
    ties: bool = False

    def arrays(self, rng: np.random.Generator):
        """(x, grad_out): x without ties (values at least 0.25 apart), unless the setup is about ties."""
        (kh, kw) = pair(self.kernel_size)
        (sh, sw) = pair(self.kernel_size if self.stride is None else self.stride)
        size = self.n * self.c * self.h * self.w
        if self.ties:
            x = rng.integers(-1, 2, size=size).astype(self.dtype)  # many equal maxima, as after a ReLU
        else:
            x = ((rng.permutation(size) - size / 2) * 0.25 + rng.uniform(0, 0.05)).astype(self.dtype)
        ho, wo = (self.h - kh) // sh + 1, (self.w - kw) // sw + 1
        grad_out = rng.standard_normal((self.n, self.c, ho, wo)).astype(self.dtype)
        return x.reshape(self.n, self.c, self.h, self.w), grad_out

    def call_args(self, *leading) -> tuple:
        """The positional arguments of the call: stride is left out when it is None (the default)."""
        return (*leading, self.kernel_size) + (() if self.stride is None else (self.stride,))


VISIBLE_CONV = [
    ConvSetup("one 5x6 image, one channel, one 3x3 kernel", 1, 1, 5, 6, 1, 3, 3),
    ConvSetup("batch of 2, 3 input channels, 4 kernels of 3x2 on 7x6 images", 2, 3, 7, 6, 4, 3, 2),
    ConvSetup("stride 2 and padding 1 (with a leftover column)", 2, 2, 7, 8, 3, 3, 3, stride=2, padding=1),
    ConvSetup(
        "(h, w) pairs: stride (2, 1), padding (1, 2), 3x4 kernels, float32",
        2,
        3,
        8,
        7,
        2,
        3,
        4,
        stride=(2, 1),
        padding=(1, 2),
        dtype="float32",
    ),
    ConvSetup(
        "no bias, padding (0, 1), stride (1, 3), float32",
        1,
        2,
        6,
        9,
        3,
        2,
        3,
        stride=(1, 3),
        padding=(0, 1),
        dtype="float32",
        bias=False,
    ),
    ConvSetup("stride 1 with padding (2, 1) on both axes, 3x2 kernels", 1, 2, 5, 4, 3, 3, 2, padding=(2, 1)),
    ConvSetup(
        "1x3 kernels, stride (3, 2) larger than the kernel along H (rows skipped), one output row, float32",
        2,
        1,
        3,
        7,
        2,
        1,
        3,
        stride=(3, 2),
        dtype="float32",
    ),
]

VISIBLE_POOL = [
    PoolSetup("2x2 windows, stride left to its default (= kernel_size)", 1, 1, 4, 6, 2),
    PoolSetup("overlapping 3x3 windows with stride 1, batch of 2, 3 channels", 2, 3, 5, 6, 3, 1),
    PoolSetup("non-square 2x3 windows, stride (2, 1), float32", 2, 2, 6, 7, (2, 3), (2, 1), dtype="float32"),
    PoolSetup("3x3 windows, stride 2 (overlapping, with a leftover row)", 1, 2, 8, 7, 3, 2),
    PoolSetup("3x2 windows, default stride, float32", 2, 1, 7, 6, (3, 2), dtype="float32"),
    PoolSetup(
        "1x2 windows, stride (2, 3) larger than the window (gaps), one output row", 1, 2, 2, 8, (1, 2), (2, 3)
    ),
]


def hidden_conv(rng: np.random.Generator, count: int = 4) -> list[ConvSetup]:
    """`count` random convolution setups: every size, stride and padding (< kernel) in a small range."""
    setups = []
    for index in range(count):
        kh, kw = (int(k) for k in rng.integers(1, 5, size=2))
        ph, pw = int(rng.integers(0, kh)), int(rng.integers(0, kw))
        sh, sw = (int(s) for s in rng.integers(1, 4, size=2))
        h, w = kh + int(rng.integers(0, 7)), kw + int(rng.integers(0, 7))
        n, c, f = int(rng.integers(1, 4)), int(rng.integers(1, 4)), int(rng.integers(1, 5))
        as_pairs = rng.random() < 0.5 or sh != sw or ph != pw
        stride, padding = ((sh, sw), (ph, pw)) if as_pairs else (sh, ph)
        dtype = str(rng.choice(["float32", "float64"]))
        label = (
            f"random case {index + 1}: x {(n, c, h, w)}, w {(f, c, kh, kw)}, "
            f"stride {stride}, padding {padding}, {dtype}"
        )
        setups.append(
            ConvSetup(label, n, c, h, w, f, kh, kw, stride, padding, dtype, bool(rng.random() < 0.7))
        )
    return setups


def hidden_pool(rng: np.random.Generator, count: int = 4) -> list[PoolSetup]:
    """`count` random pooling setups, stride sometimes left out, sometimes smaller than the window."""
    setups = []
    for index in range(count):
        kh, kw = (int(k) for k in rng.integers(1, 4, size=2))
        sh, sw = (int(s) for s in rng.integers(1, 4, size=2))
        h, w = kh + int(rng.integers(0, 6)), kw + int(rng.integers(0, 6))
        n, c = int(rng.integers(1, 3)), int(rng.integers(1, 4))
        kernel = (kh, kw) if kh != kw or rng.random() < 0.5 else kh
        choice = rng.random()
        stride = None if choice < 0.3 else (sh, sw) if sh != sw or choice < 0.6 else sh
        dtype = str(rng.choice(["float32", "float64"]))
        label = f"random case {index + 1}: x {(n, c, h, w)}, kernel_size {kernel}, stride {stride}, {dtype}"
        setups.append(PoolSetup(label, n, c, h, w, kernel, stride, dtype))
    return setups


def zero_padding_hint(padding, error: str) -> str:
    """For a function that raised `error` on a case with padding 0 along an axis: the classic empty
    slice a[p:-p], but only when the error is about an empty array (a shape with a 0 in it)."""
    empty = re.search(r"\((?:\d+,\s*)*0(?:,\s*\d+)*,?\)", error) or "zero-size" in error
    if 0 in pair(padding) and empty:
        return (
            f"note: this case has padding={padding!r}, and your error is about an empty array; when p = 0, "
            "a slice like a[p:-p] is empty (write a[p:p + H] instead)"
        )
    return ""
