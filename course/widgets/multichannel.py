"""Multi-channel convolution step by step (notebook 02): a play/step control moves the window.

Input a (C, H, W) = (3, 5, 5), zero-padded by p = 1; two kernels w (F, C, K, K) = (2, 3, 3, 3); bias b (F,);
stride 2, so the output z is (F, Ho, Wo) = (2, 3, 3). Step t shows output channel f = t // 9 at
(n, m) = divmod(t % 9, 3):
    z[f, n, m] = sum_c ( sum_j sum_i a_p[c, 2n + j, 2m + i] * w[f, c, j, i] ) + b[f]
one product table per input channel, their three sums, the bias, and the output volume filled up to step t.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course.widgets.figure import InteractiveFigure, int_slider, new_figure
from course.widgets.grid import draw_numbers, number_text, outline

__all__ = [
    "ChannelStep",
    "channel_step",
    "multichannel_steps",
    "INPUT",
    "KERNELS",
    "BIAS",
    "STRIDE",
    "PADDING",
]

INPUT = np.random.default_rng(7).integers(0, 3, size=(3, 5, 5)).astype(np.float64)  # a (C, H, W)
KERNELS = np.random.default_rng(8).integers(-1, 2, size=(2, 3, 3, 3)).astype(np.float64)  # w (F, C, K, K)
BIAS = np.array([1.0, 0.0])  # b (F,)
STRIDE, PADDING = 2, 1
CHANNEL_NAMES = ("R", "G", "B")


@dataclass(frozen=True)
class ChannelStep:
    """One step: output channel f at (n, m); products (C, K, K) = window * w[f] per input channel;
    channel_sums (C,); value = sum(channel_sums) + b[f]; output (F, Ho, Wo) with NaN where not yet
    computed (steps after this one)."""

    f: int
    n: int
    m: int
    products: np.ndarray
    channel_sums: np.ndarray
    value: float
    output: np.ndarray


def _output_side() -> int:
    return (INPUT.shape[1] + 2 * PADDING - KERNELS.shape[2]) // STRIDE + 1


def _steps() -> int:
    """F * Ho * Wo: one step per output."""
    return KERNELS.shape[0] * _output_side() ** 2


def channel_step(step: int) -> ChannelStep:
    """The numbers of step `step` (0 <= step < F * Ho * Wo)."""
    side, k, total = _output_side(), KERNELS.shape[2], _steps()
    if not 0 <= step < total:
        raise ValueError(f"channel_step: step must be in 0..{total - 1}, got {step}")
    padded = np.pad(INPUT, ((0, 0), (PADDING, PADDING), (PADDING, PADDING)))
    output = np.full((KERNELS.shape[0], side, side), np.nan)
    for t in range(step + 1):
        f, (n, m) = t // (side * side), divmod(t % (side * side), side)
        window = padded[:, n * STRIDE : n * STRIDE + k, m * STRIDE : m * STRIDE + k]
        products = window * KERNELS[f]
        channel_sums = products.sum(axis=(1, 2))
        output[f, n, m] = channel_sums.sum() + BIAS[f]
    return ChannelStep(f, n, m, products, channel_sums, float(output[f, n, m]), output)


def _draw(step: int) -> Figure:
    current = channel_step(step)
    f, n, m, k = current.f, current.n, current.m, KERNELS.shape[2]
    padded = np.pad(INPUT, ((0, 0), (PADDING, PADDING), (PADDING, PADDING)))
    is_padding = np.pad(np.zeros(INPUT.shape[1:], bool), PADDING, constant_values=True)
    volume = channel_step(_steps() - 1).output  # every output, (F, Ho, Wo)
    fig = new_figure(13, 9.5, fixed="multichannel")  # the same grids and title sizes at every step
    axes = fig.subplots(3, 4, gridspec_kw={"width_ratios": [7, 3.6, 3.6, 4.2]})
    for c in range(3):
        draw_numbers(
            axes[c, 0],
            padded[c],
            shade=is_padding,
            digits=0,
            limits=(0, 3),
            fontsize=9,
            title=f"input channel {c} ({CHANNEL_NAMES[c]}), padded",
        )
        outline(axes[c, 0], n * STRIDE, m * STRIDE, k, k)
        draw_numbers(
            axes[c, 1],
            KERNELS[f, c],
            cmap="Oranges",
            digits=0,
            limits=(-1, 2),
            title=f"kernel {f}, slice c = {c}",
        )
        draw_numbers(
            axes[c, 2],
            current.products[c],
            cmap="Purples",
            digits=0,
            limits=(-2, 3),
            title=f"window x slice: sum = {number_text(current.channel_sums[c], 0)}",
        )
    for g in range(2):
        draw_numbers(
            axes[g, 3],
            current.output[g],
            cmap="Greens",
            digits=0,
            limits=(volume.min(), volume.max()),  # one scale for both channels, filled or not
            title=f"output channel {g} (kernel {g})",
        )
    outline(axes[f, 3], n, m, 1, 1)
    axes[2, 3].axis("off")
    sums = " + ".join(f"({number_text(s, 0)})" if s < 0 else number_text(s, 0) for s in current.channel_sums)
    axes[2, 3].text(
        0,
        0.9,
        f"z[{f}, {n}, {m}]\n= channels 0 + 1 + 2 + bias\n= {sums} + {number_text(BIAS[f], 0)}\n"
        f"= {number_text(current.value, 0)}\n\nstride {STRIDE}, padding {PADDING}:\n"
        f"the window starts at\nrow {n}*{STRIDE} = {n * STRIDE}, column {m}*{STRIDE} = {m * STRIDE}",
        va="top",
        fontsize=11,
        family="monospace",
        transform=axes[2, 3].transAxes,
    )
    fig.suptitle(
        f"step {step} (of 0 to {KERNELS.shape[0] * current.output[0].size - 1}): convolve each channel "
        f"with its slice, sum the three, add the bias; kernel {f} fills output channel {f}",
        fontsize=12,
    )
    return fig


def multichannel_steps(step: int = 0) -> InteractiveFigure:
    """A Play button and a step slider over the 2 x 3 x 3 outputs of a 3-channel input with two kernels."""
    last = _steps() - 1
    slider = int_slider("multichannel_steps", "step", step, 0, last, "step")
    play = widgets.Play(value=step, min=0, max=last, interval=900, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    return InteractiveFigure(_draw, {"step": slider}, header=(play,))
