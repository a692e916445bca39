"""Applications: do the scenes' boxes and masks agree, are IoU, NMS and mAP right on cases worked by
hand, is the upsampling layer's backward the true gradient, and do the shipped models beat trivial
baselines on held-out scenes?"""

from __future__ import annotations

import numpy as np
import pytest

from course.apps import boxes as bx
from course.apps.scenes import NUM_CLASSES, make_scenes, make_video
from course.nn.upsample import upsample_nearest2d, upsample_nearest2d_backward


def fake_digits(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in digits for the generator's own tests: bright random blobs on 28x28, labels 0..9."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:28, :28]
    digits = np.zeros((n, 1, 28, 28), dtype=np.float32)
    for k in range(n):
        cy, cx = rng.uniform(9, 19, size=2)
        ry, rx = rng.uniform(4, 9, size=2)
        digits[k, 0] = np.clip(1.5 - ((yy - cy) / ry) ** 2 - ((xx - cx) / rx) ** 2, 0, 1)
    return digits, np.arange(n) % 10


# --- scenes -------------------------------------------------------------------------------------------


def test_every_mask_pixel_lies_in_exactly_one_box_of_its_class_and_boxes_are_tight():
    scenes = make_scenes(*fake_digits(), 30, seed=1)
    assert scenes.images.shape == (30, 1, 64, 64) and scenes.masks.shape == (30, 64, 64)
    for mask, boxes, labels in zip(scenes.masks, scenes.boxes, scenes.labels, strict=True):
        assert len(boxes) >= 1
        owner = np.zeros(mask.shape, dtype=int)
        for (x0, y0, x1, y1), label in zip(boxes.astype(int), labels, strict=True):
            owner[y0:y1, x0:x1] += 1
            rows, cols = np.nonzero(mask[y0:y1, x0:x1] == label + 1)
            # tight: the class's pixels inside the box touch all four of its sides
            assert (rows.min(), cols.min(), rows.max() + 1, cols.max() + 1) == (0, 0, y1 - y0, x1 - x0)
        assert np.all(owner[mask > 0] == 1), "a digit pixel outside every box, or inside two boxes"
        classes = {int(c) - 1 for c in np.unique(mask[mask > 0])}
        assert classes == set(labels.tolist())


def test_scenes_are_a_function_of_the_seed():
    digits, labels = fake_digits()
    a, b, c = (make_scenes(digits, labels, 5, seed=s) for s in (3, 3, 4))
    assert np.array_equal(a.images, b.images) and np.array_equal(a.masks, b.masks)
    assert not np.array_equal(a.images, c.images)
    assert a.images.dtype == np.float32 and 0 <= a.images.min() and a.images.max() <= 1
    assert a.masks.max() < NUM_CLASSES


def test_train_scenes_use_only_training_digits_and_test_scenes_only_test_digits(monkeypatch):
    import course.data

    digits, _ = fake_digits(20)
    split = ((digits[:10], np.zeros(10, dtype=np.int64)), (digits[10:], np.ones(10, dtype=np.int64)))
    monkeypatch.setattr(course.data, "load_mnist", lambda: split)
    from course.apps.scenes import load_scenes

    train, test = load_scenes(6, 4, seed=0)
    assert len(train) == 6 and len(test) == 4
    assert {int(c) for labels in train.labels for c in labels} == {0}
    assert {int(c) for labels in test.labels for c in labels} == {1}


def test_video_digits_move_a_little_each_frame():
    video = make_video(*fake_digits(), 12, speed=1.5, seed=2)
    assert video.images.shape == (12, 1, 64, 64)
    steps = np.abs(np.diff(np.stack(video.boxes), axis=0))
    assert steps.max() <= 3 and steps.sum() > 0
    assert all(np.array_equal(labels, video.labels[0]) for labels in video.labels)


def test_scene_arguments_are_checked():
    digits, labels = fake_digits()
    with pytest.raises(ValueError, match="digits"):
        make_scenes(digits[:, 0], labels, 2)
    with pytest.raises(ValueError, match="labels"):
        make_scenes(digits, labels + 5, 2)
    with pytest.raises(ValueError, match="n_scenes"):
        make_scenes(digits, labels, 0)
    with pytest.raises(TypeError, match="n_scenes"):
        make_scenes(digits, labels, 2.5)


# --- IoU, NMS, mAP ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 2, 2), (1, 1, 3, 3), 1 / 7),  # overlap 1x1, union 4 + 4 - 1
        ((0, 0, 4, 4), (1, 1, 3, 3), 4 / 16),  # one inside the other
        ((0, 0, 2, 2), (2, 0, 4, 2), 0.0),  # touching edges share no area
        ((0, 0, 1, 1), (5, 5, 6, 6), 0.0),  # far apart
        ((0.5, 0, 2.5, 1), (0.5, 0, 2.5, 1), 1.0),  # identical
        ((0, 0, 4, 2), (2, 1, 6, 3), 2 / 14),  # wide boxes: overlap 2x1, union 8 + 8 - 2
    ],
)
def test_iou_on_hand_worked_cases(a, b, expected):
    assert bx.iou(a, b) == pytest.approx(expected)
    assert bx.iou(b, a) == pytest.approx(expected)


