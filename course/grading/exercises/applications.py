"""Exercises of 05_applications: intersection over union and non-maximum suppression, judged by geometry."""

from __future__ import annotations

import numpy as np

from course.apps import boxes as box_ops
from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise


def _random_boxes(rng: np.random.Generator, count: int) -> np.ndarray:
    """(count, 4) boxes (x0, y0, x1, y1) in a 10 x 10 scene, sides 1..5, many of them overlapping."""
    corners = rng.uniform(0, 6, size=(count, 2))
    sides = rng.uniform(1, 5, size=(count, 2))
    return np.concatenate([corners, corners + sides], axis=1)


class Iou(Exercise):
    """iou(box_a, box_b) -> intersection area / union area of two (x0, y0, x1, y1) boxes."""

    id = "iou"
    notebook = "05_applications"
    title = "intersection over union"
    points = 1.0
    reference = staticmethod(box_ops.iou)

    def cases(self, rng, hidden):
        if hidden:
            return [Case("two random boxes", tuple(_random_boxes(rng, 2)), hidden=True) for _ in range(3)]
        pairs = {
            "two 2x2 boxes overlapping in a 1x1 square": ([0, 0, 2, 2], [1, 1, 3, 3]),
            "identical boxes": ([1, 2, 4, 3], [1, 2, 4, 3]),
            "a box inside another": ([0, 0, 4, 4], [1, 1, 2, 3]),
            "boxes apart along x only (their y ranges overlap)": ([0, 0, 1, 1], [2, 0.5, 3, 2]),
            "boxes apart along both axes": ([0, 0, 1, 1], [2, 3, 4, 5]),
            "boxes that touch along an edge": ([0, 0, 1, 1], [1, 0, 2, 1]),
            "non-integer coordinates": ([0.5, 0.25, 2.5, 1.75], [1.5, 0.0, 3.0, 1.0]),
        }
        return [Case(name, (np.array(a, float), np.array(b, float))) for name, (a, b) in pairs.items()]

    def judge(self, case, output):
        box_a, box_b = case.args
        expected = self.reference(box_a, box_b)
        fraction, message = compare_number(expected, output, "the IoU", rtol=1e-9)
        if fraction == 1 or not isinstance(output, (int, float)):
            return fraction, message
        if output < 0 or (expected == 0 and output > 0):
            message += (
                "\nthe boxes do not overlap, so the intersection is empty: clamp its width and its height "
                "at 0 separately, max(0, w) * max(0, h)"
            )
        elif abs(output - _iou_pixels(box_a, box_b)) < 1e-9:
            message += "\nthe coordinates are continuous: a box's width is x1 - x0, with no + 1"
        return fraction, message


def _iou_pixels(box_a, box_b) -> float:
    """The IoU under the pixel-count convention (width x1 - x0 + 1), a common mix-up."""
    inclusive = [np.asarray(box, float) + [0, 0, 1, 1] for box in (box_a, box_b)]
    return box_ops.iou(*inclusive)


class NonMaxSuppression(Exercise):
    """non_max_suppression(boxes, scores, iou_threshold) -> kept indices (int64) by decreasing score."""

    id = "non_max_suppression"
    notebook = "05_applications"
    title = "non-maximum suppression"
    points = 2.0
    reference = staticmethod(box_ops.non_max_suppression)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for _ in range(2):
                count = int(rng.integers(5, 15))
                threshold = float(rng.choice([0.3, 0.5, 0.7]))
                boxes, scores = _random_boxes(rng, count), rng.permutation(count) / count + 0.01
                cases.append(
                    Case(
                        f"{count} random boxes, threshold {threshold}",
                        (boxes, scores, threshold),
                        hidden=True,
                    )
                )
            return cases
        chain = np.array([[0, 0, 4, 2], [2, 0, 6, 2], [4, 0, 8, 2]], float)
        exact = np.array([[0, 0, 3, 1], [1, 0, 4, 1]], float)  # IoU exactly 2 / 4 = 0.5
        boxes = _random_boxes(rng, 8)
        return [
            Case(
                "a chain A-B-C: A suppresses B, so C (which overlaps only B) is kept",
                (chain, np.array([0.9, 0.8, 0.7]), 0.3),
            ),
            Case(
                "IoU exactly at the threshold 0.5 is kept (only IoU > threshold suppresses)",
                (exact, np.array([0.6, 0.9]), 0.5),
            ),
            Case(
                "8 boxes with scores in no particular order, threshold 0.4",
                (boxes, rng.permutation(8) / 8 + 0.05, 0.4),
            ),
            Case(
                "separate boxes: all are kept, by decreasing score",
                (chain[[0, 2]], np.array([0.2, 0.7]), 0.5),
            ),
        ]

    def judge(self, case, output):
        boxes, scores, threshold = case.args
        if isinstance(output, list) and all(isinstance(v, int) for v in output):
            output = np.array(output, dtype=np.int64)
        if not isinstance(output, np.ndarray) or output.dtype.kind not in "iu" or output.ndim != 1:
            return 0.0, "return a 1-D integer array of the kept indices (np.array(kept, dtype=np.int64))"
        kept = output.tolist()
        if any(not 0 <= k < len(boxes) for k in kept) or len(set(kept)) != len(kept):
            return 0.0, f"the kept indices {kept} should be distinct indices of boxes (0..{len(boxes) - 1})"
        return _judge_by_geometry(boxes, scores, threshold, kept)


def _judge_by_geometry(boxes, scores, threshold, kept) -> tuple[float, str]:
    """Greedy NMS is the one answer that is ordered by score, keeps no two boxes overlapping by more than
    the threshold, and drops a box only because a kept, higher-scoring box overlaps it that much."""
    for first, second in zip(kept, kept[1:], strict=False):
        if scores[first] < scores[second]:
            return (
                0.0,
                f"the kept indices {kept} are not by decreasing score: "
                f"box {second} scores more than box {first}",
            )
    for position, index in enumerate(kept):
        for other in kept[:position]:
            overlap = box_ops.iou(boxes[index], boxes[other])
            if overlap > threshold:
                return 0.0, (
                    f"you kept box {index}, but its IoU with box {other} (kept, higher score) is "
                    f"{overlap:.3g} > {threshold}: it should have been suppressed"
                )
    for index in set(range(len(boxes))) - set(kept):
        stronger = [k for k in kept if scores[k] > scores[index]]
        overlaps = [box_ops.iou(boxes[index], boxes[k]) for k in stronger]
        if not any(overlap > threshold for overlap in overlaps):
            why = (
                " (an IoU equal to the threshold does not suppress)"
                if any(overlap == threshold for overlap in overlaps)
                else " (only boxes that are kept suppress others)"
            )
            return 0.0, (
                f"you dropped box {index} (score {scores[index]:.3g}), but no kept box of higher score "
                f"overlaps it by more than {threshold}: it should be kept{why}"
            )
    return 1.0, ""


EXERCISES = [Iou(), NonMaxSuppression()]
