"""Nearest-neighbour upsampling, forward and backward: the layer that brings a segmentation network's
coarse feature maps back to full resolution.

With an integer scale factor s, every input pixel becomes an s x s block of copies:

    y[n, ch, r, c] = x[n, ch, r // s, c // s],      y (N, C, H*s, W*s) from x (N, C, H, W).

Each input feeds the s*s outputs of its block, so its gradient is their sum:

    dJ/dx[n, ch, i, j] = sum_{a, b < s} dJ/dy[n, ch, i*s + a, j*s + b].

Both are plain reshapes of numpy arrays (no loop, no Numba needed). `Upsample` is the layer; the two
functions are its forward and backward in functional style. Layering: imports `course._args` and
`course.nn.module`.
"""

from __future__ import annotations

import numpy as np

from course import _args
from course.nn.module import Module, check_grad, check_input

__all__ = ["Upsample", "upsample_nearest2d", "upsample_nearest2d_backward"]


class Upsample(Module):
    """Nearest-neighbour upsampling by an integer `scale_factor` s, as torch.nn.Upsample(scale_factor=s,
    mode="nearest"): x (N, C, H, W) -> y (N, C, H*s, W*s) with y[n, ch, r, c] = x[n, ch, r // s, c // s].
    No parameters; backward sums the gradient over each s x s block.

    The arguments are torch's, in torch's order, (size, scale_factor, mode), of which only scale_factor
    (an int, 2 by default where torch has no default) and mode="nearest" are supported: `Upsample(2)` is
    torch's size=2, a 2 x 2 output, so it is refused rather than read as a scale; write
    `Upsample(scale_factor=2)`.
    """

    def __init__(self, size=None, scale_factor: int = 2, mode: str = "nearest"):
        if size is not None:
            raise ValueError(
                f"Upsample: size is not supported (only scale_factor, an int), got size={size!r}; torch's "
                "first argument is size, the output's height and width, so to scale by s write "
                "Upsample(scale_factor=s)"
            )
        if mode != "nearest":
            raise ValueError(f"Upsample: mode must be 'nearest', the only mode here, got {mode!r}")
        self.scale_factor = _args.positive_int("Upsample", "scale_factor", scale_factor)
        self._x, self._out = None, None

    def forward(self, x: np.ndarray) -> np.ndarray:
        check_input(self, x, None, "(N, C, H, W)", (None, None, None, None))
        y = upsample_nearest2d(x, self.scale_factor)
        self._x, self._out = x, (y.shape, y.dtype)
        return y

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        delta = check_grad(self, grad_out, self._out)
        return upsample_nearest2d_backward(delta, self._x, self.scale_factor)

    def extra_repr(self) -> str:
        return f"scale_factor={self.scale_factor}, mode='nearest'"


def upsample_nearest2d(x: np.ndarray, scale_factor: int) -> np.ndarray:
    """x (N, C, H, W) -> y (N, C, H*s, W*s), each pixel repeated into an s x s block (s = scale_factor)."""
    x = _args.float_array("upsample_nearest2d", "x", x, 4, "(N, C, H, W)")
    s = _args.positive_int("upsample_nearest2d", "scale_factor", scale_factor)
    n, c, h, w = x.shape
    shape = (n, c, h * s, w * s)
    _args.array_fits("upsample_nearest2d", "scale_factor", scale_factor, "an output", shape, x.dtype)
    blocks = np.broadcast_to(x[:, :, :, None, :, None], (n, c, h, s, w, s))
    return blocks.copy().reshape(shape)  # a copy even for s = 1, where blocks is a read-only view of x


def upsample_nearest2d_backward(grad_out: np.ndarray, x: np.ndarray, scale_factor: int) -> np.ndarray:
    """dJ/dx (N, C, H, W) from grad_out = dJ/dy (N, C, H*s, W*s): the sum over each s x s block."""
    x = _args.float_array("upsample_nearest2d_backward", "x", x, 4, "(N, C, H, W)")
    s = _args.positive_int("upsample_nearest2d_backward", "scale_factor", scale_factor)
    n, c, h, w = x.shape
    expected, layout = (n, c, h * s, w * s), "(N, C, H*s, W*s)"
    delta = _args.grad_out_array("upsample_nearest2d_backward", grad_out, x, expected, layout)
    return delta.reshape(n, c, h, s, w, s).sum(axis=(3, 5))