def test_iou_rejects_boxes_with_corners_in_the_wrong_order():
    with pytest.raises(ValueError, match="box_b"):
        bx.iou((0, 0, 1, 1), (2, 2, 1, 3))
    with pytest.raises(ValueError, match="box_a"):
        bx.iou((0, 0, 1), (0, 0, 1, 1))


def test_iou_matrix_agrees_with_iou():
    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 10, size=(7, 2))
    boxes = np.hstack([corners, corners + rng.uniform(0.5, 5, size=(7, 2))])
    expected = [[bx.iou(p, q) for q in boxes[:4]] for p in boxes]
    np.testing.assert_allclose(bx.iou_matrix(boxes, boxes[:4]), expected)


def test_nms_keeps_the_best_box_of_each_cluster_in_score_order():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [21, 20, 31, 30], [0, 0, 10, 10]])
    scores = np.array([0.8, 0.9, 0.3, 0.5, 0.1])
    # IoU(0, 1) = 81 / 119 = 0.68; IoU(2, 3) = 90 / 110 = 0.82; box 4 repeats box 0
    kept = bx.non_max_suppression(boxes, scores, 0.5)
    assert kept.dtype == np.int64 and kept.tolist() == [1, 3]
    assert bx.non_max_suppression(boxes, scores, 0.7).tolist() == [1, 0, 3]
    assert bx.non_max_suppression(boxes, scores, 0.9).tolist() == [1, 0, 3, 2]


def test_nms_suppressed_boxes_do_not_suppress_others():
    # B overlaps A and C (IoU 1/3 each), A and C are disjoint: B goes, C stays
    boxes = np.array([[0, 0, 2, 1], [1, 0, 3, 1], [2, 0, 4, 1]])
    kept = bx.non_max_suppression(boxes, np.array([0.9, 0.8, 0.7]), 0.3)
    assert kept.tolist() == [0, 2]


def test_nms_threshold_is_strict_and_empty_input_gives_empty_output():
    boxes = np.array([[0, 0, 2, 2], [1, 1, 3, 3]])  # IoU exactly 1/7
    assert bx.non_max_suppression(boxes, np.array([1.0, 0.5]), 1 / 7).tolist() == [0, 1]
    empty = bx.non_max_suppression(np.zeros((0, 4)), np.zeros(0), 0.5)
    assert empty.dtype == np.int64 and empty.shape == (0,)
    with pytest.raises(ValueError, match="scores"):
        bx.non_max_suppression(boxes, np.array([1.0]), 0.5)


def test_average_precision_on_a_hand_worked_ranking():
    # ranked hits T, F, T out of 2 objects: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    # AP = 1/2 * 1 + 1/2 * 2/3
    ap = bx.average_precision(np.array([0.7, 0.9, 0.8]), np.array([True, True, False]), 2)
    assert ap == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert bx.average_precision(np.zeros(0), np.zeros(0, dtype=bool), 3) == 0.0


