"""Exercises of 05_applications: intersection over union and non-maximum suppression, judged by geometry."""

from __future__ import annotations

import numpy as np

from course.apps import boxes as box_ops
from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise, describe
from course.grading.judging import matching_number


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

    def repeat(self, case, rng):
        """The two boxes swapped and moved by one whole offset: same shapes, new values, the same IoU."""
        box_a, box_b = case.args
        offset = np.tile(rng.integers(-3, 4, size=2), 2).astype(float)  # exact: IoUs do not move
        return (box_b + offset, box_a + offset), {}

    def judge(self, case, output):
        box_a, box_b = case.args
        expected = self.reference(box_a, box_b)
        fraction, message = compare_number(expected, output, "the IoU", rtol=1e-9)
        hint = matching_number(output, expected, _iou_mistakes(box_a, box_b)) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


def _iou_mistakes(box_a, box_b) -> list[tuple[str, float]]:
    """(what went wrong, the IoU it gives) for the classic mistakes, on the trusted side."""
    (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = (np.asarray(b, float) for b in (box_a, box_b))
    area_a, area_b = (ax1 - ax0) * (ay1 - ay0), (bx1 - bx0) * (by1 - by0)
    width, height = min(ax1, bx1) - max(ax0, bx0), min(ay1, by1) - max(ay0, by0)
    clamped = max(0.0, width) * max(0.0, height)
    unclamped = (
        "clamp the intersection's width and height at 0, each separately: max(0, w) * max(0, h); "
        "unclamped, boxes apart along one axis give a negative area, and boxes apart along both axes a "
        "positive one"
    )
    mistakes = [
        (unclamped, _ratio(width * height, area_a + area_b - width * height)),
        (unclamped, _ratio(max(0.0, width * height), area_a + area_b - max(0.0, width * height))),
    ]
    hull = (max(ax1, bx1) - min(ax0, bx0)) * (max(ay1, by1) - min(ay0, by0))
    mistakes += [
        (
            "min and max are swapped: the intersection runs from the larger x0 (max) to the smaller x1 (min)",
            _ratio(hull, area_a + area_b - hull),
        ),
        (
            "the union is area(a) + area(b) - area(a ∩ b): the intersection was not subtracted",
            _ratio(clamped, area_a + area_b),
        ),
    ]
    # dividing by area(a), by area(b), by the smaller or by the larger area: on a case each of these
    # equals one of the others, so one message names them all (a hint must be true of the answer)
    one_box = (
        "the intersection was divided by the area of one box (area(a) alone, or the smaller or the "
        "larger of the two areas), not by the union, area(a) + area(b) - area(a ∩ b)"
    )
    mistakes += [
        (one_box, _ratio(clamped, area))
        for area in (area_a, area_b, min(area_a, area_b), max(area_a, area_b))
    ]
    mistakes += [
        ("the coordinates are continuous: a box's width is x1 - x0, with no + 1", _iou_pixels(box_a, box_b)),
    ]
    return mistakes


def _iou_pixels(box_a, box_b) -> float:
    """The IoU under the pixel-count convention (width x1 - x0 + 1), a common mix-up."""
    inclusive = [np.asarray(box, float) + [0, 0, 1, 1] for box in (box_a, box_b)]
    return box_ops.iou(*inclusive)


def _iou_pixels_matrix(boxes) -> np.ndarray:
    return box_ops.iou_matrix(boxes + [0, 0, 1, 1], boxes + [0, 0, 1, 1])


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


class NonMaxSuppression(Exercise):
    """non_max_suppression(boxes, scores, iou_threshold) -> kept indices (int64), best first.

    Boxes are visited best first: by decreasing score, and among equal scores by increasing index.
    """

    id = "non_max_suppression"
    notebook = "05_applications"
    title = "non-maximum suppression"
    points = 2.0
    reference = staticmethod(box_ops.non_max_suppression)

    def cases(self, rng, hidden):
        if hidden:
            cases = []
            for index in range(2):
                count = int(rng.integers(5, 15))
                threshold = float(rng.choice([0.3, 0.5, 0.7]))
                levels = 4 if index else count  # the second draw has many tied scores
                scores = rng.integers(0, levels, size=count) / levels + 0.05
                cases.append(
                    Case(
                        f"{count} random boxes, threshold {threshold}" + (", tied scores" if index else ""),
                        (_random_boxes(rng, count), scores, threshold),
                        hidden=True,
                    )
                )
            return cases
        chain = np.array([[0, 0, 4, 2], [2, 0, 6, 2], [4, 0, 8, 2]], float)
        # boxes 0 and 1: IoU exactly 2 / 4 = 0.5; boxes 2 and 3: IoU 0.43 (0.58 if widths were x1 - x0 + 1)
        exact = np.array([[0, 0, 3, 1], [1, 0, 4, 1], [10, 0, 12, 2], [10.8, 0, 12.8, 2]], float)
        boxes = _random_boxes(rng, 8)
        tied_boxes = _random_boxes(rng, 10)
        return [
            Case(
                "a chain A-B-C: A suppresses B, so C (which overlaps only B) is kept",
                (chain, np.array([0.9, 0.8, 0.7]), 0.3),
            ),
            Case(
                "IoU exactly at the threshold 0.5 is kept (only IoU > threshold suppresses)",
                (exact, np.array([0.6, 0.9, 0.8, 0.7]), 0.5),
            ),
            Case(
                "8 boxes with scores in no particular order, threshold 0.4",
                (boxes, rng.permutation(8) / 8 + 0.05, 0.4),
            ),
            Case(
                "separate boxes: all are kept, by decreasing score",
                (chain[[0, 2]], np.array([0.2, 0.7]), 0.5),
            ),
            Case(
                "equal scores: of two overlapping boxes the one with the lower index is kept",
                (chain[:2][::-1] + 0.5, np.array([0.8, 0.8]), 0.3),
            ),
            Case(
                "10 boxes with tied scores (4 distinct values), threshold 0.3",
                (tied_boxes, rng.integers(0, 4, size=10) / 4 + 0.05, 0.3),
            ),
            # np.argsort's default sort keeps ties in order for 16 values or fewer on many machines (an
            # insertion sort), so only a longer list shows an unstable sort
            Case(
                "30 boxes with tied scores (3 distinct values), threshold 0.5: more than 16 scores, "
                "where np.argsort's default sort reorders ties",
                (_random_boxes(rng, 30) * 2, rng.integers(0, 3, size=30) / 3 + 0.05, 0.5),
            ),
        ]

    def repeat(self, case, rng):
        """The boxes (with their scores) in another order and moved by one offset: ties stay ties."""
        boxes, scores, threshold = case.args
        order = rng.permutation(len(boxes))
        offset = np.tile(rng.integers(-3, 4, size=2), 2).astype(float)  # exact: IoUs do not move
        return (boxes[order] + offset, scores[order], threshold), {}

    def judge(self, case, output):
        boxes, scores, threshold = case.args
        if isinstance(output, (list, tuple)) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in output
        ):
            output = np.array(output, dtype=np.int64)
        if not isinstance(output, np.ndarray) or output.dtype.kind not in "iu" or output.ndim != 1:
            return 0.0, (
                f"your function returned {describe(output)} where a 1-D integer array of the kept indices "
                "was expected (np.array(kept, dtype=np.int64))"
            )
        kept = output.tolist()
        if any(not 0 <= k < len(boxes) for k in kept) or len(set(kept)) != len(kept):
            return (
                0.0,
                f"the kept indices {_listed(kept)} should be distinct indices of boxes (0..{len(boxes) - 1})",
            )
        expected = self.reference(boxes, scores, threshold).tolist()
        if kept == expected:
            return 1.0, ""
        message = _judge_by_geometry(boxes, scores, threshold, kept) or (
            f"the kept indices should be {expected}, got {kept}"
        )
        variants = [
            (why, wrong) for why, wrong in _nms_mistakes(boxes, scores, threshold) if wrong != expected
        ]
        matches = {why for why, wrong in variants if wrong == kept}
        if len(matches) == 1 and all(why in matches for why, wrong in variants if wrong == kept):
            message += "\n" + matches.pop()
        return 0.0, message


