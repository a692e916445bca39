"""Interactive figures for the notebooks: controls (ipywidgets) that redraw a matplotlib figure.

Each module holds one figure and one public function that returns an `InteractiveFigure`; displayed in
JupyterLab it is live, and executed without a browser (nbval, nbconvert, CI) its output still holds a
PNG of the first state, so the cell shows a figure and raises nothing.

Modules (load on first use): `conv_explorer` (02: size, kernel, stride, padding), `multichannel` (02: a
3-channel convolution step by step), `receptive_field` (01: the field on the photo against a probe),
`learning_rate` (03: gradient descent on the cost valley), `pool_router` (04: where delta goes through
pooling), `detections` (05: score and NMS thresholds), `playback` (05: the video with masks, boxes and
measured frames per second). `figure` is the shared machinery, `grid` draws tables of numbers.
Layering: widgets imports functional, nn, apps and data, never grading or grader; nothing imports widgets.
"""

from __future__ import annotations

from course._lazy import lazy_submodules

_SUBMODULES = {
    "conv_explorer",
    "detections",
    "figure",
    "grid",
    "learning_rate",
    "multichannel",
    "playback",
    "pool_router",
    "receptive_field",
}

__all__ = sorted(_SUBMODULES)

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