def test_map_counts_a_duplicate_detection_as_a_false_positive():
    truth = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], dtype=float)]
    labels = [np.array([3, 5])]
    perfect = bx.mean_average_precision(truth, [np.array([0.9, 0.8])], labels, truth, labels)
    assert perfect[0] == pytest.approx(1.0) and np.isnan(perfect[1][0])
    # class 3 found twice (the copy ranked first is a hit, the other a miss); class 5 box shifted away
    pred = [np.array([[0, 0, 10, 10], [1, 0, 11, 10], [25, 25, 35, 35]], dtype=float)]
    m, ap = bx.mean_average_precision(pred, [np.array([0.6, 0.9, 0.8])], [np.array([3, 3, 5])], truth, labels)
    assert ap[3] == pytest.approx(1.0)  # IoU(copy, truth) = 90/110 >= 0.5: the top one hits
    assert ap[5] == pytest.approx(0.0)  # IoU = 25/175 < 0.5
    assert m == pytest.approx(0.5)


# --- upsampling -----------------------------------------------------------------------------------------


def test_upsample_forward_repeats_each_pixel_into_a_block():
    x = np.arange(12, dtype=np.float64).reshape(1, 2, 2, 3)
    y = upsample_nearest2d(x, 3)
    assert y.shape == (1, 2, 6, 9)
    np.testing.assert_array_equal(y[0, 1], np.kron(x[0, 1], np.ones((3, 3))))


def test_upsample_matches_torch_forward_and_backward():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5))
    grad = rng.normal(size=(2, 3, 8, 10))
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.interpolate(xt, scale_factor=2, mode="nearest")
    yt.backward(torch.tensor(grad))
    np.testing.assert_allclose(upsample_nearest2d(x, 2), yt.detach().numpy())
    np.testing.assert_allclose(upsample_nearest2d_backward(grad, x, 2), xt.grad.numpy())


def test_upsample_by_one_returns_a_new_array_as_torch():
    from course import nn

    torch = pytest.importorskip("torch")
    x = np.arange(6.0).reshape(1, 1, 2, 3)
    expected = torch.nn.functional.interpolate(torch.tensor(x), scale_factor=1, mode="nearest").numpy()
    for y in (upsample_nearest2d(x, 1), nn.Upsample(scale_factor=1)(x)):
        np.testing.assert_array_equal(y, expected)
        assert not np.shares_memory(y, x)  # was a read-only view of x
        y += 1.0  # an output is the caller's to change
        np.testing.assert_array_equal(x, np.arange(6.0).reshape(1, 1, 2, 3))


def test_upsample_checks_its_arguments():
    x = np.zeros((1, 1, 2, 2))
    with pytest.raises(TypeError, match="scale_factor"):
        upsample_nearest2d(x, 1.5)
    with pytest.raises(ValueError, match="grad_out"):
        upsample_nearest2d_backward(np.zeros((1, 1, 3, 3)), x, 2)
    # numpy's own error for an output past any array named no argument
    with pytest.raises(ValueError, match=r"upsample_nearest2d: scale_factor=4294967296 makes an output"):
        upsample_nearest2d(x, 2**32)


def test_upsample_layer_backward_passes_the_finite_difference_check():
    from course import nn
    from course.gradcheck import gradcheck

    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 3, 3, 4))
    weights = rng.normal(size=(2, 3, 6, 8))  # J = sum(weights * y): dJ/dy = weights
    layer = nn.Upsample(scale_factor=2)
    y = layer(x)
    analytic = layer.backward(weights)
    result = gradcheck(lambda x: float(np.sum(weights * upsample_nearest2d(x, 2))), {"x": x}, {"x": analytic})
    assert result.passed, str(result)
    assert result.checked == x.size and y.shape == (2, 3, 6, 8)


# --- losses, metrics, decoding ------------------------------------------------------------------------


