"""Applications of the course's layers: scenes of handwritten digits, semantic segmentation, object
detection, and real-time inference on a short video.

Modules (load on first use): `scenes` (the data), `boxes` (IoU, non-maximum suppression, mAP),
`segmentation` (a fully convolutional network and its metrics), `detection` (a single-shot grid
detector), `errors` (what each detection is: right, duplicate, wrong class or off target), `training`
(the loop both learn with), `weights` (the shipped trained weights), `realtime` (frames per second with
the Numba kernels and with the naive loops), `draw` (overlays and boxes).
Layering: apps imports nn, optim, functional, naive and data, never grading.
"""

from __future__ import annotations

from course._lazy import lazy_submodules

_SUBMODULES = {
    "boxes",
    "detection",
    "draw",
    "errors",
    "realtime",
    "scenes",
    "segmentation",
    "training",
    "weights",
}

__all__ = sorted(_SUBMODULES)

__getattr__ = lazy_submodules(__name__, _SUBMODULES)
