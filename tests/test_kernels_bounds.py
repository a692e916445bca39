"""Does every kernel index only inside its arrays?

The kernels trust their arguments, and Numba checks no index unless asked (NUMBA_BOUNDSCHECK=1): an index
one past a buffer reads or writes whatever memory lies there, and a wrong answer, or none, shows only
sometimes. Here a fresh process compiles every kernel with the checks on, into an empty cache of its own,
and runs each path of `course.functional` on shapes at the edges of its tiling, both dtypes, against the
naive twins: an index out of bounds raises IndexError there.
"""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = """
import numpy as np

import course.functional as F
from course import naive
from course.kernels import conv

rng = np.random.default_rng(0)
CONVS = [  # (x shape, w shape, stride, padding)
    ((1, 2, 50, 47), (2, 2, 3, 4), 1, 1),  # the sweeps: rows of one large image per unit
    ((3, 2, 40, 30), (3, 2, 5, 3), 1, 2),  # one image per unit
    ((23, 1, 8, 8), (2, 1, 3, 3), 1, 1),  # 20 images per unit, then 3
    ((5, 1, 7, 9), (2, 1, 7, 9), 1, 8),  # padding beyond the kernel: outputs that see only zeros
    ((9, 6, 12, 12), (4, 6, 5, 5), 1, 0),  # matrix products, several images per chunk
    ((2, 8, 20, 17), (3, 8, 3, 5), 2, 1),  # matrix products, stride 2
    ((3, 2, 11, 10), (3, 2, 3, 2), (2, 3), (1, 2)),  # direct loops
]
assert (3 * 2 * 5 * 3 < conv.GEMM_DEPTH) and (6 * 5 * 5 >= conv.GEMM_DEPTH)
POOLS = [((2, 3, 9, 8), 2, 2), ((2, 3, 9, 8), 3, 2), ((1, 2, 7, 7), (2, 3), (1, 2)), ((1, 2, 5, 41), 2, 2)]


def pair(value):
    return value if isinstance(value, tuple) else (value, value)


for dtype, tolerance in ((np.float32, 1e-4), (np.float64, 1e-10)):
    for x_shape, w_shape, stride, padding in CONVS:
        x, w = rng.standard_normal(x_shape).astype(dtype), rng.standard_normal(w_shape).astype(dtype)
        b = rng.standard_normal(w_shape[0]).astype(dtype)
        z = F.conv2d(x, w, b, stride, padding)
        expected = naive.conv2d(x, w, b, pair(stride), pair(padding))
        np.testing.assert_allclose(z, expected, rtol=tolerance, atol=tolerance)
        grad = rng.standard_normal(z.shape).astype(dtype)
        got = F.conv2d_backward(grad, x, w, stride, padding)
        for g, e in zip(got, naive.conv2d_backward(grad, x, w, pair(stride), pair(padding)), strict=True):
            np.testing.assert_allclose(g, e, rtol=tolerance, atol=tolerance * 10)
    for x_shape, kernel, stride in POOLS:
        x = rng.standard_normal(x_shape).astype(dtype)
        for op, back, twin, twin_back in (
            (F.max_pool2d, F.max_pool2d_backward, naive.max_pool2d, naive.max_pool2d_backward),
            (F.avg_pool2d, F.avg_pool2d_backward, naive.avg_pool2d, naive.avg_pool2d_backward),
        ):
            y = op(x, kernel, stride)
            np.testing.assert_allclose(y, twin(x, pair(kernel), pair(stride)), rtol=tolerance)
            grad = rng.standard_normal(y.shape).astype(dtype)
            got, expected = back(grad, x, kernel, stride), twin_back(grad, x, pair(kernel), pair(stride))
            np.testing.assert_allclose(got, expected, rtol=tolerance, atol=tolerance)
    x, grad = rng.standard_normal((2, 3, 5, 7)).astype(dtype), rng.standard_normal((2, 3, 5, 7)).astype(dtype)
    np.testing.assert_array_equal(F.relu(x), np.where(x < 0, 0, x))
    np.testing.assert_array_equal(F.relu_backward(grad, x), np.where(x <= 0, 0, grad))
print("inside")
"""


def test_every_kernel_stays_inside_its_arrays(tmp_path):
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    command = [sys.executable, "-c", SCRIPT]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0 and done.stdout.strip() == "inside", done.stderr[-4000:]
