"""Known-wrong variants of the kernel exercises, computed on the trusted side to name a student's bug.

When an output is wrong, the checks compute what each classic mistake would have produced on the same
case (a true convolution, padding on one side, stride ignored, a gradient overwritten instead of
accumulated, ...) and, if the output equals one of them, say so in plain words. Every function here
is deliberately parameterised by the mistake; none of them is a reference. They work in float64 with
plain numpy (`numpy_ops`) and loop only over output positions (small check-sized arrays).

Shapes: x (N, C, H, W), w (F, C, KH, KW), grad_out (N, F or C, Ho, Wo); pairs are (along H, along W).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from course.grading.numpy_ops import correlate, pad, pool, windows

__all__ = [
    "BIAS_ON_LAST_AXIS",
    "PADDING_MODES",
    "padding_mode_message",
    "Variant",
    "conv2d_variants",
    "conv2d_backward_variants",
    "max_pool2d_variants",
    "avg_pool2d_variants",
    "pool_backward_variants",
]

Variant = tuple[str, Callable[[], object]]  # (what the student did, computes what that gives)

# `z + b` with b of shape (F,): numpy lines b up with the last axis (W), which works, wrongly, when the
# output has one column (then the output gets F columns) or F of them
BIAS_ON_LAST_AXIS = (
    "the bias was added along the last axis (W): z + b lines b up with the columns; add b[f] to every "
    "output of channel f, z + b[None, :, None, None]"
)


# np.pad's modes that pad with something other than zeros, and what each repeats
PADDING_MODES = {"edge": "the border values", "reflect": "a mirror image", "symmetric": "a mirror image"}


def padding_mode_message(mode: str) -> str:
    """What a student who padded with np.pad(..., mode=mode) is told."""
    return (
        f"the padding repeats {PADDING_MODES[mode]} (as np.pad with mode={mode!r}): zero padding adds "
        "zeros, np.pad's default mode='constant'"
    )


def conv2d_variants(x, w, b, stride, padding) -> Iterator[Variant]:
    """Wrong forward convolutions of the case conv2d(x, w, b, stride, padding), pairs normalised."""
    (sh, sw), (ph, pw) = stride, padding
    both = (ph, ph, pw, pw)
    yield (
        "your output equals a true convolution (kernel flipped): the lecture's formula "
        "z[n, m] = sum a[n+j, m+i] * w[j, i] does not flip the kernel",
        lambda: correlate(x, w[:, :, ::-1, ::-1], b, stride, both),
    )
    if b is not None:
        yield (
            "the bias is missing: add b[f] to every output of kernel f",
            lambda: correlate(x, w, None, stride, both),
        )
        if b.shape[0] > 1:
            yield BIAS_ON_LAST_AXIS, lambda: correlate(x, w, None, stride, both) + b
        if x.shape[1] > 1:
            yield (
                "the bias was added once per input channel; add b[f] once, after summing the channels",
                lambda: correlate(x, w, b * x.shape[1], stride, both),
            )
    if x.shape[1] > 1:
        message = "only one input channel contributes: sum the products over all C input channels"
        yield message, lambda: correlate(x[:, -1:], w[:, -1:], b, stride, both)
        yield message, lambda: correlate(x[:, :1], w[:, :1], b, stride, both)
    if ph or pw:
        one_side = (
            "zeros were added on one side only: padding adds p rows above and below, p columns left and right"
        )
        yield one_side, lambda: correlate(x, w, b, stride, (ph, 0, pw, 0))
        yield one_side, lambda: correlate(x, w, b, stride, (0, ph, 0, pw))
        yield (
            "the padding was ignored: add the zeros before sliding the kernel",
            lambda: correlate(x, w, b, stride),
        )
        for mode in PADDING_MODES:
            yield (
                padding_mode_message(mode),
                lambda mode=mode: correlate(
                    np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=mode), w, b, stride
                ),
            )
    if (sh, sw) != (1, 1):
        yield (
            "the stride was ignored: move the kernel by sh rows and sw columns",
            lambda: correlate(x, w, b, (1, 1), both),
        )
    if (sh, sw, ph, pw) != (sw, sh, pw, ph):
        yield (
            "the (h, w) pairs are used the wrong way round: stride and padding pairs are (along H, along W)",
            lambda: correlate(x, w, b, (sw, sh), (pw, pw, ph, ph)),
        )
    yield (
        "H and W are swapped in the kernel: w[f, c, j, i] multiplies a[s, c, n*sh + j, m*sw + i] (j along H)",
        lambda: correlate(x, w.transpose(0, 1, 3, 2), b, stride, both),
    )


def max_pool2d_variants(x, kernel, stride, stride_given: bool) -> Iterator[Variant]:
    """Wrong max poolings of the case max_pool2d(x, kernel, stride)."""
    yield from _pool_layout_variants(x, kernel, stride, stride_given, np.max)
    yield (
        "you took the mean of each window: max pooling takes its maximum",
        lambda: pool(x, kernel, stride, np.mean),
    )
    yield (
        "you took the minimum of each window: max pooling takes its maximum",
        lambda: pool(x, kernel, stride, np.min),
    )


def avg_pool2d_variants(x, kernel, stride, stride_given: bool) -> Iterator[Variant]:
    """Wrong average poolings of the case avg_pool2d(x, kernel, stride)."""
    (kh, kw) = kernel
    yield from _pool_layout_variants(x, kernel, stride, stride_given, np.mean)
    for count, how in _wrong_counts(kh, kw):
        yield (
            f"the window sums were divided by {how}; a {kh}x{kw} window has KH * KW = {kh * kw} entries",
            lambda count=count: pool(x, kernel, stride, np.sum) / count,
        )
    yield (
        "you took the maximum of each window: average pooling takes its mean",
        lambda: pool(x, kernel, stride, np.max),
    )


def _wrong_counts(kh: int, kw: int) -> Iterator[tuple[float, str]]:
    """Wrong divisors of a window sum, with how each comes about. Two ways to the same divisor (KH only
    and KH * KH when KH = 1...) both stay, so that the matcher, seeing two explanations, stays silent."""
    for count, how in (
        (1, "nothing (a sum)"),
        (kh, "KH only"),
        (kw, "KW only"),
        (kh * kh, "KH * KH"),
        (kw * kw, "KW * KW"),
        (kh + kw, "KH + KW"),
    ):
        if count != kh * kw:
            yield count, how


def _pool_layout_variants(x, kernel, stride, stride_given, reduce) -> Iterator[Variant]:
    (kh, kw), (sh, sw) = kernel, stride
    if (sh, sw) != (1, 1):
        message = (
            "the stride was ignored: windows move by the stride"
            if stride_given
            else "stride=None was taken as 1: it means stride = kernel_size (windows side by side)"
        )
        yield message, lambda: pool(x, kernel, (1, 1), reduce)
    if stride_given and (sh, sw) != (kh, kw):
        yield (
            "the stride was replaced by kernel_size: use the stride that was passed",
            lambda: pool(x, kernel, kernel, reduce),
        )
    if (kh, kw, sh, sw) != (kw, kh, sw, sh):
        yield (
            "H and W are swapped: kernel_size and stride pairs are (along H, along W)",
            lambda: pool(x, (kw, kh), (sw, sh), reduce),
        )


def conv2d_backward_variants(grad_out, x, w, stride, padding) -> dict[str, list[Variant]]:
    """Wrong gradients of conv2d_backward, per output: {"grad_x": [...], "grad_w": [...], "grad_b": [...]}."""
    (ph, pw), (h, wd) = padding, x.shape[2:]
    n = x.shape[0]
    delta = np.asarray(grad_out, np.float64)

    def grad_x(kernel=w, step=stride, cut=(ph, pw), d=delta):
        grad_a = _scatter_conv(d, kernel, step, (h + 2 * ph, wd + 2 * pw))
        return grad_a[:, :, cut[0] : cut[0] + h, cut[1] : cut[1] + wd]

    def grad_w(d=delta, images=slice(None), step=stride):
        a = pad(x[images], ph, ph, pw, pw)
        ho, wo = d.shape[2:]
        patches = windows(a, w.shape[2], w.shape[3], 1, 1)
        patches = patches[:, :, : (ho - 1) * step[0] + 1 : step[0], : (wo - 1) * step[1] + 1 : step[1]]
        return np.einsum("ncrsji,nfrs->fcji", patches, d[images])

    variants: dict[str, list[Variant]] = {"grad_x": [], "grad_w": [], "grad_b": []}
    variants["grad_x"].append(
        (
            "grad_x used the kernel flipped the wrong way: written as a scatter, "
            "dJ/da[n*sh + j, m*sw + i] += w[j, i] * delta[n, m] "
            "(as a full convolution, the kernel is flipped)",
            lambda: grad_x(kernel=w[:, :, ::-1, ::-1]),
        )
    )

    def grad_x_overwritten(rows_first=True):
        """Each kernel offset's contribution assigned (=) to its strided slice instead of added."""
        (sh, sw), (kh, kw), (ho, wo) = stride, w.shape[2:], delta.shape[2:]
        grad_a = np.zeros((n, x.shape[1], h + 2 * ph, wd + 2 * pw))
        offsets = [(j, i) for j in range(kh) for i in range(kw)]
        for j, i in offsets if rows_first else sorted(offsets, key=lambda o: (o[1], o[0])):
            part = np.einsum("nfrs,fc->ncrs", delta, np.asarray(w[:, :, j, i], np.float64))
            grad_a[:, :, j : j + sh * (ho - 1) + 1 : sh, i : i + sw * (wo - 1) + 1 : sw] = part
        return grad_a[:, :, ph : ph + h, pw : pw + wd]

    overwritten = (
        "grad_x was overwritten (=) where it should accumulate (+=): the kernel offsets (j, i) reach "
        "overlapping inputs, and an input gets the sum of what every offset sends it"
    )
    variants["grad_x"] += [
        (overwritten, grad_x_overwritten),
        (overwritten, lambda: grad_x_overwritten(False)),
    ]
    if stride != (1, 1):
        variants["grad_x"].append(
            (
                "grad_x ignores the stride: delta[n, m] flows back to a[n*sh + j, m*sw + i]",
                lambda: grad_x(step=(1, 1)),
            )
        )
        variants["grad_w"].append(
            (
                "grad_w ignores the stride: it sums a[n*sh + j, m*sw + i] * delta[n, m]",
                lambda: grad_w(step=(1, 1)),
            )
        )
    if ph or pw:
        variants["grad_x"].append(
            (
                "the padding was cut from one side only: "
                "drop ph rows above and below, pw columns left and right",
                lambda: grad_x(cut=(0, 0)),
            )
        )
        variants["grad_x"].append(
            ("the padding was cut from one side only", lambda: grad_x(cut=(2 * ph, 2 * pw)))
        )
    if w.shape[0] > 1:
        variants["grad_x"].append(
            (
                "grad_x keeps only one output channel: sum the contributions of all F kernels",
                lambda: grad_x(kernel=w[-1:], d=delta[:, -1:]),
            )
        )
    if n > 1:
        batch = "grad_w must sum over all N images of the batch"
        variants["grad_w"] += [
            (
                f"{batch}; yours keeps only the last image (overwritten, not summed)",
                lambda: grad_w(images=slice(-1, None)),
            ),
            (f"{batch}; yours keeps only the first image", lambda: grad_w(images=slice(0, 1))),
            (f"{batch}; yours averages over the batch", lambda: grad_w() / n),
        ]
        variants["grad_b"] += [
            (
                "grad_b must sum delta over the batch too; yours keeps only one image",
                lambda: delta[-1].sum(axis=(1, 2)),
            ),
            (
                "grad_b must sum delta over the batch too; yours keeps only one image",
                lambda: delta[0].sum(axis=(1, 2)),
            ),
            (
                "grad_b must sum delta over the batch; yours averages over it",
                lambda: delta.sum(axis=(0, 2, 3)) / n,
            ),
        ]
    variants["grad_w"].append(
        (
            "grad_w is rotated by 180°: dJ/dw[f, c, j, i] = sum a[s, c, n*sh + j, m*sw + i] * "
            "delta[s, f, n, m], the input correlated with delta without any flip (the forward pass does "
            "not flip the kernel)",
            lambda: grad_w()[:, :, ::-1, ::-1],
        )
    )
    variants["grad_b"].append(
        ("grad_b averages delta: it is the sum over s, n, m", lambda: delta.mean(axis=(0, 2, 3)))
    )
    return variants


