"""Semantic segmentation: a small fully convolutional network that gives every pixel a class.

The network (`build_segmenter`) only convolves, pools and upsamples, with no fully connected layer, so
it accepts any image whose sides are multiples of 4 and answers with a map of the same size:

    x (N, 1, H, W) -> conv 3x3, 8 -> pool 2 -> conv 3x3, 16 -> pool 2 -> conv 3x3, 32 -> conv 3x3, 32
      (at H/4 x W/4) -> upsample x2 -> conv 3x3, 16 -> upsample x2 -> conv 1x1, 11 -> logits (N, 11, H, W)

(every conv but the last is followed by a ReLU; each output pixel sees a 30 x 30 window, a whole digit).

It is trained with the per-pixel cross-entropy J = -1/P sum_p w[y_p] log softmax(z_p)[y_p] (P pixels,
w per class weights), and judged by pixel accuracy and mean intersection over union.
Layering: segmentation imports course.nn and course.apps.scenes.
"""

from __future__ import annotations

import numpy as np

from course import nn
from course.apps.scenes import NUM_CLASSES

__all__ = [
    "build_segmenter",
    "pixel_cross_entropy",
    "predict_masks",
    "confusion_matrix",
    "pixel_accuracy",
    "mean_iou",
]


def build_segmenter(rng: np.random.Generator | None = None) -> nn.Sequential:
    """The fully convolutional segmenter above, initialised from `rng` (float32)."""
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
        nn.Conv2d(32, 32, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(32, 16, 3, padding=1, rng=rng),
        nn.ReLU(),
        nn.Upsample(scale_factor=2),
        nn.Conv2d(16, NUM_CLASSES, 1, rng=rng),
    )


def pixel_cross_entropy(
    logits: np.ndarray, masks: np.ndarray, class_weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean weighted cross-entropy over all N*H*W pixels, and its gradient.

    logits (N, K, H, W), masks (N, H, W) of class indices in 0..K-1, class_weights (K,) or None (all 1).
    With p = softmax over the K channels of each pixel and P = N*H*W:

        J = -1/P sum_pixels w[y] log p[y],      dJ/dz[k] = w[y] (p[k] - [k == y]) / P.

    Returns (J, dJ/dlogits) with dJ/dlogits shaped like logits.
    """
    if logits.ndim != 4 or masks.shape != (logits.shape[0],) + logits.shape[2:]:
        raise ValueError(
            f"pixel_cross_entropy: logits must be (N, K, H, W) and masks (N, H, W) to match, "
            f"got logits.shape={logits.shape}, masks.shape={masks.shape}"
        )
    n_classes = logits.shape[1]
    if masks.min() < 0 or masks.max() >= n_classes:
        raise ValueError(f"pixel_cross_entropy: masks must hold classes 0..{n_classes - 1}")
    weights = np.ones(n_classes) if class_weights is None else np.asarray(class_weights, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    picked = np.take_along_axis(log_p, masks[:, None], axis=1)[:, 0]
    w = weights[masks]
    n_pixels = masks.size
    loss = float(-(w * picked).sum() / n_pixels)
    grad = np.exp(log_p)
    np.put_along_axis(grad, masks[:, None], np.take_along_axis(grad, masks[:, None], axis=1) - 1, axis=1)
    grad *= (w / n_pixels)[:, None]
    return loss, grad.astype(logits.dtype)


def predict_masks(model, images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The most likely class of every pixel: images (N, 1, H, W) -> masks (N, H, W) int64."""
    model.eval()
    out = [model(images[i : i + batch_size]).argmax(axis=1) for i in range(0, len(images), batch_size)]
    return np.concatenate(out).astype(np.int64)


def confusion_matrix(predicted: np.ndarray, true: np.ndarray, n_classes: int = NUM_CLASSES) -> np.ndarray:
    """counts[t, p]: how many pixels of true class t were predicted as class p; (K, K) int64."""
    if predicted.shape != true.shape:
        raise ValueError(f"confusion_matrix: predicted {predicted.shape} and true {true.shape} must match")
    return np.bincount(true.ravel() * n_classes + predicted.ravel(), minlength=n_classes**2).reshape(
        n_classes, n_classes
    )


def pixel_accuracy(predicted: np.ndarray, true: np.ndarray) -> float:
    """The fraction of pixels whose predicted class is the true one."""
    counts = confusion_matrix(predicted, true)
    return float(np.trace(counts) / counts.sum())


def mean_iou(
    predicted: np.ndarray, true: np.ndarray, n_classes: int = NUM_CLASSES
) -> tuple[float, np.ndarray]:
    """Mean over classes of IoU_k = |pred k and true k| / |pred k or true k|, pooled over all pixels of
    all images; classes absent from both have IoU NaN and are left out of the mean. Returns (mIoU, IoU
    per class)."""
    counts = confusion_matrix(predicted, true, n_classes)
    inter = np.diag(counts).astype(np.float64)
    union = counts.sum(axis=0) + counts.sum(axis=1) - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = np.where(union > 0, inter / union, np.nan)
    return float(np.nanmean(per_class)), per_class
