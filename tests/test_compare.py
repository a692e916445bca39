"""The closeness every array check uses is the one the README documents: float64 rtol 1e-10, float32 rtol
1e-4, plus an absolute term of 1e-12 (float64) or 1e-5 (float32) times the largest entry (at least 1).
The corpus of wrong answers is wrong by far more than this; these answers sit at the border."""

from __future__ import annotations

import numpy as np
import pytest

from course.functional import avg_pool2d
from course.grading import check
from course.grading.compare import compare_array

DOCUMENTED = {np.float64: (1e-10, 1e-12), np.float32: (1e-4, 1e-5)}  # (rtol, atol), README and docstring


@pytest.mark.parametrize("dtype", DOCUMENTED)
@pytest.mark.parametrize("k, passes", [(0.5, True), (3.0, False)])
def test_an_entry_passes_within_the_documented_relative_tolerance_and_fails_beyond(dtype, k, passes):
    rtol, atol = DOCUMENTED[dtype]
    expected = np.array([[10.0, 5.0, 0.0]], dtype=dtype)
    got = expected.astype(np.float64).copy()
    got[0, 0] *= 1 + k * (rtol + atol)  # the largest entry: its own rtol plus atol * 10
    fraction, _ = compare_array(expected, got.astype(dtype))
    assert (fraction == 1.0) is passes


@pytest.mark.parametrize("dtype", DOCUMENTED)
@pytest.mark.parametrize("k, passes", [(0.5, True), (3.0, False)])
def test_an_entry_near_zero_passes_within_the_absolute_term_and_fails_beyond(dtype, k, passes):
    rtol, atol = DOCUMENTED[dtype]
    expected = np.array([[10.0, 5.0, 0.0]], dtype=dtype)
    got = expected.copy()
    got[0, 2] = k * atol * 10  # the absolute term scales with the largest entry, 10
    fraction, _ = compare_array(expected, got)
    assert (fraction == 1.0) is passes


def test_an_almost_right_pooling_loses_its_points():
    def slightly_large(x, kernel_size, stride=None):  # 0.05% too large: float16 rounding is about this
        return avg_pool2d(x, kernel_size, stride) * 1.0005

    assert check("avg_pool2d", slightly_large).status == "failed"