def _scatter_conv(delta, w, step, padded_hw) -> np.ndarray:
    """grad_a[n, ch, r*step_h + j, c*step_w + i] += w[f, ch, j, i] * delta[n, f, r, c] on a grid big
    enough for any `step` (the true stride or a wrong one), cropped to the padded input's `padded_hw`."""
    n, _, ho, wo = delta.shape
    _, c, kh, kw = w.shape
    rows = max(padded_hw[0], (ho - 1) * step[0] + kh)
    cols = max(padded_hw[1], (wo - 1) * step[1] + kw)
    grad_a = np.zeros((n, c, rows, cols))
    contributions = np.einsum("nfrs,fcji->ncrsji", delta, np.asarray(w, np.float64))
    for r in range(ho):
        for s in range(wo):
            down, across = slice(r * step[0], r * step[0] + kh), slice(s * step[1], s * step[1] + kw)
            grad_a[:, :, down, across] += contributions[:, :, r, s]
    return grad_a[:, :, : padded_hw[0], : padded_hw[1]]


def pool_backward_variants(grad_out, x, kernel, stride, kind: str) -> Iterator[Variant]:
    """Wrong gradients of max_pool2d_backward (kind "max") or avg_pool2d_backward (kind "avg")."""
    (kh, kw), (sh, sw) = kernel, stride
    scatter = _scatter_max if kind == "max" else _scatter_avg
    overlapping = sh < kh or sw < kw
    if overlapping:
        overwritten = (
            "the gradient was overwritten instead of accumulated: where windows overlap, one input gets "
            "the sum of the gradients of every window it belongs to (use +=)"
        )
        yield overwritten, lambda: scatter(grad_out, x, kernel, stride, accumulate=False)
        if kind == "max":  # the same mistake as a slice: each window's mask * gradient replaces its region
            yield overwritten, lambda: _scatter_max(grad_out, x, kernel, stride, accumulate=False, whole=True)
    if (sh, sw) != (1, 1):
        yield (
            "the stride was ignored in the backward pass: window (n, m) starts at row n*sh, column m*sw",
            lambda: scatter(grad_out, x, kernel, stride, step=(1, 1)),
        )
    if kind == "max":
        yield (
            "on ties the gradient went to the last maximum; it goes to the first one (in row-major order, "
            "as np.argmax and PyTorch)",
            lambda: _scatter_max(grad_out, x, kernel, stride, last=True),
        )
        first = "it goes whole to the first maximum (in row-major order, as np.argmax and PyTorch)"
        yield (
            f"on ties the gradient went to every tied maximum of the window; {first}",
            lambda: _scatter_ties(grad_out, x, kernel, stride, split=False),
        )
        yield (
            f"on ties the gradient was split among the tied maxima of the window; {first}",
            lambda: _scatter_ties(grad_out, x, kernel, stride, split=True),
        )
        yield (
            "the gradient went to every input of the window: it goes only to the position of the maximum",
            lambda: _scatter_avg(grad_out, x, kernel, stride, count=1),
        )
        yield (
            "the gradient was spread evenly like average pooling: max pooling sends it to the maximum only",
            lambda: _scatter_avg(grad_out, x, kernel, stride),
        )
        yield (
            "a 1 was put at each maximum: multiply by the incoming gradient grad_out",
            lambda: _scatter_max(np.ones_like(grad_out), x, kernel, stride),
        )
    else:
        for count, how in _wrong_counts(kh, kw):
            yield (
                f"the gradient was divided by {how}; each of the KH * KW = {kh * kw} inputs of a window gets "
                f"grad_out / {kh * kw}",
                lambda count=count: _scatter_avg(grad_out, x, kernel, stride, count=count),
            )


