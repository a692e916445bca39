"""Object detection in one shot: a grid detector in the spirit of YOLO.

The network (`build_detector`) turns an image (N, 1, H, W) into a grid of S x S cells (S = H / 8,
W / 8), and each cell predicts, from 15 output channels:

    channel 0        objectness z_o: p_object = sigmoid(z_o), "does a digit's centre fall in this cell?"
    channels 1, 2    the centre inside the cell: (sigmoid(z_x), sigmoid(z_y)) in [0, 1) of the cell's side
    channels 3, 4    the box's width and height, divided by BOX_SCALE pixels (no squashing)
    channels 5..14   class logits of the ten digits

    x (N, 1, H, W) -> conv 3x3, 8 -> pool 2 -> conv 3x3, 16 -> pool 2 -> conv 3x3, 32 -> pool 2
      -> conv 3x3, 32 (each cell sees 38 x 38 pixels) -> conv 1x1, 15 -> (N, 15, H/8, W/8)

A digit is the responsibility of the cell holding its centre. The loss sums, per image, the binary
cross-entropy of objectness over all cells, and over responsible cells only LAMBDA_BOX times the
squared error of the box and the cross-entropy of the class. `detect` turns the grid into boxes:
score = p_object * p_class, a score threshold, then non-maximum suppression.
Layering: detection imports course.nn and course.apps.boxes.
"""

from __future__ import annotations

import numpy as np

from course import nn
from course.apps.boxes import non_max_suppression

__all__ = [
    "STRIDE",
    "BOX_SCALE",
    "build_detector",
    "encode_targets",
    "detection_loss",
    "decode",
    "detect",
]

STRIDE = 8  # pixels per grid cell
BOX_SCALE = 32.0  # box sides are predicted in units of this many pixels
LAMBDA_BOX = 5.0
N_OUTPUTS = 15


def build_detector(rng: np.random.Generator | None = None) -> nn.Sequential:
    """The grid detector above, initialised from `rng` (float32)."""
    rng = np.random.default_rng(0) if rng is None else rng
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 32, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.Conv2d(32, N_OUTPUTS, 1, rng=rng),
    )


def encode_targets(boxes: list[np.ndarray], labels: list[np.ndarray], grid: tuple[int, int]) -> np.ndarray:
    """The training target of every cell: (N, 6, S_h, S_w) holding objectness (0/1), the centre's
    offset (x, y) in the cell, width and height / BOX_SCALE, and the class (valid where objectness is 1).
    boxes[n] (K, 4) as (x0, y0, x1, y1) and labels[n] (K,) for each of the N images."""
    targets = np.zeros((len(boxes), 6) + tuple(grid), dtype=np.float64)
    for n, (image_boxes, image_labels) in enumerate(zip(boxes, labels, strict=True)):
        for (x0, y0, x1, y1), label in zip(image_boxes, image_labels, strict=True):
            cx, cy = (x0 + x1) / 2 / STRIDE, (y0 + y1) / 2 / STRIDE
            row, col = min(int(cy), grid[0] - 1), min(int(cx), grid[1] - 1)
            size = ((x1 - x0) / BOX_SCALE, (y1 - y0) / BOX_SCALE)
            targets[n, :, row, col] = (1, cx - col, cy - row, *size, label)
    return targets


