"""Error analysis of detections: does each verdict mean what it says on hand-worked scenes, and does
"right" count exactly what mean average precision counts as a true positive?"""

from __future__ import annotations

import numpy as np
import pytest

from course.apps import boxes as bx
from course.apps.errors import nearest_gap, review_detections

TRUE_BOXES = np.array([[0, 0, 10, 10], [20, 0, 30, 10], [40, 40, 50, 60]], dtype=float)
TRUE_LABELS = np.array([8, 3, 1])


def test_each_kind_of_detection_gets_its_verdict():
    boxes = np.array(
        [
            [0, 0, 10, 10],  # the 8, right
            [1, 0, 11, 10],  # the 8 again, weaker: duplicate
            [20, 0, 30, 10],  # said 5 where the 3 is: wrong class
            [60, 60, 62, 62],  # nothing there: off target
        ],
        dtype=float,
    )
    review = review_detections(boxes, [0.9, 0.5, 0.8, 0.7], [8, 8, 5, 1], TRUE_BOXES, TRUE_LABELS)
    assert review.verdicts.tolist() == ["right", "duplicate", "wrong class", "off target"]
    assert review.fits.tolist() == [0, 0, 1, -1]
    assert review.best_iou[0] == 1.0 and review.best_iou[2] == 1.0 and review.best_iou[3] == 0.0
    assert review.best_iou[1] == pytest.approx(90 / 110)
    assert review.found.tolist() == [True, False, False]  # the 3 was only found with the wrong class


def test_the_stronger_of_two_detections_claims_the_box_whatever_their_order():
    boxes = np.array([[1, 0, 11, 10], [0, 0, 10, 10]], dtype=float)
    review = review_detections(boxes, [0.3, 0.6], [8, 8], TRUE_BOXES, TRUE_LABELS)
    assert review.verdicts.tolist() == ["duplicate", "right"]


def test_a_box_below_the_threshold_is_off_target_even_with_the_right_class():
    boxes = np.array([[5, 0, 15, 10]], dtype=float)  # IoU 50 / 150 = 1/3 with the 8
    review = review_detections(boxes, [0.9], [8], TRUE_BOXES, TRUE_LABELS)
    assert review.verdicts.tolist() == ["off target"] and not review.found.any()
    assert review_detections(boxes, [0.9], [8], TRUE_BOXES, TRUE_LABELS, 0.3).verdicts.tolist() == ["right"]


def test_right_detections_are_exactly_the_true_positives_of_mean_average_precision():
    rng = np.random.default_rng(0)
    pred_boxes, pred_scores, pred_labels, true_boxes, true_labels = [], [], [], [], []
    for _ in range(20):
        k = int(rng.integers(1, 4))
        corners = rng.uniform(0, 40, size=(k, 2))
        truth = np.concatenate([corners, corners + rng.uniform(8, 20, size=(k, 2))], axis=1)
        # detections: jittered copies of the truth (some with another class) and some random boxes
        jitter = truth[rng.integers(0, k, size=5)] + rng.normal(0, 2, size=(5, 4))
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        true_boxes.append(truth)
        true_labels.append(rng.integers(0, 3, size=k))
        pred_boxes.append(jitter)
        pred_scores.append(rng.random(5))
        pred_labels.append(rng.integers(0, 3, size=5))
    _, ap = bx.mean_average_precision(
        pred_boxes, pred_scores, pred_labels, true_boxes, true_labels, n_classes=3
    )
    reviews = [
        review_detections(*args)
        for args in zip(pred_boxes, pred_scores, pred_labels, true_boxes, true_labels, strict=True)
    ]
    for cls in range(3):
        n_true = sum(int(np.sum(t == cls)) for t in true_labels)
        scores = np.concatenate([s[p == cls] for s, p in zip(pred_scores, pred_labels, strict=True)])
        hits = np.concatenate(
            [r.verdicts[p == cls] == "right" for r, p in zip(reviews, pred_labels, strict=True)]
        )
        assert bx.average_precision(scores, hits, n_true) == pytest.approx(ap[cls], abs=1e-12)
        found = sum(int(np.sum(r.found[t == cls])) for r, t in zip(reviews, true_labels, strict=True))
        assert found == int(hits.sum())


def test_the_gap_to_the_nearest_digit_is_measured_along_the_axis_where_they_are_apart():
    boxes = np.array([[0, 0, 10, 10], [13, 2, 20, 8], [0, 30, 5, 40], [4, 35, 8, 45]], dtype=float)
    # box 1 is 3 to the right of box 0; boxes 2 and 3 overlap; box 0 is 20 above box 2
    assert nearest_gap(boxes).tolist() == [3.0, 3.0, 0.0, 0.0]
    assert nearest_gap(boxes[:1]).tolist() == [np.inf]


def test_review_names_the_arguments_of_mismatched_lengths():
    with pytest.raises(ValueError, match="boxes, scores and labels"):
        review_detections(np.zeros((2, 4)), [0.5], [1, 2], TRUE_BOXES, TRUE_LABELS)
    with pytest.raises(ValueError, match="true_boxes and true_labels"):
        review_detections(np.zeros((0, 4)), [], [], TRUE_BOXES, TRUE_LABELS[:2])