def _scatter_max(
    grad_out, x, kernel, stride, accumulate=True, step=None, last=False, whole=False
) -> np.ndarray:
    """grad_out sent to each window's maximum (the first, or the `last` on ties), windows starting at
    r*step_h, c*step_w; with accumulate=False each window's entry replaces what was there, and with
    `whole` too its whole region is replaced (zeros around the maximum), as a slice assignment does."""
    (kh, kw), (sh, sw) = kernel, stride
    step_h, step_w = step or stride
    n, c, ho, wo = grad_out.shape
    grad = np.zeros(x.shape)
    rows, cols = np.indices((n, c))
    for r in range(ho):
        for s in range(wo):
            window = x[:, :, r * sh : r * sh + kh, s * sw : s * sw + kw].reshape(n, c, -1)
            index = kh * kw - 1 - np.argmax(window[:, :, ::-1], axis=2) if last else np.argmax(window, axis=2)
            j, i = np.divmod(index, kw)
            target = (rows, cols, r * step_h + j, s * step_w + i)
            if target[2].max() >= x.shape[2] or target[3].max() >= x.shape[3]:
                return np.full(x.shape, np.nan)  # this mistake would have indexed out of bounds
            if whole:
                grad[:, :, r * step_h : r * step_h + kh, s * step_w : s * step_w + kw] = 0.0
            grad[target] = grad[target] + grad_out[:, :, r, s] if accumulate else grad_out[:, :, r, s]
    return grad


