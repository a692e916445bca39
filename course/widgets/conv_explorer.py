"""Convolution explorer (notebook 02): input size, kernel size, stride and padding as sliders.

One channel, square input a (H, H), square kernel w (K, K), stride s, zero padding p on every side:
    Ho = (H + 2p - K) // s + 1,    z[n, m] = sum_j sum_i a_p[n*s + j, m*s + i] * w[j, i]
with a_p the padded input. The figure shows the padded input with every window position (a dot on
each window's top-left cell), the selected output's window, the kernel, the output grid and the
formula's terms for the selected output.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course.widgets.figure import InteractiveFigure, int_slider, new_figure
from course.widgets.grid import draw_numbers, number_text, outline

__all__ = ["ConvGeometry", "conv_geometry", "conv_explorer"]

LARGEST_INPUT = 7
LARGEST_KERNEL = 5
# small integers, so every product and sum can be checked by hand
INPUT = np.random.default_rng(2).integers(0, 4, size=(LARGEST_INPUT, LARGEST_INPUT)).astype(np.float64)
KERNEL = np.random.default_rng(3).integers(-1, 3, size=(LARGEST_KERNEL, LARGEST_KERNEL)).astype(np.float64)


@dataclass(frozen=True)
class ConvGeometry:
    """Everything the explorer draws for one setting.

    padded (H + 2p, H + 2p): the input with its zeros; is_padding: which of its cells are zeros added;
    kernel (K, K); output (Ho, Ho); starts: the top-left corner (row or column) of each window, s apart;
    terms: (input value, kernel value) pairs of the selected output, kernel row by kernel row.
    """

    padded: np.ndarray
    is_padding: np.ndarray
    kernel: np.ndarray
    output: np.ndarray
    starts: np.ndarray
    terms: list[tuple[float, float]]


def conv_geometry(
    size: int, kernel_size: int, stride: int, padding: int, row: int = 0, col: int = 0
) -> ConvGeometry:
    """The explorer's numbers: INPUT[:size, :size] convolved with KERNEL[:kernel_size, :kernel_size]."""
    if not 1 <= kernel_size <= size + 2 * padding:
        raise ValueError(
            f"conv_geometry: kernel_size must be between 1 and size + 2 * padding = {size + 2 * padding}, "
            f"got {kernel_size}"
        )
    a = INPUT[:size, :size]
    w = KERNEL[:kernel_size, :kernel_size]
    padded = np.pad(a, padding)
    is_padding = np.pad(np.zeros_like(a, dtype=bool), padding, constant_values=True)
    starts = np.arange(0, padded.shape[0] - kernel_size + 1, stride)
    output = np.array(
        [[np.sum(padded[r : r + kernel_size, c : c + kernel_size] * w) for c in starts] for r in starts]
    )
    if not (0 <= row < len(starts) and 0 <= col < len(starts)):
        raise ValueError(
            f"conv_geometry: (row, col) must be inside the {len(starts)} x {len(starts)} output, "
            f"got ({row}, {col})"
        )
    window = padded[starts[row] : starts[row] + kernel_size, starts[col] : starts[col] + kernel_size]
    terms = list(zip(window.ravel().tolist(), w.ravel().tolist(), strict=True))
    return ConvGeometry(padded, is_padding, w, output, starts, terms)


