"""The pooling gradient router (notebook 04): select a window and see where its delta goes.

Max pooling sends a window's delta entirely to the window's (first) maximum; average pooling spreads
it as delta / (KH * KW) over the window. With overlapping windows (stride < kernel) an input collects
what every window containing it sends back. The figure runs `course.functional`'s backward passes:
one with delta = 1 at the selected output only, one with delta = 1 at every output.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

import course.functional as F
from course.widgets.figure import InteractiveFigure, int_slider, new_figure
from course.widgets.grid import draw_numbers, outline

__all__ = ["routed_gradient", "pooling_router", "INPUT"]

INPUT = np.random.default_rng(5).permutation(36).reshape(1, 1, 6, 6).astype(np.float64)  # x (1, 1, 6, 6)


def routed_gradient(mode: str, kernel_size: int, stride: int, row: int | None, col: int | None) -> np.ndarray:
    """dJ/dx (6, 6) of INPUT through `mode` ("max" or "average") pooling, for delta = 1 at output
    (row, col) only, or at every output when row is None."""
    forward, backward = {
        "max": (F.max_pool2d, F.max_pool2d_backward),
        "average": (F.avg_pool2d, F.avg_pool2d_backward),
    }[mode]
    output = forward(INPUT, kernel_size, stride)
    delta = np.ones_like(output) if row is None else np.zeros_like(output)
    if row is not None:
        delta[0, 0, row, col] = 1.0
    return backward(delta, INPUT, kernel_size, stride)[0, 0]


def _draw(mode: str, kernel_size: int, stride: int, row: int, col: int) -> Figure:
    pooled = (F.max_pool2d if mode == "max" else F.avg_pool2d)(INPUT, kernel_size, stride)[0, 0]
    one = routed_gradient(mode, kernel_size, stride, row, col)
    every = routed_gradient(mode, kernel_size, stride, None, None)
    digits = 0 if mode == "max" else 2
    fig = new_figure(15, 4.6)
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [6, max(pooled.shape[1], 3), 6, 6]})
    scale = (INPUT.min(), INPUT.max())  # one colour scale for the input and what pooling makes of it
    draw_numbers(axes[0], INPUT[0, 0], cmap="Greys", digits=0, limits=scale, title="input x (6 x 6)")
    outline(axes[0], row * stride, col * stride, kernel_size, kernel_size)
    draw_numbers(
        axes[1],
        pooled,
        cmap="Greys",
        digits=1,
        limits=scale,
        title=f"{mode} pool output ({pooled.shape[0]} x {pooled.shape[1]})",
    )
    outline(axes[1], row, col, 1, 1)
    draw_numbers(
        axes[2],
        one,
        cmap="Reds",
        digits=digits,
        limits=(0, 1),
        title=f"delta = 1 at output ({row}, {col}) only:\nwhere it goes",
    )
    outline(axes[2], row * stride, col * stride, kernel_size, kernel_size)
    draw_numbers(
        axes[3],
        every,
        cmap="Reds",
        digits=digits,
        title="delta = 1 at every output:\nwhat each input collects",
    )
    rule = (
        "entirely to its maximum"
        if mode == "max"
        else f"in equal shares, 1/{kernel_size * kernel_size} to each input"
    )
    overlap = "windows overlap: shares add up" if stride < kernel_size else "no overlap"
    fig.suptitle(
        f"{mode} pooling {kernel_size} x {kernel_size}, stride {stride}: a window's delta goes {rule} "
        f"({overlap})"
    )
    return fig


def _constrain(controls) -> None:
    last = (INPUT.shape[2] - controls["kernel_size"].value) // controls["stride"].value
    controls["row"].max = last
    controls["col"].max = last


def pooling_router(mode: str = "max", kernel_size: int = 2, stride: int = 2) -> InteractiveFigure:
    """Controls for max or average pooling, kernel size (2, 3), stride (1, 2) and the selected window."""
    if mode not in ("max", "average"):
        raise ValueError(f"pooling_router: mode must be 'max' or 'average', got {mode!r}")
    controls = {
        "mode": widgets.ToggleButtons(options=["max", "average"], value=mode, description="pooling"),
        "kernel_size": int_slider("pooling_router", "kernel_size", kernel_size, 2, 3, "kernel"),
        "stride": int_slider("pooling_router", "stride", stride, 1, 2, "stride"),
        "row": widgets.IntSlider(0, min=0, max=4, description="window row"),
        "col": widgets.IntSlider(0, min=0, max=4, description="window column"),
    }
    return InteractiveFigure(_draw, controls, constrain=_constrain)
