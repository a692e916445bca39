"""Error analysis of a detector: what each detection is (right, wrong class, duplicate, off target) and
which true objects were missed, with the same matching rule as `boxes.mean_average_precision`.

Per image and per class, detections are taken by decreasing score; a detection is **right** when its
IoU with a true box of its own class that no higher-scoring detection has claimed is at least the
threshold (it claims the best such box). The others are sorted by what they overlap:

- **duplicate**: it fits a true box of its class (IoU >= threshold) that a stronger detection claimed;
- **wrong class**: it fits a true box of another class (the class is wrong, the place is right);
- **off target**: it fits no true box at all (clutter, or a box too far off).

A true box that no right detection claimed is **missed**. Layering: imports numpy and `boxes` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course.apps.boxes import iou_matrix

__all__ = ["VERDICTS", "ImageReview", "review_detections", "nearest_gap"]

VERDICTS = ("right", "duplicate", "wrong class", "off target")


@dataclass(frozen=True)
class ImageReview:
    """The verdict on one image's D detections and K true boxes.

    verdicts (D,): one of VERDICTS per detection; fits (D,): the index of the true box the detection
    fits (its claimed box when right, the box it overlaps most otherwise; -1 when off target);
    best_iou (D,): the IoU with that box (0 when off target); found (K,): whether a right detection
    claimed each true box.
    """

    verdicts: np.ndarray
    fits: np.ndarray
    best_iou: np.ndarray
    found: np.ndarray


def review_detections(
    boxes: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    true_boxes: np.ndarray,
    true_labels: np.ndarray,
    iou_threshold: float = 0.5,
) -> ImageReview:
    """Judge the detections of one image: boxes (D, 4), scores (D,), labels (D,) against true boxes
    (K, 4) with labels (K,). A detection is right exactly when mean_average_precision counts it as a
    true positive at the same threshold."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    true_boxes = np.asarray(true_boxes, dtype=np.float64).reshape(-1, 4)
    labels, true_labels = np.asarray(labels), np.asarray(true_labels)
    if not len(boxes) == len(scores) == len(labels):
        raise ValueError(
            f"review_detections: boxes, scores and labels must have one entry per detection, "
            f"got {len(boxes)}, {len(scores)} and {len(labels)}"
        )
    if len(true_boxes) != len(true_labels):
        raise ValueError(
            f"review_detections: true_boxes and true_labels must have the same length, "
            f"got {len(true_boxes)} and {len(true_labels)}"
        )
    n_det, n_true = len(boxes), len(true_boxes)
    verdicts = np.full(n_det, "off target", dtype=object)
    fits = np.full(n_det, -1, dtype=np.int64)
    best_iou = np.zeros(n_det)
    found = np.zeros(n_true, dtype=bool)
    if n_det == 0 or n_true == 0:
        return ImageReview(verdicts.astype(str), fits, best_iou, found)
    overlaps = iou_matrix(boxes, true_boxes)
    same_class = labels[:, None] == true_labels[None, :]
    for d in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        free = np.where(same_class[d] & ~found, overlaps[d], -1.0)
        if free.max() >= iou_threshold:
            k = int(np.argmax(free))
            found[k] = True
            verdicts[d], fits[d], best_iou[d] = "right", k, overlaps[d, k]
            continue
        claimed = np.where(same_class[d], overlaps[d], -1.0)
        other = np.where(same_class[d], -1.0, overlaps[d])
        for verdict, candidates in (("duplicate", claimed), ("wrong class", other)):
            if candidates.max() >= iou_threshold:
                k = int(np.argmax(candidates))
                verdicts[d], fits[d], best_iou[d] = verdict, k, overlaps[d, k]
                break
    return ImageReview(verdicts.astype(str), fits, best_iou, found)


def nearest_gap(true_boxes: np.ndarray) -> np.ndarray:
    """(K,) float64: how far each box (K, 4) is from the nearest other box of the same image, in pixels
    along the axis where they are furthest apart (max of the horizontal and vertical gaps; 0 when they
    touch or overlap, inf for a box alone in its image)."""
    true_boxes = np.asarray(true_boxes, dtype=np.float64).reshape(-1, 4)
    a, b = true_boxes[:, None, :], true_boxes[None, :, :]
    dx = np.maximum(np.maximum(b[..., 0] - a[..., 2], a[..., 0] - b[..., 2]), 0.0)
    dy = np.maximum(np.maximum(b[..., 1] - a[..., 3], a[..., 1] - b[..., 3]), 0.0)
    gaps = np.maximum(dx, dy)
    np.fill_diagonal(gaps, np.inf)
    return gaps.min(axis=1, initial=np.inf)