def _draw(size: int, kernel_size: int, stride: int, padding: int, row: int, col: int) -> Figure:
    geometry = conv_geometry(size, kernel_size, stride, padding, row, col)
    n_out = len(geometry.starts)
    side = geometry.padded.shape[0]
    fig = new_figure(12, 6.2, titled=False)
    grid = fig.add_gridspec(
        2, 3, height_ratios=[4, 1.25], width_ratios=[side, max(kernel_size, 3), max(n_out, 3)]
    )
    ax_in, ax_w, ax_out = (fig.add_subplot(grid[0, k]) for k in range(3))
    ax_text = fig.add_subplot(grid[1, :])

    draw_numbers(
        ax_in,
        geometry.padded,
        shade=geometry.is_padding,
        digits=0,
        limits=(0, 6),
        title=(f"input a: {size} x {size}, padded with p = {padding} (grey) to {side} x {side}"),
    )
    corners_r, corners_c = np.meshgrid(geometry.starts, geometry.starts, indexing="ij")
    ax_in.plot(corners_c.ravel() - 0.3, corners_r.ravel() - 0.3, "o", color="tab:orange", ms=5)
    top, left = geometry.starts[row], geometry.starts[col]
    outline(ax_in, top, left, kernel_size, kernel_size)
    draw_numbers(
        ax_w,
        geometry.kernel,
        cmap="Oranges",
        digits=0,
        limits=(-1, 3),
        title=f"kernel w: {kernel_size} x {kernel_size}",
    )
    draw_numbers(ax_out, geometry.output, cmap="Greens", digits=0, title=f"output z: {n_out} x {n_out}")
    outline(ax_out, row, col, 1, 1)

    lines = [
        f"output size  Ho = (H + 2p - K) // s + 1 = ({size} + 2*{padding} - {kernel_size}) // {stride} + 1"
        f" = {n_out}",
        f"orange dots: the top-left cell of each of the {n_out} x {n_out} windows, {stride} apart",
        f"z[{row},{col}]: the window starts at a_p[{row}*{stride}, {col}*{stride}] = a_p[{top}, {left}]"
        " (red)",
    ]
    products = [
        f"{number_text(x, 0)}*{number_text(k, 0) if k >= 0 else '(' + number_text(k, 0) + ')'}"
        for x, k in geometry.terms
    ]
    for j in range(kernel_size):
        prefix = "  = " if j == 0 else "    + "
        lines.append(
            prefix
            + " + ".join(products[j * kernel_size : (j + 1) * kernel_size])
            + f"    (kernel row j = {j})"
        )
    lines.append(f"  = {number_text(geometry.output[row, col], 0)}")
    ax_text.axis("off")
    ax_text.text(
        0,
        1,
        "\n".join(lines),
        va="top",
        ha="left",
        family="monospace",
        fontsize=9.5,
        transform=ax_text.transAxes,
    )
    return fig


def _constrain(controls) -> None:
    size, padding = controls["size"].value, controls["padding"].value
    controls["kernel_size"].max = min(LARGEST_KERNEL, size + 2 * padding)
    k, s = controls["kernel_size"].value, controls["stride"].value
    last = (size + 2 * padding - k) // s
    for name in ("row", "col"):
        controls[name].max = last


def conv_explorer(
    size: int = 5, kernel_size: int = 3, stride: int = 1, padding: int = 0
) -> InteractiveFigure:
    """Sliders for input size (3..7), kernel size (1..5), stride (1..3), padding (0..2) and the selected
    output (row, col); the figure shows the windows, the output and the selected output's terms.
    A value outside its slider's range raises an error naming it."""
    op = "conv_explorer"
    size_slider = int_slider(op, "size", size, 3, LARGEST_INPUT, "input size H")
    padding_slider = int_slider(op, "padding", padding, 0, 2, "padding p")  # both checked: K's bound
    largest_kernel = min(LARGEST_KERNEL, size + 2 * padding)
    why = "at most size + 2 * padding" if largest_kernel < LARGEST_KERNEL else ""
    controls = {
        "size": size_slider,
        "kernel_size": int_slider(op, "kernel_size", kernel_size, 1, largest_kernel, "kernel K", why),
        "stride": int_slider(op, "stride", stride, 1, 3, "stride s"),
        "padding": padding_slider,
        "row": widgets.IntSlider(0, min=0, max=LARGEST_INPUT, description="output row n"),
        "col": widgets.IntSlider(0, min=0, max=LARGEST_INPUT, description="output column m"),
    }
    return InteractiveFigure(_draw, controls, constrain=_constrain)