def test_pixel_cross_entropy_matches_torch_value_and_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 4, 3, 5))
    masks = rng.integers(0, 4, size=(2, 3, 5))
    weights = np.array([0.1, 1.0, 2.0, 1.0])
    from course.apps.segmentation import pixel_cross_entropy

    loss, grad = pixel_cross_entropy(logits, masks, weights)
    z = torch.tensor(logits, requires_grad=True)
    # ours divides by the number of pixels (torch's "sum" reduction / P), not by the sum of the weights
    expected = torch.nn.functional.cross_entropy(
        z, torch.tensor(masks), weight=torch.tensor(weights), reduction="sum"
    )
    (expected / masks.size).backward()
    assert loss == pytest.approx(expected.item() / masks.size)
    np.testing.assert_allclose(grad, z.grad.numpy(), rtol=1e-10)


def test_detection_loss_gradient_passes_the_finite_difference_check():
    from course.apps.detection import detection_loss, encode_targets
    from course.gradcheck import gradcheck

    rng = np.random.default_rng(2)
    out = rng.normal(size=(2, 15, 3, 3))
    targets = encode_targets(
        [np.array([[2.0, 3.0, 12.0, 20.0]]), np.array([[1.0, 1.0, 9.0, 7.0], [12.0, 10.0, 22.0, 23.0]])],
        [np.array([4]), np.array([0, 9])],
        (3, 3),
    )
    assert targets[:, 0].sum() == 3
    _, grad = detection_loss(out, targets)
    result = gradcheck(lambda out: detection_loss(out, targets)[0], {"out": out}, {"out": grad})
    assert result.passed, str(result)


def test_decoding_perfect_network_outputs_gives_back_the_true_boxes():
    from course.apps.detection import BOX_SCALE, decode, encode_targets

    boxes = [np.array([[3.0, 5.0, 15.0, 25.0], [30.0, 33.0, 47.0, 52.0]])]
    labels = [np.array([7, 2])]
    t = encode_targets(boxes, labels, (8, 8))[0]
    out = np.full((1, 15, 8, 8), -20.0)
    out[0, 0] = np.where(t[0] > 0, 20.0, -20.0)
    offsets = np.clip(t[1:3], 1e-6, 1 - 1e-6)
    out[0, 1:3] = np.log(offsets / (1 - offsets))  # the sigmoid's inverse
    out[0, 3:5] = t[3:5]
    for row, col in zip(*np.nonzero(t[0]), strict=True):
        out[0, 5 + int(t[5, row, col]), row, col] = 20.0
    found_boxes, scores, found_labels = decode(out, score_threshold=0.5)
    order = np.argsort(found_labels[0])[::-1]
    np.testing.assert_allclose(found_boxes[0][order], boxes[0], atol=1e-3)
    assert found_labels[0][order].tolist() == [7, 2] and np.all(scores[0] > 0.99)
    assert BOX_SCALE > 0


def test_mean_iou_and_pixel_accuracy_on_a_hand_worked_map():
    from course.apps.segmentation import mean_iou, pixel_accuracy

    true = np.array([[0, 0, 1, 1], [0, 0, 1, 1]])
    pred = np.array([[0, 0, 0, 1], [0, 0, 1, 1]])
    # class 0: 4 common / 5 in union; class 1: 3 / 4; class 2 absent from both (NaN, left out)
    miou, per_class = mean_iou(pred, true, n_classes=3)
    assert per_class[:2] == pytest.approx([4 / 5, 3 / 4]) and np.isnan(per_class[2])
    assert miou == pytest.approx((4 / 5 + 3 / 4) / 2)
    assert pixel_accuracy(pred, true) == pytest.approx(7 / 8)


# --- real time: the naive backend is the same network ----------------------------------------------------


def test_naive_forward_agrees_with_the_numba_network():
    from course.apps import detection, realtime, segmentation

    x = np.random.default_rng(0).random((1, 1, 16, 16), dtype=np.float32)
    for model in (segmentation.build_segmenter(), detection.build_detector()):
        fast = realtime.forward(model, x, "numba")
        np.testing.assert_allclose(realtime.forward(model, x, "naive"), fast, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="backend"):
        realtime.forward(model, x, "cuda")