def _scatter_ties(grad_out, x, kernel, stride, split: bool) -> np.ndarray:
    """grad_out sent to every input equal to its window's maximum (each gets all of it, or an equal
    share when `split`), accumulated over overlapping windows."""
    (kh, kw), (sh, sw) = kernel, stride
    grad = np.zeros(x.shape)
    for r in range(grad_out.shape[2]):
        for s in range(grad_out.shape[3]):
            region = (slice(None), slice(None), slice(r * sh, r * sh + kh), slice(s * sw, s * sw + kw))
            window = np.asarray(x[region], np.float64)
            mask = window == window.max(axis=(2, 3), keepdims=True)
            share = mask / mask.sum(axis=(2, 3), keepdims=True) if split else mask
            grad[region] += share * np.asarray(grad_out, np.float64)[:, :, r, s, None, None]
    return grad


def _scatter_avg(grad_out, x, kernel, stride, accumulate=True, step=None, count=None) -> np.ndarray:
    kh, kw = kernel
    step_h, step_w = step or stride
    share = np.asarray(grad_out, np.float64) / (count or kh * kw)
    grad = np.zeros(x.shape)
    for r in range(grad_out.shape[2]):
        for s in range(grad_out.shape[3]):
            region = (
                slice(None),
                slice(None),
                slice(r * step_h, r * step_h + kh),
                slice(s * step_w, s * step_w + kw),
            )
            value = share[:, :, r, s, None, None]
            grad[region] = grad[region] + value if accumulate else np.broadcast_to(value, grad[region].shape)
    return grad