def detection_loss(out: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray]:
    """The detector's loss per image and its gradient: out (N, 15, S_h, S_w), targets from
    `encode_targets` (N, 6, S_h, S_w). With t the objectness target and R the responsible cells:

        J = 1/N [ sum_cells BCE(z_o, t) + sum_R ( LAMBDA_BOX * |box - box_t|^2 + CE(z_class, class_t) ) ],

    BCE(z, t) = log(1 + e^z) - t z (dJ/dz = sigmoid(z) - t); the box's centre goes through a sigmoid,
    so its gradient carries sigmoid' = s (1 - s). Returns (J, dJ/dout) with dJ/dout shaped like out.
    """
    if out.ndim != 4 or out.shape[1] != N_OUTPUTS or targets.shape != (out.shape[0], 6) + out.shape[2:]:
        raise ValueError(
            f"detection_loss: out must be (N, {N_OUTPUTS}, Sh, Sw) and targets (N, 6, Sh, Sw), "
            f"got out.shape={out.shape}, targets.shape={targets.shape}"
        )
    z = out.astype(np.float64)
    n = len(z)
    grad = np.zeros_like(z)
    is_object = targets[:, 0]
    # objectness: binary cross-entropy on every cell, written stably as softplus(z) - t z
    z_o = z[:, 0]
    loss = np.sum(np.logaddexp(0.0, z_o) - is_object * z_o)
    grad[:, 0] = _sigmoid(z_o) - is_object
    # box: squared error on responsible cells
    centre = _sigmoid(z[:, 1:3])
    box_error = np.concatenate([centre - targets[:, 1:3], z[:, 3:5] - targets[:, 3:5]], axis=1)
    box_error *= is_object[:, None]
    loss += LAMBDA_BOX * np.sum(box_error**2)
    grad[:, 1:3] = 2 * LAMBDA_BOX * box_error[:, :2] * centre * (1 - centre)
    grad[:, 3:5] = 2 * LAMBDA_BOX * box_error[:, 2:]
    # class: softmax cross-entropy on responsible cells
    logits = z[:, 5:]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    classes = targets[:, 5:6].astype(np.int64)
    loss -= np.sum(np.take_along_axis(log_p, classes, axis=1)[:, 0] * is_object)
    one_hot = np.zeros_like(log_p)
    np.put_along_axis(one_hot, classes, 1.0, axis=1)
    grad[:, 5:] = (np.exp(log_p) - one_hot) * is_object[:, None]
    return float(loss / n), (grad / n).astype(out.dtype)


def decode(
    out: np.ndarray, *, score_threshold: float = 0.05, iou_threshold: float = 0.3
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Boxes from the grid out (N, 15, S_h, S_w): per image, boxes (D, 4) as (x0, y0, x1, y1) in
    pixels, scores (D,) = p_object * p_class, labels (D,), after dropping scores below
    `score_threshold` and non-maximum suppression at `iou_threshold` (digits in a scene do not overlap,
    so one suppression across classes)."""
    z = out.astype(np.float64)
    rows, cols = np.mgrid[: z.shape[2], : z.shape[3]]
    cx = (cols + _sigmoid(z[:, 1])) * STRIDE
    cy = (rows + _sigmoid(z[:, 2])) * STRIDE
    half_w = np.maximum(z[:, 3] * BOX_SCALE, 1.0) / 2
    half_h = np.maximum(z[:, 4] * BOX_SCALE, 1.0) / 2
    all_boxes = np.stack([cx - half_w, cy - half_h, cx + half_w, cy + half_h], axis=-1)
    class_p = np.exp(z[:, 5:] - z[:, 5:].max(axis=1, keepdims=True))
    class_p /= class_p.sum(axis=1, keepdims=True)
    all_scores = _sigmoid(z[:, 0]) * class_p.max(axis=1)
    all_labels = class_p.argmax(axis=1)
    boxes, scores, labels = [], [], []
    for n in range(len(z)):
        keep = all_scores[n] >= score_threshold
        b, s, lab = all_boxes[n][keep], all_scores[n][keep], all_labels[n][keep]
        kept = non_max_suppression(b, s, iou_threshold)
        boxes.append(b[kept].astype(np.float32).reshape(-1, 4))
        scores.append(s[kept])
        labels.append(lab[kept].astype(np.int64))
    return boxes, scores, labels


def detect(model, images: np.ndarray, *, batch_size: int = 64, **options):
    """Run the detector on images (N, 1, H, W) and `decode` its grid; options go to `decode`."""
    model.eval()
    out = np.concatenate([model(images[i : i + batch_size]) for i in range(0, len(images), batch_size)])
    return decode(out, **options)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))
