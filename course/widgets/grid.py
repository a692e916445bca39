"""Tables of numbers drawn on coloured cells, readable at any value (text colour from the cell's
brightness)."""

from __future__ import annotations

import matplotlib as mpl
import numpy as np

__all__ = ["number_text", "draw_numbers", "outline"]


def number_text(value: float, digits: int = 2) -> str:
    """value rounded to `digits` decimals, without trailing zeros and never "-0"; "" for NaN."""
    if np.isnan(value):
        return ""
    rounded = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{rounded:.{digits}f}".rstrip("0").rstrip(".") if digits > 0 else f"{rounded:.0f}"


def draw_numbers(
    ax,
    values: np.ndarray,
    *,
    cmap: str = "Blues",
    limits: tuple[float, float] | None = None,
    shade: np.ndarray | None = None,
    digits: int = 2,
    fontsize: float = 10,
    title: str = "",
) -> None:
    """Draw a 2-D array (R, C) as a grid of coloured cells with each value written on it.

    NaN cells stay white and empty; `shade` (R, C) marks cells drawn grey (e.g. zero padding);
    `limits` = (vmin, vmax) of the colour scale, by default the array's range (NaN ignored).
    """
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    low, high = limits if limits is not None else (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
    if high <= low:
        high = low + 1.0
    colours = mpl.colormaps[cmap]((np.nan_to_num(values, nan=low) - low) / (high - low) * 0.8)
    colours[np.isnan(values)] = (1.0, 1.0, 1.0, 1.0)
    if shade is not None:
        colours[shade] = (0.78, 0.78, 0.78, 1.0)
    ax.imshow(colours, interpolation="nearest")
    brightness = colours[..., :3] @ np.array([0.299, 0.587, 0.114])
    for (r, c), value in np.ndenumerate(values):
        colour = "white" if brightness[r, c] < 0.5 else "black"
        ax.text(c, r, number_text(value, digits), ha="center", va="center", fontsize=fontsize, color=colour)
    ax.set_xticks(np.arange(-0.5, values.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, values.shape[0]), minor=True)
    ax.grid(which="minor", color="k", lw=0.6)
    ax.tick_params(which="both", length=0, labelsize=7)
    ax.set_xticks(range(values.shape[1]))
    ax.set_yticks(range(values.shape[0]))
    ax.set_title(title, fontsize=10)


def outline(
    ax, row: float, col: float, height: float, width: float, colour: str = "tab:red", **style
) -> None:
    """Outline the cells rows row..row+height-1, columns col..col+width-1 of a grid drawn by draw_numbers."""
    from matplotlib.patches import Rectangle

    style.setdefault("lw", 3)
    ax.add_patch(Rectangle((col - 0.5, row - 0.5), width, height, fill=False, edgecolor=colour, **style))
