"""Pictures of the applications' answers: class maps laid over scenes, boxes with labels drawn on them.

Layering: imports numpy and matplotlib (lazily, inside the drawing functions), nothing from the course.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CLASS_COLORS", "mask_overlay", "draw_boxes"]

# one colour per digit 0..9 (matplotlib's tab10), RGB in [0, 1]
CLASS_COLORS = np.array(
    [
        [0.12, 0.47, 0.71],
        [1.00, 0.50, 0.05],
        [0.17, 0.63, 0.17],
        [0.84, 0.15, 0.16],
        [0.58, 0.40, 0.74],
        [0.55, 0.34, 0.29],
        [0.89, 0.47, 0.76],
        [0.50, 0.50, 0.50],
        [0.74, 0.74, 0.13],
        [0.09, 0.75, 0.81],
    ]
)


def mask_overlay(image: np.ndarray, mask: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """An RGB picture (H, W, 3) of a gray image (H, W) or (1, H, W) with every pixel of class d + 1 in
    `mask` (H, W) tinted with digit d's colour (weight alpha); background pixels stay gray."""
    gray = np.asarray(image, dtype=np.float64).reshape(mask.shape)
    rgb = np.repeat(gray[..., None], 3, axis=-1)
    digit = mask > 0
    rgb[digit] = (1 - alpha) * rgb[digit] + alpha * CLASS_COLORS[mask[digit] - 1]
    return np.clip(rgb, 0, 1)


def draw_boxes(ax, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray | None = None, **style) -> None:
    """Draw boxes (K, 4) as (x0, y0, x1, y1) on a matplotlib axis showing the image with `imshow`, each
    in its digit's colour with "label" or "label score" written above it. `style` goes to Rectangle."""
    from matplotlib.patches import Rectangle

    for k, ((x0, y0, x1, y1), label) in enumerate(zip(boxes, labels, strict=True)):
        color = CLASS_COLORS[int(label)]
        # imshow puts pixel (r, c) at [c - 0.5, c + 0.5]: shift continuous coordinates by half a pixel
        rect = Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=color, **style)
        ax.add_patch(rect)
        text = f"{int(label)}" if scores is None else f"{int(label)} {scores[k]:.2f}"
        ax.text(x0 - 0.5, y0 - 1.5, text, color="white", fontsize=7, backgroundcolor=color, va="bottom")
