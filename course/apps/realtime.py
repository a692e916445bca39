"""Real time, measured honestly: frames per second of each model on a video, one frame at a time.

A frame counts as processed when its answer is ready: for the segmenter the class map (forward pass and
argmax), for the detector the boxes (forward pass, decoding and non-maximum suppression). Frames go in
one by one (batch size 1), as from a camera. The same trained network runs on two backends:

- "numba": the network itself, whose layers call `course.functional` (the compiled kernels);
- "naive": the same weights through `course.naive`'s readable loops (the specification), so the table
  shows what compiling the lecture's formulas buys. Upsampling and ReLU are numpy in both.

`python -m course.apps.realtime` prints the table for the shipped models on a 120-frame video (`--load 2`:
with two CPU-bound processes beside it); `main` returns the timings.
Layering: imports course.naive, course.nn, course.apps (detection; scenes, weights and data in `main`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from course import _jit, naive, nn
from course.apps import detection
from course.nn.upsample import upsample_nearest2d

__all__ = [
    "BACKENDS",
    "Timing",
    "forward",
    "segment_frame",
    "detect_frame",
    "measure_fps",
    "fps_table",
    "main",
]

BACKENDS = ("numba", "naive")


@dataclass(frozen=True)
class Timing:
    """`frames` frames processed in `seconds` by `model` on `backend` with `threads` kernel threads."""

    model: str
    backend: str
    threads: int
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.seconds / self.frames


def forward(model: nn.Sequential, x: np.ndarray, backend: str = "numba") -> np.ndarray:
    """The output of `model` for x (N, C, H, W), computed with `backend`'s kernels."""
    if backend == "numba":
        return model(x)
    if backend != "naive":
        raise ValueError(f"forward: backend must be one of {BACKENDS}, got {backend!r}")
    for layer in model:
        x = _naive_layer(layer, x)
    return x


def segment_frame(model: nn.Sequential, frame: np.ndarray, backend: str = "numba") -> np.ndarray:
    """The class map (H, W) of one frame (1, H, W)."""
    return forward(model, frame[None], backend)[0].argmax(axis=0)


def detect_frame(model: nn.Sequential, frame: np.ndarray, backend: str = "numba", **options):
    """(boxes (D, 4), scores (D,), labels (D,)) found in one frame (1, H, W); options go to `decode`."""
    boxes, scores, labels = detection.decode(forward(model, frame[None], backend), **options)
    return boxes[0], scores[0], labels[0]


def measure_fps(
    step: Callable[[np.ndarray], object],
    frames: np.ndarray,
    *,
    model: str = "",
    backend: str = "numba",
    threads: tuple[int, ...] | None = None,
    warmup: int = 1,
) -> list[Timing]:
    """Time `step(frame)` over every frame of frames (T, C, H, W), after `warmup` untimed calls (which
    compile the kernels on first use), once per kernel thread count in `threads` (default: as set);
    returns one Timing per count. The counts take turns frame by frame, so that what the rest of the
    machine does weighs on each of them alike, not on whichever ran while it was busiest, and in the
    reverse order every other frame, so that neither always runs first (with one thread first on every
    frame, two threads came out 1-8% slower in all of six comparisons, running the same code)."""
    previous = _jit.get_num_threads()
    counts = (previous,) if threads is None else threads
    seconds = dict.fromkeys(counts, 0.0)
    try:
        for frame in frames[:warmup]:
            step(frame)
        for index, frame in enumerate(frames):
            for count in counts if index % 2 == 0 else counts[::-1]:
                _jit.set_num_threads(count)
                start = time.perf_counter()
                step(frame)
                seconds[count] += time.perf_counter() - start
    finally:
        _jit.set_num_threads(previous)
    return [Timing(model, backend, count, len(frames), seconds[count]) for count in counts]


def fps_table(
    segmenter: nn.Sequential,
    detector: nn.Sequential,
    frames: np.ndarray,
    *,
    naive_frames: int = 2,
    threads: tuple[int, ...] = (1, 2),
) -> list[Timing]:
    """Frames per second of both models on `frames`: with the Numba kernels on every frame (once per
    thread count in `threads`, capped at `course._jit.max_threads()`, the counts taking turns frame by
    frame), and with the naive loops on the first `naive_frames` frames only (they are hundreds of times
    slower)."""
    steps = {
        "segmentation": lambda backend: lambda f: segment_frame(segmenter, f, backend),
        "detection": lambda backend: lambda f: detect_frame(detector, f, backend),
    }
    counts = tuple(sorted({min(t, _jit.max_threads()) for t in threads}))
    rows = []
    for name, make_step in steps.items():
        rows += measure_fps(make_step("numba"), frames, model=name, threads=counts)
        rows += measure_fps(make_step("naive"), frames[:naive_frames], model=name, backend="naive", warmup=0)
    return rows


def main(n_frames: int = 120, naive_frames: int = 1, load: int = 0) -> list[Timing]:
    """Print, and return, the frames per second of the shipped segmenter and detector on a video of
    test digits, with `load` CPU-bound processes running beside them (`course._load.busy_processes`)."""
    from course._load import busy_processes
    from course.apps.scenes import make_video
    from course.apps.weights import load_detector, load_segmenter
    from course.data import load_mnist

    _, (digits, labels) = load_mnist()
    video = make_video(digits, labels, n_frames, seed=5)
    with busy_processes(load):
        rows = fps_table(load_segmenter(), load_detector(), video.images, naive_frames=naive_frames)
    beside = f", {load} busy process(es) beside" if load else ""
    print(f"{n_frames} frames of {video.images.shape[2]} x {video.images.shape[3]}, one at a time{beside}")
    print(f"{'model':14s} {'kernels':8s} {'threads':>7s} {'frames':>6s} {'ms/frame':>9s} {'FPS':>8s}")
    for t in rows:
        threads = t.threads if t.backend == "numba" else "-"
        print(f"{t.model:14s} {t.backend:8s} {threads:>7} {t.frames:6d} {t.ms_per_frame:9.2f} {t.fps:8.1f}")
    return rows


def _naive_layer(layer: nn.Module, x: np.ndarray) -> np.ndarray:
    """One layer's forward pass through the naive loops (or numpy, for the elementwise layers)."""
    if isinstance(layer, nn.Conv2d):
        bias = None if layer.bias is None else layer.bias.data
        return naive.conv2d(x, layer.weight.data, bias, layer.stride, layer.padding)
    if isinstance(layer, nn.MaxPool2d):
        return naive.max_pool2d(x, layer.kernel_size, layer.stride)
    if isinstance(layer, nn.AvgPool2d):
        return naive.avg_pool2d(x, layer.kernel_size, layer.stride)
    if isinstance(layer, nn.ReLU):
        return np.maximum(x, 0)
    if isinstance(layer, nn.Upsample):
        return upsample_nearest2d(x, layer.scale_factor)
    raise TypeError(f"forward: no naive version of {layer!r}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(prog="python -m course.apps.realtime", description=main.__doc__)
    parser.add_argument("--frames", type=int, default=120, help="frames in the video")
    parser.add_argument("--load", type=int, default=0, help="CPU-bound processes to run beside it")
    arguments = parser.parse_args()
    main(arguments.frames, load=arguments.load)
