"""Receptive field on the photo (notebook 01): number of layers, kernel size, stride and pooling as controls.

A stack of L layers, each a K x K convolution with stride s (no padding), optionally followed by a
2 x 2 pooling of stride 2. The formula works backwards from one output unit (r = 1):
    r <- (r - 1) * stride + kernel        for each layer, last one first
The probe measures the same thing on an actual stack: the gradient of the centre output unit with
respect to the 224 x 224 input, through random positive kernels (`course.functional.conv2d_backward`)
and average pooling (`avg_pool2d_backward`), is nonzero exactly on the pixels that unit sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import course.functional as F
from course._args import flag
from course.data import load_photo
from course.widgets.figure import InteractiveFigure, int_slider, new_figure

__all__ = ["stack_of", "field_formula", "Probe", "probe_field", "receptive_field_explorer"]

SIDE = 224


def stack_of(layers: int, kernel_size: int, stride: int, pooling: bool) -> list[tuple[str, int, int]]:
    """The stack as (kind, kernel, stride) entries, kind "conv" or "pool", first layer first."""
    stack = []
    for _ in range(layers):
        stack.append(("conv", kernel_size, stride))
        if pooling:
            stack.append(("pool", 2, 2))
    return stack


def field_formula(stack: list[tuple[str, int, int]]) -> int:
    """Side of the input region one unit of the last layer sees, by the backward recurrence."""
    side = 1
    for _, kernel, stride in reversed(stack):
        side = (side - 1) * stride + kernel
    return side


@dataclass(frozen=True)
class Probe:
    """gradient (SIDE, SIDE): d(centre output)/d(input); rows, cols: the first and last input row and
    column where it is nonzero; output_side: the last layer's size (0 when the stack does not fit)."""

    gradient: np.ndarray | None
    rows: tuple[int, int]
    cols: tuple[int, int]
    output_side: int


def probe_field(stack: list[tuple[str, int, int]], seed: int = 0) -> Probe:
    """Measure the receptive field of the centre output unit of `stack` on a SIDE x SIDE input."""
    rng = np.random.default_rng(seed)
    x = np.zeros((1, 1, SIDE, SIDE))
    inputs, kernels = [], []
    for kind, kernel, stride in stack:
        if x.shape[2] < kernel:
            return Probe(None, (0, -1), (0, -1), 0)
        inputs.append(x)
        if kind == "conv":
            kernels.append(rng.uniform(0.1, 1.0, size=(1, 1, kernel, kernel)))
            x = F.conv2d(x, kernels[-1], stride=stride)
        else:
            kernels.append(None)
            x = F.avg_pool2d(x, kernel, stride)
    grad = np.zeros_like(x)
    grad[0, 0, x.shape[2] // 2, x.shape[3] // 2] = 1.0
    for (kind, kernel, stride), x_in, w in zip(
        reversed(stack), reversed(inputs), reversed(kernels), strict=True
    ):
        if kind == "conv":
            grad = F.conv2d_backward(grad, x_in, w, stride=stride)[0]
        else:
            grad = F.avg_pool2d_backward(grad, x_in, kernel, stride)
    seen = grad[0, 0] > 0
    rows, cols = np.flatnonzero(seen.any(axis=1)), np.flatnonzero(seen.any(axis=0))
    return Probe(grad[0, 0], (int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1])), x.shape[2])


def _draw(photo: np.ndarray, layers: int, kernel_size: int, stride: int, pooling: bool) -> Figure:
    stack = stack_of(layers, kernel_size, stride, pooling)
    formula = field_formula(stack)
    probe = probe_field(stack)
    fig = new_figure(12, 5.6)
    ax_photo, ax_probe, ax_text = fig.subplots(1, 3, gridspec_kw={"width_ratios": [4, 4, 3.2]})
    ax_photo.imshow(photo)
    ax_photo.set_title("the field on the photo: probe (red), formula (dashed yellow)", fontsize=10)
    steps = []
    side = 1
    for kind, kernel, s in reversed(stack):
        new = (side - 1) * s + kernel
        steps.append(f"{kind} k={kernel} s={s}: ({side}-1)*{s}+{kernel} = {new}")
        side = new
    lines = ["formula, last layer first:", "  r = 1", *[f"  {line}" for line in steps[:9]]]
    if len(steps) > 9:
        lines.append(f"  ... ({len(steps) - 9} more)")
    lines += ["", f"formula:  {formula} x {formula} pixels"]
    if probe.gradient is None:
        lines += ["probe:    the stack shrinks the", f"          {SIDE} x {SIDE} photo to nothing"]
        ax_probe.axis("off")
    else:
        height = probe.rows[1] - probe.rows[0] + 1
        width = probe.cols[1] - probe.cols[0] + 1
        lines += [
            f"probe:    {height} x {width} pixels",
            f"          (output {probe.output_side} x {probe.output_side})",
        ]
        centre_r, centre_c = (probe.rows[0] + probe.rows[1]) / 2, (probe.cols[0] + probe.cols[1]) / 2
        ax_photo.add_patch(
            Rectangle(
                (probe.cols[0] - 0.5, probe.rows[0] - 0.5), width, height, fill=False, color="red", lw=2.5
            )
        )
        ax_photo.add_patch(
            Rectangle(
                (centre_c - formula / 2, centre_r - formula / 2),
                formula,
                formula,
                fill=False,
                color="yellow",
                lw=2,
                ls="--",
            )
        )
        shown = np.where(probe.gradient > 0, probe.gradient / probe.gradient.max(), np.nan)
        ax_probe.imshow(np.zeros((SIDE, SIDE)), cmap="Greys", vmin=0, vmax=1)
        ax_probe.imshow(shown, cmap="Oranges", vmin=0, vmax=1)
        ax_probe.set_title("probe: d(centre output)/d(input), nonzero pixels", fontsize=10)
    for ax in (ax_photo, ax_probe):
        ax.set_xlim(-0.5, SIDE - 0.5)
        ax.set_ylim(SIDE - 0.5, -0.5)
    ax_text.axis("off")
    ax_text.text(
        0, 1, "\n".join(lines), va="top", family="monospace", fontsize=9.5, transform=ax_text.transAxes
    )
    pool_text = ", each followed by 2 x 2 pooling (stride 2)" if pooling else ""
    fig.suptitle(
        f"{layers} layer{'s' if layers > 1 else ''} of {kernel_size} x {kernel_size} convolution, "
        f"stride {stride}{pool_text}"
    )
    return fig


def receptive_field_explorer(
    layers: int = 3, kernel_size: int = 3, stride: int = 1, pooling: bool = False
) -> InteractiveFigure:
    """Controls for the number of layers (1..6), kernel size (1..7), stride (1..3) and 2 x 2 pooling;
    the field is drawn on the 224 x 224 photo, the formula's value beside the probe's measurement."""
    op = "receptive_field_explorer"
    photo = load_photo(size=SIDE)

    def draw(layers: int, kernel_size: int, stride: int, pooling: bool) -> Figure:
        return _draw(photo, layers, kernel_size, stride, pooling)

    draw.__name__ = "receptive_field"
    controls = {
        "layers": int_slider(op, "layers", layers, 1, 6, "layers"),
        "kernel_size": int_slider(op, "kernel_size", kernel_size, 1, 7, "kernel K"),
        "stride": int_slider(op, "stride", stride, 1, 3, "stride s"),
        "pooling": widgets.Checkbox(
            flag(op, "pooling", pooling), description="2 x 2 pooling after each layer"
        ),
    }
    return InteractiveFigure(draw, controls)
