"""Score threshold and NMS IoU threshold on the detector's answers (notebook 05).

The detector's grid gives one candidate box per cell (64 per 64 x 64 image), each with a score
p_object * p_class. Candidates scoring below the score threshold are dropped; non-maximum suppression
then drops every box whose IoU with a better box already kept exceeds the IoU threshold.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course.apps import detection
from course.apps.boxes import non_max_suppression
from course.apps.draw import draw_boxes
from course.widgets.figure import InteractiveFigure, new_figure

__all__ = ["kept_detections", "detection_thresholds"]


def kept_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    score_threshold: float,
    iou_threshold: float,
    nms: Callable = non_max_suppression,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidates (boxes (D, 4), scores (D,), labels (D,)) of one image that pass the score
    threshold and then `nms(boxes, scores, iou_threshold)`."""
    above = np.flatnonzero(scores >= score_threshold)
    kept = above[np.asarray(nms(boxes[above], scores[above], iou_threshold), dtype=np.int64)]
    return boxes[kept], scores[kept], labels[kept]


def detection_thresholds(
    detector, images: np.ndarray, nms: Callable = non_max_suppression, true_labels=None
) -> InteractiveFigure:
    """Sliders for the score threshold and the NMS IoU threshold over the detections of `detector` on
    images (N, 1, H, W) (the first six are shown); `nms` is the suppression to use (e.g. yours)."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[1] != 1 or len(images) == 0:
        raise ValueError(
            f"detection_thresholds: images must be (N, 1, H, W) with N >= 1, got shape {images.shape}"
        )
    images = images[:6]
    detector.eval()
    candidates = detection.decode(detector(images), score_threshold=0.0, iou_threshold=1.0)

    def detections(score_threshold: float, iou_threshold: float) -> Figure:
        fig = new_figure(15, 3.6)
        axes = fig.subplots(1, len(images))
        counts = [0, 0]
        for k, (ax, boxes, scores, labels) in enumerate(zip(np.atleast_1d(axes), *candidates, strict=True)):
            kept = kept_detections(boxes, scores, labels, score_threshold, iou_threshold, nms)
            counts[0] += int(np.sum(scores >= score_threshold))
            counts[1] += len(kept[0])
            ax.imshow(images[k, 0], cmap="gray", vmin=0, vmax=1)
            boxes_kept, scores_kept, labels_kept = kept
            draw_boxes(ax, boxes_kept, labels_kept, scores_kept, linewidth=1.5)
            for label in ax.texts:  # labels of boxes past the image must not shrink it: same size always
                label.set_in_layout(False)
            ax.set_xticks([])
            ax.set_yticks([])
            if true_labels is not None:
                ax.set_title("true: " + ", ".join(str(d) for d in true_labels[k]), fontsize=9)
        fig.suptitle(
            f"score >= {score_threshold:.2f}: {counts[0]} of {sum(len(s) for s in candidates[1])} candidate "
            f"boxes; "
            f"after NMS at IoU > {iou_threshold:.2f}: {counts[1]} box{'es' if counts[1] != 1 else ''} kept"
        )
        return fig

    controls = {
        "score_threshold": widgets.FloatSlider(
            0.4, min=0.0, max=0.95, step=0.05, description="score threshold"
        ),
        "iou_threshold": widgets.FloatSlider(
            0.3, min=0.0, max=1.0, step=0.05, description="NMS IoU threshold"
        ),
    }
    return InteractiveFigure(detections, controls)
