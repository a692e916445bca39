"""Time every widget's redraw (draw + png_of) at several settings, and save the PNGs to compare trees.

    python scripts/time_widgets.py                      # this tree only
    python scripts/time_widgets.py --against ../other   # that tree (before) and this one (after), in
                                                        # one run, alternating, and their PNGs compared

Each setting is drawn once to warm up, then timed `--repeat` times (median). Each tree runs in its own
Python process (`PYTHONPATH=tree`), so both import their own `course`; the PNGs go to `--out`/<tree name>/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SETTINGS = {
    "conv_explorer": [
        dict(size=5, kernel_size=3, stride=1, padding=0, row=0, col=0),
        dict(size=7, kernel_size=5, stride=1, padding=2, row=3, col=4),
        dict(size=3, kernel_size=1, stride=3, padding=0, row=0, col=0),
        dict(size=6, kernel_size=3, stride=2, padding=1, row=1, col=2),
    ],
    "multichannel": [dict(step=0), dict(step=5), dict(step=9), dict(step=17)],
    "receptive_field": [
        dict(layers=3, kernel_size=3, stride=1, pooling=False),
        dict(layers=6, kernel_size=7, stride=3, pooling=True),
        dict(layers=1, kernel_size=1, stride=1, pooling=False),
        dict(layers=4, kernel_size=3, stride=1, pooling=True),
    ],
    "learning_rate": [
        dict(lr_times_steepest=0.15),
        dict(lr_times_steepest=1.8),
        dict(lr_times_steepest=2.0),
        dict(lr_times_steepest=2.2),
    ],
    "pool_router": [
        dict(mode="max", kernel_size=2, stride=2, row=0, col=0),
        dict(mode="average", kernel_size=3, stride=1, row=3, col=2),
        dict(mode="max", kernel_size=3, stride=2, row=1, col=1),
        dict(mode="average", kernel_size=2, stride=1, row=4, col=4),
    ],
    "detections": [
        dict(score_threshold=0.4, iou_threshold=0.3),
        dict(score_threshold=0.0, iou_threshold=1.0),
        dict(score_threshold=0.95, iou_threshold=0.3),
        dict(score_threshold=0.2, iou_threshold=0.5),
    ],
    "playback": [dict(index=0), dict(index=1), dict(index=3)],
}


def figures() -> dict:
    """Every widget, built as the notebooks build them (the tests' data)."""
    from course.apps.scenes import load_scenes, make_video
    from course.apps.weights import SCENES, load_detector, load_segmenter
    from course.data import load_mnist
    from course.widgets import conv_explorer, detections, learning_rate, multichannel, playback, pool_router
    from course.widgets import receptive_field as rf

    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2)) * [1.0, 0.35]
    y = X @ np.array([1.0, -2.0]) + 0.1 * rng.normal(size=30)
    scenes = load_scenes(**SCENES)[1]
    video = make_video(*load_mnist()[1], 4, seed=5)
    return {
        "conv_explorer": conv_explorer.conv_explorer(),
        "multichannel": multichannel.multichannel_steps(),
        "receptive_field": rf.receptive_field_explorer(),
        "learning_rate": learning_rate.learning_rate_valley(X, y),
        "pool_router": pool_router.pooling_router(),
        "detections": detections.detection_thresholds(load_detector(), scenes.images),
        "playback": playback.video_playback(load_segmenter(), load_detector(), video.images),
    }


def measure(out: Path, repeat: int) -> dict:
    """{widget: [(setting, median draw s, median png s), ...]}, the PNGs saved to out/."""
    import course
    from course.widgets.figure import png_of

    print(f"course from {course.__file__}", file=sys.stderr)
    out.mkdir(parents=True, exist_ok=True)
    table = {}
    for name, figure in figures().items():
        rows = []
        for k, setting in enumerate(SETTINGS[name]):
            (out / f"{name}-{k}.png").write_bytes(png_of(figure.draw(**setting)))  # warm-up, and the picture
            draws, pngs = [], []
            for _ in range(repeat):
                start = time.perf_counter()
                fig = figure.draw(**setting)
                drawn = time.perf_counter()
                png_of(fig)
                draws.append(drawn - start)
                pngs.append(time.perf_counter() - drawn)
            rows.append((setting, statistics.median(draws), statistics.median(pngs)))
        table[name] = rows
    return table


def run_tree(tree: Path, out: Path, repeat: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    command = [sys.executable, __file__, "--child", "--out", str(out), "--repeat", str(repeat)]
    return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def same_pixels(a: Path, b: Path) -> str:
    from matplotlib.image import imread

    x, y = imread(a), imread(b)
    if x.shape != y.shape:
        return f"size {x.shape[1]}x{x.shape[0]} -> {y.shape[1]}x{y.shape[0]}"
    differ = np.any(x != y, axis=-1)
    return "identical" if not differ.any() else f"{int(differ.sum())} pixels differ"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", type=Path, help="the tree to compare with (before)")
    parser.add_argument("--out", type=Path, default=Path("/tmp/widget-pngs"))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.out, args.repeat)))
        return
    here = Path(__file__).resolve().parent.parent
    trees = {"before": args.against, "after": here} if args.against else {"now": here}
    tables = {label: run_tree(tree, args.out / label, args.repeat) for label, tree in trees.items()}
    labels = list(tables)
    header = f"{'widget':16} {'setting':44}" + "".join(f" {label + ' draw+png (s)':>22}" for label in labels)
    print(header + ("   pixels" if args.against else ""))
    for name in SETTINGS:
        for k, setting in enumerate(SETTINGS[name]):
            text = ",".join(f"{v}" for v in setting.values())
            line = f"{name:16} {text:44}"
            for label in labels:
                _, draw, png = tables[label][name][k]
                line += f" {draw:6.3f}+{png:6.3f}={draw + png:6.3f}"
            if args.against:
                line += "   " + same_pixels(*(args.out / label / f"{name}-{k}.png" for label in labels))
            print(line)


if __name__ == "__main__":
    main()
