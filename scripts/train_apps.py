"""Train the applications' two networks and write the weights shipped in the package:

    python scripts/train_apps.py              # train both, write course/apps/weights/*.npz, evaluate
    python scripts/train_apps.py --only detector   # train one of them (e.g. both at once, one per core)
    python scripts/train_apps.py --evaluate   # only evaluate the shipped weights on held-out scenes

Both models learn from `load_scenes(**SCENES)` training scenes (made from the training digits) with
`course.apps.weights.RECIPE`; every random number is seeded, and the kernels' sums are taken in an order
fixed by the shapes and the number of threads (the matrix products cut the images into chunks per thread),
so a run on the same machine with the same threads writes the same files. Evaluation uses the 300 test
scenes made from the test digits, which training never sees, and prints pixel accuracy, mean IoU and
mAP@0.5 next to trivial baselines (all background; random boxes).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from course.apps import detection, segmentation
from course.apps.boxes import mean_average_precision
from course.apps.detection import STRIDE
from course.apps.scenes import NUM_CLASSES, load_scenes
from course.apps.training import train
from course.apps.weights import BACKGROUND_WEIGHT, RECIPE, SCENES, WEIGHTS_DIR, load_detector, load_segmenter


def random_boxes(scenes, rng, per_image: int = 4):
    """The random-boxes baseline: boxes of digit-like size anywhere, random labels and scores."""
    size = scenes.images.shape[-1]
    boxes, scores, labels = [], [], []
    for _ in range(len(scenes)):
        corner = rng.uniform(0, size - 24, size=(per_image, 2))
        boxes.append(np.hstack([corner, corner + rng.uniform(8, 24, size=(per_image, 2))]))
        scores.append(rng.random(per_image))
        labels.append(rng.integers(0, 10, size=per_image))
    return boxes, scores, labels


def evaluate(test) -> None:
    masks = segmentation.predict_masks(load_segmenter(), test.images)
    background = np.zeros_like(test.masks)
    print(
        f"segmentation on {len(test)} held-out scenes: pixel accuracy "
        f"{segmentation.pixel_accuracy(masks, test.masks):.4f}, mean IoU "
        f"{segmentation.mean_iou(masks, test.masks)[0]:.4f} (all background: pixel accuracy "
        f"{segmentation.pixel_accuracy(background, test.masks):.4f}, mean IoU "
        f"{segmentation.mean_iou(background, test.masks)[0]:.4f})"
    )
    found = detection.detect(load_detector(), test.images)
    m = mean_average_precision(*found, test.boxes, test.labels)[0]
    chance = mean_average_precision(*random_boxes(test, np.random.default_rng(0)), test.boxes, test.labels)[0]
    print(f"detection on {len(test)} held-out scenes: mAP@0.5 {m:.4f} (random boxes: {chance:.4f})")


def train_segmenter(scenes) -> None:
    model = segmentation.build_segmenter(np.random.default_rng(0))
    weights = np.ones(NUM_CLASSES)
    weights[0] = BACKGROUND_WEIGHT
    print(f"segmenter on {len(scenes)} training scenes")
    train(
        model,
        lambda out, masks: segmentation.pixel_cross_entropy(out, masks, weights),
        scenes.images,
        scenes.masks,
        **RECIPE["segmenter"],
    )
    model.save(WEIGHTS_DIR / "segmenter.npz")


def train_detector(scenes) -> None:
    model = detection.build_detector(np.random.default_rng(0))
    height, width = scenes.images.shape[2:]
    targets = detection.encode_targets(scenes.boxes, scenes.labels, (height // STRIDE, width // STRIDE))
    print(f"detector on {len(scenes)} training scenes")
    train(model, detection.detection_loss, scenes.images, targets, **RECIPE["detector"])
    model.save(WEIGHTS_DIR / "detector.npz")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evaluate", action="store_true", help="only evaluate the shipped weights")
    parser.add_argument("--only", choices=["segmenter", "detector"], help="train this model only")
    args = parser.parse_args()
    train_scenes, test = load_scenes(**SCENES)
    if not args.evaluate:
        WEIGHTS_DIR.mkdir(exist_ok=True)
        for name, train_model in (("segmenter", train_segmenter), ("detector", train_detector)):
            if args.only in (None, name):
                start = time.perf_counter()
                train_model(train_scenes)
                print(f"{name} trained in {time.perf_counter() - start:.0f} s, saved in {WEIGHTS_DIR}")
    evaluate(test)


if __name__ == "__main__":
    main()