def _listed(kept: list[int], shown: int = 12) -> str:
    """The kept list as a student wrote it, its first `shown` entries only when it is longer."""
    if len(kept) <= shown:
        return str(kept)
    return f"{str(kept[:shown])[:-1]}, ... ({len(kept)} in all)]"


def _ranked_before(scores, first: int, second: int) -> bool:
    """The visiting order of NMS: higher score first, and on equal scores the lower index first."""
    return scores[first] > scores[second] or (scores[first] == scores[second] and first < second)


def _judge_by_geometry(boxes, scores, threshold, kept) -> str:
    """What is wrong with `kept`, said in terms of the rule, or "" if the rule finds nothing (a wrong
    answer then differs from the reference in a way these checks do not name).

    Once `kept` is in visiting order, the boxes are visited as greedy NMS visits them, and the first box
    that `kept` treats otherwise is named: up to that box the kept boxes are the ones NMS keeps, so what
    is said of it (kept though a kept box overlaps it, or dropped though none does) is true of NMS too.
    """
    for first, second in zip(kept, kept[1:], strict=False):
        if not _ranked_before(scores, first, second):
            tie = " (equal scores: the lower index comes first)" if scores[first] == scores[second] else ""
            return (
                f"the kept indices {kept} are not in visiting order: "
                f"box {second} comes before box {first}{tie}"
            )
    chosen = set(kept)
    visited: list[int] = []  # the kept boxes visited so far, the same for `kept` and for NMS
    for index in sorted(range(len(boxes)), key=lambda i: (-scores[i], i)):
        overlaps = ((k, box_ops.iou(boxes[index], boxes[k])) for k in visited)
        overlapping = next(((k, overlap) for k, overlap in overlaps if overlap > threshold), None)
        if index in chosen and overlapping:
            other, overlap = overlapping
            return (
                f"you kept box {index}, but its IoU with box {other} (kept, visited earlier) is "
                f"{overlap:.6g} > {threshold}: it should have been suppressed"
            )
        if index not in chosen and not overlapping:
            tied = [
                k
                for k in kept
                if scores[k] == scores[index]
                and k > index
                and box_ops.iou(boxes[index], boxes[k]) > threshold
            ]
            note = (
                f" (box {tied[0]} has the same score; on equal scores the lower index is visited first)"
                if tied
                else ""
            )
            return (
                f"you dropped box {index} (score {scores[index]:.6g}), but no kept box visited before it "
                f"overlaps it by more than {threshold}: it should be kept{note}"
            )
        if index in chosen:
            visited.append(index)
    return ""


