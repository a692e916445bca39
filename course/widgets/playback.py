"""The video played back with masks and boxes, and the frames per second measured live (notebook 05).

Each frame (1, H, W) goes through the segmenter and the detector on its own (a batch of one, as from a
camera), timed with time.perf_counter around the two forward passes only (not the drawing); the
figure shows this frame's time and the mean over every frame shown so far.
"""

from __future__ import annotations

import time

import ipywidgets as widgets
import numpy as np
from matplotlib.figure import Figure

from course.apps import realtime
from course.apps.draw import draw_boxes, mask_overlay
from course.widgets.figure import InteractiveFigure, new_figure

__all__ = ["video_playback"]


def video_playback(
    segmenter, detector, frames: np.ndarray, score_threshold: float = 0.4
) -> InteractiveFigure:
    """A Play button and a frame slider over frames (T, 1, H, W): the segmenter's mask and the detector's
    boxes (score >= score_threshold) on each frame, with the measured milliseconds and FPS."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1] != 1 or len(frames) == 0:
        raise ValueError(f"video_playback: frames must be (T, 1, H, W) with T >= 1, got shape {frames.shape}")
    realtime.segment_frame(segmenter, frames[0])  # warm up: the first call sets up the kernels
    realtime.detect_frame(detector, frames[0])
    seconds: list[float] = []

    def frame(index: int) -> Figure:
        image = frames[index]
        start = time.perf_counter()
        mask = realtime.segment_frame(segmenter, image)
        boxes, scores, labels = realtime.detect_frame(detector, image, score_threshold=score_threshold)
        seconds.append(time.perf_counter() - start)
        fig = new_figure(9, 4.8)
        ax_seg, ax_det = fig.subplots(1, 2)
        ax_seg.imshow(mask_overlay(image, mask))
        ax_seg.set_title("segmentation", fontsize=10)
        ax_det.imshow(image[0], cmap="gray", vmin=0, vmax=1)
        draw_boxes(ax_det, boxes, labels, scores, linewidth=1.5)
        ax_det.set_title(f"detection (score >= {score_threshold})", fontsize=10)
        for ax in (ax_seg, ax_det):
            ax.set_xticks([])
            ax.set_yticks([])
        mean = float(np.mean(seconds))
        shown = f"{len(seconds)} frame{'s' if len(seconds) > 1 else ''} shown"
        fig.suptitle(
            f"frame {index} (of 0 to {len(frames) - 1}): both networks in {1000 * seconds[-1]:.1f} ms "
            f"({1 / seconds[-1]:.0f} FPS); mean over {shown}: {1 / mean:.0f} FPS"
        )
        return fig

    slider = widgets.IntSlider(0, min=0, max=len(frames) - 1, description="frame")
    play = widgets.Play(value=0, min=0, max=len(frames) - 1, interval=100, description="play")
    widgets.jslink((play, "value"), (slider, "value"))
    return InteractiveFigure(frame, {"index": slider}, header=(play,))