# --- the shipped models on held-out scenes ----------------------------------------------------------------


@pytest.fixture(scope="module")
def held_out():
    """Test scenes as the training script makes them (test digits, the test seed), fewer of them."""
    from course.apps.weights import SCENES
    from course.data import load_mnist

    _, (digits, labels) = load_mnist()
    return make_scenes(digits, labels, 100, seed=SCENES["seed"] + 1, max_digits=SCENES["max_digits"])


def test_shipped_segmenter_beats_all_background_by_a_wide_margin(held_out):
    from course.apps.segmentation import mean_iou, pixel_accuracy, predict_masks
    from course.apps.weights import load_segmenter

    predicted = predict_masks(load_segmenter(), held_out.images)
    background = np.zeros_like(held_out.masks)
    assert pixel_accuracy(predicted, held_out.masks) > pixel_accuracy(background, held_out.masks)
    ours, baseline = mean_iou(predicted, held_out.masks)[0], mean_iou(background, held_out.masks)[0]
    assert baseline < 0.1 and ours > 0.4, (ours, baseline)


def test_shipped_detector_beats_random_boxes_by_a_wide_margin(held_out):
    from course.apps.detection import detect
    from course.apps.weights import load_detector

    rng = np.random.default_rng(0)
    corners = rng.uniform(0, 40, size=(len(held_out), 4, 2))
    random_boxes = np.concatenate([corners, corners + rng.uniform(8, 24, size=corners.shape)], axis=2)
    chance = bx.mean_average_precision(
        list(random_boxes),
        list(rng.random((len(held_out), 4))),
        list(rng.integers(0, 10, (len(held_out), 4))),
        held_out.boxes,
        held_out.labels,
    )[0]
    found = detect(load_detector(), held_out.images)
    ours = bx.mean_average_precision(*found, held_out.boxes, held_out.labels)[0]
    assert chance < 0.05 and ours > 0.5, (ours, chance)


def test_thread_counts_take_turns_frame_by_frame_each_first_as_often_and_each_gets_its_own_time():
    from course import _jit
    from course.apps import realtime

    seen, before = [], _jit.get_num_threads()
    frames = np.zeros((4, 1, 4, 4))
    rows = realtime.measure_fps(lambda frame: seen.append(_jit.get_num_threads()), frames, threads=(1, 2))
    assert seen == [before, 1, 2, 2, 1, 1, 2, 2, 1]  # the warm-up as set, then the counts in turn
    assert [(t.threads, t.frames) for t in rows] == [(1, 4), (2, 4)] and all(t.seconds > 0 for t in rows)
    assert _jit.get_num_threads() == before


@pytest.mark.parametrize(
    ("arguments", "error", "pattern"),
    [
        ({"epochs": 1, "batch_size": 0}, ValueError, r"^train: batch_size must be a positive int, got 0$"),
        ({"epochs": 2.5}, TypeError, r"^train: epochs must be a positive int, got 2.5$"),
        ({"epochs": 0}, ValueError, r"^train: epochs must be a positive int, got 0$"),
    ],
)
def test_the_applications_training_loop_names_a_bad_count(arguments, error, pattern):
    # batch_size 0 raised range()'s "arg 3 must not be zero", epochs 2.5 "'float' object cannot be
    # interpreted as an integer", and epochs 0 returned no losses: course.training.fit refuses all three
    from course import nn
    from course.apps.training import train

    model = nn.Sequential(nn.Flatten(), nn.Linear(4, 2, rng=np.random.default_rng(0)))
    before = model[1].weight.data.copy()

    def loss_fn(out, targets):
        return float(np.sum(out**2)), 2 * out

    with pytest.raises(error, match=pattern):
        train(model, loss_fn, np.ones((3, 1, 2, 2), np.float32), np.zeros(3), log=None, **arguments)
    np.testing.assert_array_equal(model[1].weight.data, before)