def _nms_mistakes(boxes, scores, threshold) -> list[tuple[str, list[int]]]:
    """(what went wrong, the indices it keeps) for the classic mistakes, on the trusted side."""
    overlaps = box_ops.iou_matrix(boxes, boxes)
    stable = list(np.argsort(-scores, kind="stable"))
    reversed_ties = list(np.argsort(scores, kind="stable")[::-1])
    return [
        (
            "on equal scores the box with the higher index went first; the lower index goes first "
            "(np.argsort(-scores, kind='stable'), not np.argsort(scores)[::-1])",
            _greedy(reversed_ties, overlaps, threshold),
        ),
        (
            "an IoU equal to the threshold suppressed a box: only IoU > threshold suppresses",
            _greedy(stable, overlaps, threshold, strict=False),
        ),
        (
            "boxes that were themselves suppressed suppressed others: only kept boxes suppress",
            _greedy(stable, overlaps, threshold, only_kept=False),
        ),
        (
            "the coordinates are continuous: a box's width is x1 - x0, with no + 1",
            _greedy(stable, _iou_pixels_matrix(boxes), threshold),
        ),
        (
            "the kept indices are sorted by index: return them best first",
            sorted(_greedy(stable, overlaps, threshold)),
        ),
    ]


def _greedy(order, overlaps, threshold, strict=True, only_kept=True) -> list[int]:
    kept: list[int] = []
    for position, index in enumerate(order):
        judges = kept if only_kept else order[:position]
        if all(
            (overlaps[index, k] <= threshold) if strict else (overlaps[index, k] < threshold) for k in judges
        ):
            kept.append(int(index))
    return kept


EXERCISES = [Iou(), NonMaxSuppression()]
