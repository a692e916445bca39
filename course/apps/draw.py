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


def draw_boxes(
    ax, boxes: np.ndarray, labels: np.ndarray, scores: np.ndarray | None = None, *, text: bool = True, **style
) -> None:
    """Draw boxes (K, 4) as (x0, y0, x1, y1) on a matplotlib axis showing the image with `imshow`, each
    in its digit's colour with "label" or "label score" written beside it (`text=False`: boxes only).
    `style` goes to Rectangle.

    Labels never cover each other: taken by decreasing score (first to last without scores), each goes
    to the first of these places that is free, above the box, below it, or inside its top or bottom
    edge, left-aligned then right-aligned; a label with no free place is left out rather than drawn over
    another (its box is still drawn)."""
    from matplotlib.patches import Rectangle

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    for (x0, y0, x1, y1), label in zip(boxes, labels, strict=True):
        # imshow puts pixel (r, c) at [c - 0.5, c + 0.5]: shift continuous coordinates by half a pixel
        rect = Rectangle(
            (x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor=CLASS_COLORS[int(label)], **style
        )
        ax.add_patch(rect)
    if not text:
        return
    renderer = ax.figure.canvas.get_renderer()
    order = range(len(boxes)) if scores is None else np.argsort(-np.asarray(scores), kind="stable")
    placed = []  # window extents of the labels drawn so far
    for k in order:
        x0, y0, x1, y1 = boxes[k] - 0.5
        words = f"{int(labels[k])}" if scores is None else f"{int(labels[k])} {scores[k]:.2f}"
        label = ax.text(0, 0, words, color="white", fontsize=7, clip_on=False)
        label.set_bbox({"facecolor": CLASS_COLORS[int(labels[k])], "edgecolor": "none", "pad": 1.0})
        for y, va in ((y0 - 0.7, "bottom"), (y1 + 0.7, "top"), (y0 + 0.5, "top"), (y1 - 0.5, "bottom")):
            for x, ha in ((x0, "left"), (x1, "right")):
                label.set(x=x, y=y, horizontalalignment=ha, verticalalignment=va)
                extent = label.get_window_extent(renderer).expanded(1.1, 1.2)
                if not any(extent.overlaps(other) for other in placed):
                    placed.append(extent)
                    break
            else:
                continue
            break
        else:
            label.remove()
