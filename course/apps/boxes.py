"""Boxes: intersection over union, non-maximum suppression, and mean average precision.

A box is (x0, y0, x1, y1) with x0 < x1 and y0 < y1, in continuous image coordinates (x to the right,
y down). `iou` and `non_max_suppression` are the reference solutions of the exercises of
05_applications (the grader checks students' versions against them); `iou_matrix` is the vectorised
form the detector and `mean_average_precision` use. Layering: boxes imports numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["iou", "iou_matrix", "non_max_suppression", "average_precision", "mean_average_precision"]


def iou(box_a: Sequence[float], box_b: Sequence[float]) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1):

        IoU = area(a ∩ b) / (area(a) + area(b) - area(a ∩ b)),

    where the intersection is the box (max x0, max y0, min x1, min y1), empty (area 0) when that has
    no width or no height. 1 for identical boxes, 0 for disjoint or merely touching ones.
    """
    ax0, ay0, ax1, ay1 = _box("iou", "box_a", box_a)
    bx0, by0, bx1, by1 = _box("iou", "box_b", box_b)
    width = max(0.0, min(ax1, bx1) - max(ax0, bx0))
    height = max(0.0, min(ay1, by1) - max(ay0, by0))
    inter = width * height
    union = (ax1 - ax0) * (ay1 - ay0) + (bx1 - bx0) * (by1 - by0) - inter
    return inter / union


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """IoU of every box of boxes_a (K, 4) with every box of boxes_b (M, 4): a (K, M) float64 array."""
    a = _boxes("iou_matrix", "boxes_a", boxes_a)[:, None, :]
    b = _boxes("iou_matrix", "boxes_b", boxes_b)[None, :, :]
    width = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    height = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = width * height
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return inter / (area_a + area_b - inter)


def non_max_suppression(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression: visit boxes (K, 4) by decreasing score (K,), equal scores by
    increasing index (a stable sort of -scores), and keep a box unless its IoU with an already kept box
    exceeds `iou_threshold` (an IoU equal to the threshold does not suppress).

    Returns the kept indices, int64, in the order they were kept (decreasing score).
    """
    boxes = _boxes("non_max_suppression", "boxes", boxes)
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (len(boxes),):
        raise ValueError(
            f"non_max_suppression: scores must have shape ({len(boxes)},), one per box, got {scores.shape}"
        )
    if not 0.0 <= float(iou_threshold) <= 1.0:
        raise ValueError(f"non_max_suppression: iou_threshold must be in [0, 1], got {iou_threshold!r}")
    order = np.argsort(-scores, kind="stable")
    overlaps = iou_matrix(boxes, boxes)
    kept: list[int] = []
    for i in order:
        if all(overlaps[i, k] <= iou_threshold for k in kept):
            kept.append(int(i))
    return np.array(kept, dtype=np.int64)


def average_precision(scores: np.ndarray, is_true: np.ndarray, n_true: int) -> float:
    """Area under the precision-recall curve of detections with `scores` (D,), `is_true` (D,) saying
    which ones matched a ground-truth object, out of `n_true` objects.

    Detections are ranked by decreasing score; precision is made non-increasing in recall (each value
    replaced by the best precision at any higher recall), then summed over the recall steps:
    AP = sum_k (recall_k - recall_{k-1}) * precision_k. 0 when nothing was detected.
    """
    if n_true <= 0:
        raise ValueError(f"average_precision: n_true must be positive, got {n_true}")
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    hits = np.asarray(is_true, dtype=bool)[order]
    true_positives = np.cumsum(hits)
    recall = np.concatenate([[0.0], true_positives / n_true])
    precision = true_positives / np.arange(1, len(hits) + 1)
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * envelope))


def mean_average_precision(
    pred_boxes: list[np.ndarray],
    pred_scores: list[np.ndarray],
    pred_labels: list[np.ndarray],
    true_boxes: list[np.ndarray],
    true_labels: list[np.ndarray],
    *,
    iou_threshold: float = 0.5,
    n_classes: int = 10,
) -> tuple[float, np.ndarray]:
    """mAP at `iou_threshold` over images: per image, lists of predicted boxes (D, 4), scores (D,),
    labels (D,) and true boxes (K, 4), labels (K,).

    For each class, detections of all images are taken by decreasing score; a detection is a true
    positive when its IoU with a not yet matched true box of its class in its image is at least the
    threshold (the best such box is matched), otherwise a false positive. Returns (mAP, AP per class),
    the mean taken over classes that have true objects (the others' AP is NaN).
    """
    if not len(pred_boxes) == len(pred_scores) == len(pred_labels) == len(true_boxes) == len(true_labels):
        raise ValueError("mean_average_precision: all five lists must have one entry per image")
    ap = np.full(n_classes, np.nan)
    for cls in range(n_classes):
        n_true = sum(int(np.sum(labels == cls)) for labels in true_labels)
        if n_true == 0:
            continue
        scores, hits = [], []
        for boxes, s, labels, t_boxes, t_labels in zip(
            pred_boxes, pred_scores, pred_labels, true_boxes, true_labels, strict=True
        ):
            mine, theirs = labels == cls, t_boxes[t_labels == cls]
            s_cls, b_cls = np.asarray(s)[mine], np.asarray(boxes).reshape(-1, 4)[mine]
            scores.append(s_cls)
            hits.append(_match(b_cls, s_cls, theirs, iou_threshold))
        ap[cls] = average_precision(np.concatenate(scores), np.concatenate(hits), n_true)
    return float(np.nanmean(ap)), ap


def _match(boxes: np.ndarray, scores: np.ndarray, true_boxes: np.ndarray, threshold: float) -> np.ndarray:
    """For one image and class: which detections (by their own order) match a distinct true box."""
    hits = np.zeros(len(boxes), dtype=bool)
    if len(boxes) == 0 or len(true_boxes) == 0:
        return hits
    overlaps = iou_matrix(boxes, true_boxes)
    taken = np.zeros(len(true_boxes), dtype=bool)
    for i in np.argsort(-scores, kind="stable"):
        candidates = np.where(taken, -1.0, overlaps[i])
        best = int(np.argmax(candidates))
        if candidates[best] >= threshold:
            taken[best] = hits[i] = True
    return hits


def _box(op: str, name: str, box) -> tuple[float, float, float, float]:
    values = np.asarray(box, dtype=np.float64)
    if values.shape != (4,):
        raise ValueError(f"{op}: {name} must be 4 numbers (x0, y0, x1, y1), got shape {values.shape}")
    x0, y0, x1, y1 = (float(v) for v in values)
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"{op}: {name} must have x0 < x1 and y0 < y1, got {tuple(values.tolist())}")
    return x0, y0, x1, y1


def _boxes(op: str, name: str, boxes) -> np.ndarray:
    values = np.asarray(boxes, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != 4:
        raise ValueError(f"{op}: {name} must have shape (K, 4) as rows (x0, y0, x1, y1), got {values.shape}")
    if np.any(values[:, 2] <= values[:, 0]) or np.any(values[:, 3] <= values[:, 1]):
        raise ValueError(f"{op}: every box of {name} must have x0 < x1 and y0 < y1")
    return values
