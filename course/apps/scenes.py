"""Scenes for segmentation and detection, made from the course's real handwritten digits.

A scene is a canvas (64 x 64 by default) with a few digits pasted at random positions and sizes, over
clutter (short random strokes and dots, which are background) and pixel noise. Each scene comes with
what both tasks need, derived from the same pasted digits so that they agree:

- `masks[n, r, c]`: the class of each pixel, 0 for background and d + 1 for digit d (11 classes);
- `boxes[n]` (K, 4): each digit's tight box (x0, y0, x1, y1) around its mask pixels, in continuous
  pixel coordinates (a pixel (r, c) covers [c, c + 1) x [r, r + 1)), and `labels[n]` (K,) its digit.

Digits in one still scene never overlap, so every mask pixel belongs to exactly one box. Scenes are a
pure function of the digits given and the seed; train and test scenes come from the digits' own train
and test splits (`load_scenes`). `make_video` moves digits across a fixed background, frame by frame.
Layering: scenes imports numpy, the argument checks of `course._args` and (lazily) `course.data`, nothing
else.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from course import _args

__all__ = ["NUM_CLASSES", "CLASS_NAMES", "Scenes", "make_scenes", "make_video", "load_scenes"]

NUM_CLASSES = 11  # background + ten digits
CLASS_NAMES = ("background",) + tuple(str(d) for d in range(10))
INK = 0.5  # a pasted digit's pixel brighter than this belongs to the digit


@dataclass(frozen=True)
class Scenes:
    """N scenes: images (N, 1, H, W) float32 in [0, 1], masks (N, H, W) int64 in 0..10, and per scene
    boxes (K, 4) float32 as (x0, y0, x1, y1) with labels (K,) int64 in 0..9."""

    images: np.ndarray
    masks: np.ndarray
    boxes: list[np.ndarray]
    labels: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index) -> Scenes:
        """The scenes selected by a slice or an index array, as a new Scenes."""
        picked = np.arange(len(self))[index]
        picked = np.atleast_1d(picked)
        return Scenes(
            self.images[picked],
            self.masks[picked],
            [self.boxes[i] for i in picked],
            [self.labels[i] for i in picked],
        )


def make_scenes(
    digits: np.ndarray,
    labels: np.ndarray,
    n_scenes: int,
    *,
    size: int = 64,
    max_digits: int = 3,
    digit_sizes: tuple[int, int] = (18, 30),
    clutter: int = 4,
    noise: float = 0.06,
    seed: int = 0,
) -> Scenes:
    """`n_scenes` scenes of side `size`, each with 1..max_digits digits drawn from `digits` (M, 1, 28, 28)
    (values in [0, 1]) with their `labels` (M,).

    Each digit is resized to a square side drawn uniformly from `digit_sizes` (inclusive, pixels) and
    placed where its box keeps a 1-pixel gap to the boxes already placed (a digit that finds no room
    after 50 tries is left out). `clutter` is the most random strokes per scene; `noise` the standard
    deviation of the Gaussian pixel noise. Deterministic for a given seed.
    """
    digits, labels = _check_digits(digits, labels)
    _check_positive("make_scenes", n_scenes=n_scenes, size=size, max_digits=max_digits)
    lo, hi = digit_sizes
    if not 4 <= lo <= hi <= size:
        raise ValueError(f"make_scenes: digit_sizes must satisfy 4 <= low <= high <= size, got {digit_sizes}")
    rng = np.random.default_rng(seed)
    images = np.empty((n_scenes, 1, size, size), dtype=np.float32)
    masks = np.zeros((n_scenes, size, size), dtype=np.int64)
    all_boxes, all_labels = [], []
    for n in range(n_scenes):
        canvas = _clutter(rng, size, clutter)
        boxes, classes = [], []
        for _ in range(rng.integers(1, max_digits + 1)):
            pick = rng.integers(len(digits))
            patch = _resize(digits[pick, 0], int(rng.integers(lo, hi + 1)))
            ink = patch > INK
            placed = _place(rng, ink, size, boxes)
            if placed is None:
                continue
            top, left = placed
            _paste(canvas, masks[n], patch, ink, top, left, labels[pick] + 1)
            boxes.append(_ink_box(ink, top, left))
            classes.append(labels[pick])
        images[n, 0] = _noisy(rng, canvas, noise)
        all_boxes.append(np.array(boxes, dtype=np.float32).reshape(-1, 4))
        all_labels.append(np.array(classes, dtype=np.int64))
    return Scenes(images, masks, all_boxes, all_labels)


def make_video(
    digits: np.ndarray,
    labels: np.ndarray,
    n_frames: int,
    *,
    size: int = 64,
    n_digits: int = 3,
    digit_sizes: tuple[int, int] = (20, 28),
    speed: float = 1.5,
    clutter: int = 4,
    noise: float = 0.06,
    seed: int = 0,
) -> Scenes:
    """A "video" of `n_frames` frames (returned as Scenes): `n_digits` digits move in straight lines at
    up to `speed` pixels per frame over a fixed cluttered background, bouncing off the borders. Digits may
    cross each other; where they do, the one drawn last owns the mask pixels. Fresh noise every frame."""
    digits, labels = _check_digits(digits, labels)
    _check_positive("make_video", n_frames=n_frames, size=size, n_digits=n_digits)
    rng = np.random.default_rng(seed)
    background = _clutter(rng, size, clutter)
    picks = rng.integers(len(digits), size=n_digits)
    patches = [_resize(digits[p, 0], int(rng.integers(digit_sizes[0], digit_sizes[1] + 1))) for p in picks]
    position = np.array([rng.uniform(0, size - p.shape[0], size=2) for p in patches])
    velocity = rng.uniform(-speed, speed, size=(n_digits, 2))
    images = np.empty((n_frames, 1, size, size), dtype=np.float32)
    masks = np.zeros((n_frames, size, size), dtype=np.int64)
    all_boxes, all_labels = [], []
    for t in range(n_frames):
        canvas = background.copy()
        boxes = []
        for k, patch in enumerate(patches):
            top, left = np.rint(position[k]).astype(int)
            ink = patch > INK
            _paste(canvas, masks[t], patch, ink, top, left, labels[picks[k]] + 1)
            boxes.append(_ink_box(ink, top, left))
        images[t, 0] = _noisy(rng, canvas, noise)
        all_boxes.append(np.array(boxes, dtype=np.float32))
        all_labels.append(labels[picks].astype(np.int64))
        position, velocity = _bounce(position + velocity, velocity, [size - p.shape[0] for p in patches])
    return Scenes(images, masks, all_boxes, all_labels)


def load_scenes(n_train: int = 1500, n_test: int = 300, *, seed: int = 0, **options) -> tuple[Scenes, Scenes]:
    """(train, test) scenes made from `course.data.load_mnist()`'s train and test digits respectively
    (so no test digit is ever seen in training), with seeds `seed` and `seed + 1`. `options` go to
    `make_scenes`."""
    from course.data import load_mnist

    (x_train, y_train), (x_test, y_test) = load_mnist()
    train = make_scenes(x_train, y_train, n_train, seed=seed, **options)
    test = make_scenes(x_test, y_test, n_test, seed=seed + 1, **options)
    return train, test


def _check_digits(digits, labels) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(digits, np.ndarray) or digits.ndim != 4 or digits.shape[1] != 1:
        got = digits.shape if isinstance(digits, np.ndarray) else type(digits).__name__
        raise ValueError(f"digits must be an array of shape (M, 1, h, w), got {got}")
    labels = np.asarray(labels)
    if labels.shape != (len(digits),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels must be integers of shape ({len(digits)},), got {labels.dtype} of shape {labels.shape}"
        )
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"labels must be digits 0..9, got values in [{labels.min()}, {labels.max()}]")
    return digits.astype(np.float32, copy=False), labels.astype(np.int64, copy=False)


def _check_positive(op: str, **values: int) -> None:
    for name, value in values.items():
        _args.positive_int(op, name, value)


def _resize(image: np.ndarray, side: int) -> np.ndarray:
    """`image` (h, w) resampled bilinearly to (side, side), sampling at pixel centres."""
    h, w = image.shape
    rows = np.clip((np.arange(side) + 0.5) * h / side - 0.5, 0, h - 1)
    cols = np.clip((np.arange(side) + 0.5) * w / side - 0.5, 0, w - 1)
    r0, c0 = np.floor(rows).astype(int), np.floor(cols).astype(int)
    r1, c1 = np.minimum(r0 + 1, h - 1), np.minimum(c0 + 1, w - 1)
    fr, fc = (rows - r0)[:, None], (cols - c0)[None, :]
    top = image[r0][:, c0] * (1 - fc) + image[r0][:, c1] * fc
    bottom = image[r1][:, c0] * (1 - fc) + image[r1][:, c1] * fc
    return (top * (1 - fr) + bottom * fr).astype(np.float32)


def _ink_box(ink: np.ndarray, top: int, left: int) -> tuple[float, float, float, float]:
    """The tight box (x0, y0, x1, y1) of the True pixels of `ink` pasted at (top, left)."""
    rows, cols = np.nonzero(ink)
    return (left + cols.min(), top + rows.min(), left + cols.max() + 1, top + rows.max() + 1)


def _place(rng, ink, size, boxes) -> tuple[int, int] | None:
    """A (top, left) where the digit fits on the canvas and its box keeps a 1-pixel gap from `boxes`."""
    side = ink.shape[0]
    for _ in range(50):
        top, left = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        x0, y0, x1, y1 = _ink_box(ink, top, left)
        if all(x1 + 1 <= a0 or a1 + 1 <= x0 or y1 + 1 <= b0 or b1 + 1 <= y0 for a0, b0, a1, b1 in boxes):
            return top, left
    return None


def _paste(canvas, mask, patch, ink, top, left, cls) -> None:
    """Draw `patch` on `canvas` (brightest wins) and mark its ink pixels as class `cls` in `mask`."""
    side = patch.shape[0]
    region = canvas[top : top + side, left : left + side]
    np.maximum(region, patch, out=region)
    mask[top : top + side, left : left + side][ink] = cls


def _clutter(rng, size: int, most: int) -> np.ndarray:
    """A dark canvas with up to `most` short faint strokes and as many bright dots: not digits."""
    canvas = np.zeros((size, size), dtype=np.float32)
    for _ in range(rng.integers(0, most + 1)):
        start = rng.uniform(0, size - 1, size=2)
        step = rng.normal(size=2)
        length = rng.uniform(4, 10)
        points = start + np.linspace(0, length, 24)[:, None] * step / np.linalg.norm(step)
        r, c = np.clip(np.rint(points), 0, size - 1).astype(int).T
        canvas[r, c] = np.maximum(canvas[r, c], rng.uniform(0.25, 0.45))
    for _ in range(rng.integers(0, most + 1)):
        r, c = rng.integers(0, size - 1, size=2)
        canvas[r : r + 2, c : c + 2] = rng.uniform(0.4, 0.9)
    return canvas


def _noisy(rng, canvas: np.ndarray, noise: float) -> np.ndarray:
    return np.clip(canvas + rng.normal(0, noise, canvas.shape), 0, 1).astype(np.float32)


def _bounce(position, velocity, limits):
    """Reflect digits that left [0, limit] back inside, reversing that velocity component."""
    position, velocity = position.copy(), velocity.copy()
    for k, limit in enumerate(limits):
        for axis in range(2):
            if position[k, axis] < 0 or position[k, axis] > limit:
                velocity[k, axis] = -velocity[k, axis]
                position[k, axis] = np.clip(position[k, axis], 0, limit)
    return position, velocity
