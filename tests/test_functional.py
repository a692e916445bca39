"""Are the fast kernels in `course.functional` right? Checked against the naive specification, PyTorch,
finite differences and examples worked by hand from the lecture."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import conv_cases, pool_cases

from course import _jit, naive, nn
from course import functional as F
from course._scratch import scratch
from course.gradcheck import gradcheck
from course.kernels import conv as conv_kernels
from course.kernels.conv import BLOCK

SETTINGS = settings(max_examples=30, deadline=None)


def tolerance(dtype) -> dict:
    """float32 sums in a different order differ in the last bits; float64 ones far less."""
    return {"rtol": 1e-4, "atol": 1e-4} if np.dtype(dtype) == np.float32 else {"rtol": 1e-10, "atol": 1e-10}


def snapshot(*arrays):
    return [None if a is None else a.copy() for a in arrays]


def assert_unchanged(before, after):
    for old, new in zip(before, after, strict=True):
        if old is not None:
            np.testing.assert_array_equal(new, old)


def assert_fresh(outputs, inputs, dtype):
    """Every output has the input's dtype and shares no memory with any input."""
    for out in outputs:
        assert out.dtype == dtype
        for inp in inputs:
            if inp is not None:
                assert not np.shares_memory(out, inp)


# --- fast == naive over generated geometries -------------------------------------------------------


@SETTINGS
@given(conv_cases())
def test_conv2d_forward_and_backward_match_the_naive_specification(case):
    assert_conv2d_matches_naive(case)


@SETTINGS
@given(conv_cases())
def test_the_matrix_product_path_matches_the_naive_specification_too(case):
    """Every generated geometry again, through im2col + BLAS one image per product (the shapes here
    have too few taps, C * KH * KW, to take that path by themselves)."""
    with mock.patch.object(conv_kernels, "GEMM_DEPTH", 1), mock.patch.object(conv_kernels, "COLS_BYTES", 1):
        assert_conv2d_matches_naive(case)


def test_a_layer_with_many_taps_matches_the_naive_specification_in_chunks_of_images():
    """C * KH * KW >= GEMM_DEPTH takes the matrix products, here over images in chunks of 2, 2 and 1."""
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal((5, 12, 9, 8)), rng.standard_normal((3, 12, 3, 3)), rng.standard_normal(3)
    assert 12 * 3 * 3 >= conv_kernels.GEMM_DEPTH
    stride, padding = (2, 1), (1, 0)
    two_images = 2 * 12 * 3 * 3 * 5 * 6 * 8  # bytes of 2 images' cols: 5 x 6 outputs, float64
    with mock.patch.object(conv_kernels, "COLS_BYTES", two_images):
        y = F.conv2d(x, w, b, stride, padding)
        np.testing.assert_allclose(y, naive.conv2d(x, w, b, stride, padding), rtol=1e-10, atol=1e-10)
        grad_out = rng.standard_normal(y.shape)
        got = F.conv2d_backward(grad_out, x, w, stride, padding)
    for g, e in zip(got, naive.conv2d_backward(grad_out, x, w, stride, padding), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


def threaded(threads: int = 3):
    """Every kernel call shared among `threads` threads, and the backward's halves run at once, whatever
    the size (and the number of cores)."""
    return mock.patch.multiple(_jit, PARALLEL_WORK=0, PAIR_WORK=0, _threads=threads, _max_threads=threads)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("stride", [1, 2])
def test_products_in_blocks_of_columns_match_the_naive_specification(stride, dtype):
    """Products with few rows and a shallow depth go in blocks of columns (`functional._product`): here
    blocks of 16 columns, the last one shorter, in the forward's w @ cols and the backward's w.T @ d."""
    rng = np.random.default_rng(15)
    x, w = rng.standard_normal((3, 6, 9, 11)).astype(dtype), rng.standard_normal((4, 6, 5, 5)).astype(dtype)
    b = rng.standard_normal(4).astype(dtype)
    depth = 4 * 6 * 5 * 5  # rows * depth of both products
    with mock.patch.multiple(conv_kernels, SMALL_PRODUCT=16 * depth, SMALL_DEPTH=depth):
        z = F.conv2d(x, w, b, stride, 1)
        grad_out = rng.standard_normal(z.shape).astype(dtype)
        grads = F.conv2d_backward(grad_out, x, w, stride, 1)
    assert z.shape[2] * z.shape[3] * 3 % 16  # one chunk of 3 images; the last block is shorter
    np.testing.assert_allclose(z, naive.conv2d(x, w, b, (stride, stride), (1, 1)), **tolerance(dtype))
    for got, want in zip(grads, naive.conv2d_backward(grad_out, x, w, (stride, stride), (1, 1)), strict=True):
        np.testing.assert_allclose(got, want, **tolerance(dtype))


def test_blocks_of_columns_hold_multiples_of_16_and_start_on_64_byte_boundaries(monkeypatch):
    a = np.ones((4, 6), dtype=np.float32)
    b = scratch("blocks_test", (6, 100), np.float32)
    b[:] = np.arange(600, dtype=np.float32).reshape(6, 100)
    out = np.empty((4, 100), dtype=np.float32)
    starts, matmul = [], np.matmul

    def spy(left, right, out):
        starts.append((right.ctypes.data - b.ctypes.data) // 4)
        assert right.ctypes.data % 64 == 0
        return matmul(left, right, out=out)

    monkeypatch.setattr(conv_kernels, "SMALL_PRODUCT", 24 * 37)  # 37 columns: blocks of 32
    monkeypatch.setattr(F.np, "matmul", spy)
    F._product(a, b, out)
    monkeypatch.undo()
    assert starts == [0, 32, 64, 96]
    np.testing.assert_array_equal(out, a @ b)


@settings(max_examples=15, deadline=None)
@given(conv_cases(), st.booleans())
def test_threaded_kernels_match_the_naive_specification(case, gemm):
    """The same answers when the tasks are shared among threads (sweeps, direct loops, or matrix
    products with one image per chunk, so that chunks and their partial grad_w go to different threads)."""
    depth, cols = (1, 1) if gemm else (conv_kernels.GEMM_DEPTH, conv_kernels.COLS_BYTES)
    with threaded(), mock.patch.multiple(conv_kernels, GEMM_DEPTH=depth, COLS_BYTES=cols):
        assert_conv2d_matches_naive(case)


@settings(max_examples=15, deadline=None)
@given(pool_cases())
def test_threaded_pooling_matches_the_naive_specification(case):
    with threaded():
        assert_pooling_matches_naive(case)


def assert_conv2d_matches_naive(case):
    x, w, b = case.x, case.w, case.b
    before = snapshot(x, w, b)
    y = F.conv2d(x, w, b, stride=case.stride, padding=case.padding)
    expected = naive.conv2d(x, w, b, case.stride_pair, case.padding_pair)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, **tolerance(x.dtype))

    grad_out = np.random.default_rng(0).standard_normal(y.shape).astype(x.dtype)
    grads = F.conv2d_backward(grad_out, x, w, stride=case.stride, padding=case.padding)
    expected_grads = naive.conv2d_backward(grad_out, x, w, case.stride_pair, case.padding_pair)
    for got, want, like in zip(grads, expected_grads, (x, w, w[:, 0, 0, 0]), strict=True):
        assert got.shape == like.shape
        np.testing.assert_allclose(got, want, **tolerance(x.dtype))
    assert_unchanged(before, (x, w, b))
    assert_fresh((y, *grads), (x, w, b, grad_out), x.dtype)

    # without dJ/dx (a first layer): the same parameter gradients, and no grad_x computed
    grad_x, *parameter_grads = F.conv2d_backward(grad_out, x, w, case.stride, case.padding, input_grad=False)
    assert grad_x is None
    for got, want in zip(parameter_grads, expected_grads[1:], strict=True):
        np.testing.assert_allclose(got, want, **tolerance(x.dtype))
    assert_fresh(parameter_grads, (x, w, b, grad_out), x.dtype)


@SETTINGS
@given(pool_cases())
def test_pooling_forward_and_backward_match_the_naive_specification(case):
    assert_pooling_matches_naive(case)


def assert_pooling_matches_naive(case):
    x = case.x
    grad_out = None
    for fast, fast_back, slow, slow_back in (
        (F.max_pool2d, F.max_pool2d_backward, naive.max_pool2d, naive.max_pool2d_backward),
        (F.avg_pool2d, F.avg_pool2d_backward, naive.avg_pool2d, naive.avg_pool2d_backward),
    ):
        before = snapshot(x)
        y = fast(x, case.kernel_size, case.stride)
        np.testing.assert_allclose(y, slow(x, case.kernel_pair, case.stride_pair), **tolerance(x.dtype))
        if grad_out is None:
            grad_out = np.random.default_rng(1).standard_normal(y.shape).astype(x.dtype)
        before_grad = snapshot(grad_out)
        grad_x = fast_back(grad_out, x, case.kernel_size, case.stride)
        expected = slow_back(grad_out, x, case.kernel_pair, case.stride_pair)
        np.testing.assert_allclose(grad_x, expected, **tolerance(x.dtype))
        assert_unchanged(before + before_grad, (x, grad_out))
        assert_fresh((y, grad_x), (x, grad_out), x.dtype)


def test_non_contiguous_inputs_give_the_same_answer_as_contiguous_ones():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3, 10, 14))[:, :, ::2, ::2]  # (2, 3, 5, 7), strided view
    w = rng.standard_normal((3, 2, 3, 4)).transpose(1, 0, 2, 3)  # (2, 3, 3, 4), transposed view
    y = F.conv2d(x, w, None, stride=(1, 2), padding=(1, 0))
    np.testing.assert_allclose(y, F.conv2d(x.copy(), w.copy(), None, stride=(1, 2), padding=(1, 0)))
    grad_out = rng.standard_normal((y.shape[0], y.shape[1], y.shape[3], y.shape[2])).transpose(0, 1, 3, 2)
    got = F.conv2d_backward(grad_out, x, w, stride=(1, 2), padding=(1, 0))
    want = F.conv2d_backward(grad_out.copy(), x.copy(), w.copy(), stride=(1, 2), padding=(1, 0))
    for g, e in zip(got, want, strict=True):
        np.testing.assert_allclose(g, e)
    np.testing.assert_array_equal(F.max_pool2d(x, 2), F.max_pool2d(x.copy(), 2))


@pytest.mark.parametrize("gemm", [False, True], ids=["sweeps", "matrix products"])
def test_results_stay_intact_when_the_next_call_reuses_the_scratch_arrays(gemm):
    """The kernels' layouts and columns are per-thread scratch arrays reused from call to call (a
    different x, then a different shape, in chunks of two images and of one); no result may live in them."""
    rng = np.random.default_rng(12)
    x, w = rng.standard_normal((3, 2, 7, 6)), rng.standard_normal((4, 2, 3, 3))
    grad_out = rng.standard_normal((3, 4, 7, 6))
    depth = 1 if gemm else conv_kernels.GEMM_DEPTH
    cols = 2 * (2 * 3 * 3) * (7 * 6) * 8  # bytes of two images' columns: 18 taps, 7 x 6 outputs, float64
    with threaded(2), mock.patch.multiple(conv_kernels, GEMM_DEPTH=depth, COLS_BYTES=cols):
        first = (F.conv2d(x, w, None, 1, 1), *F.conv2d_backward(grad_out, x, w, 1, 1))
        kept = snapshot(*first)
        F.conv2d_backward(rng.standard_normal((3, 4, 7, 6)), rng.standard_normal(x.shape), w, 1, 1)
        F.conv2d(rng.standard_normal((5, 2, 9, 9)), w, None, 1, 1)
        F.conv2d_backward(rng.standard_normal((5, 4, 7, 7)), rng.standard_normal((5, 2, 9, 9)), w, 1, 0)
    assert_unchanged(kept, first)
    ones = (1, 1)
    expected = (naive.conv2d(x, w, None, ones, ones), *naive.conv2d_backward(grad_out, x, w, ones, ones))
    for got, want in zip(first, expected, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    # One image and 1 x 1 kernels: the grid the sweeps write is already laid out as the output is
    x, w = rng.standard_normal((1, 3, 4, 4)), rng.standard_normal((3, 3, 1, 1))
    z, (grad_x, _, _) = F.conv2d(x, w), F.conv2d_backward(np.ones((1, 3, 4, 4)), x, w)
    kept = snapshot(z, grad_x)
    F.conv2d_backward(rng.standard_normal((1, 3, 4, 4)), rng.standard_normal(x.shape), w)
    assert_unchanged(kept, (z, grad_x))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scratch_arrays_start_on_a_64_byte_boundary(dtype):
    """OpenBLAS's AVX-512 kernels read a matrix that is not 64-byte aligned more slowly (numpy's own
    allocations are 16-byte aligned): every scratch array starts on a cache line, small or large (the
    large ones come from mmap), first asked for or grown, in the caller's thread or a helper's."""
    sizes = [(1,), (3, 5), (100, 1001), (7, 300, 301), (2, 3)]  # grows, then reuses the grown buffer
    starts = [scratch("alignment test", shape, dtype).ctypes.data for shape in sizes]
    with ThreadPoolExecutor(1) as helper:
        starts.append(helper.submit(lambda: scratch("alignment test", (999, 37), dtype).ctypes.data).result())
    assert [start % 64 for start in starts] == [0] * len(starts)
    array = scratch("alignment test", (4, 6), dtype)
    assert array.flags.c_contiguous and array.dtype == dtype and array.shape == (4, 6)


@pytest.mark.parametrize(
    "x_shape, w_shape, padding",
    [
        ((1, 2, 50, 47), (2, 2, 3, 4), 1),  # a 52 x 49 grid, more than BLOCK points: rows of one image
        ((3, 2, 40, 30), (3, 2, 5, 3), 2),  # 44 x 34 = 1,496 points: one image at a time
        ((23, 1, 8, 8), (2, 1, 3, 3), 1),  # 10 x 10 = 100 points: 20 images at a time, then 3
    ],
)
def test_the_sweeps_units_of_images_and_rows_match_the_naive_specification(x_shape, w_shape, padding):
    """The forward sweep and dJ/dx (the forward sweep of delta, its padding cut away) work on about
    BLOCK grid points at a time: whole images together, or a few rows of a large one. The edges between
    units, and the last unit's fewer images or rows, must not show."""
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    grid = (x_shape[2] + 2 * padding) * (x_shape[3] + 2 * padding)
    assert (grid > BLOCK) == (x_shape[0] == 1) and (BLOCK // grid > 1) == (x_shape[0] == 23)
    z = F.conv2d(x, w, b, 1, padding)
    np.testing.assert_allclose(z, naive.conv2d(x, w, b, (1, 1), (padding, padding)), rtol=1e-10)
    grad_out = rng.standard_normal(z.shape)
    got = F.conv2d_backward(grad_out, x, w, 1, padding)
    for g, e in zip(got, naive.conv2d_backward(grad_out, x, w, (1, 1), (padding, padding)), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("width", [conv_kernels.SHORT_ROW - 3, conv_kernels.SHORT_ROW - 2])
def test_the_backward_spreads_delta_right_on_both_sides_of_short_rows(width):
    """The sweeps' backward lays delta out on the padded grid (Wp = W + 2 points per row here) by
    zeroing the whole grid first when rows are short (Wp < SHORT_ROW), row by row otherwise, in a
    scratch array that an earlier call left full of NaN here: every point that is not delta's must
    be zeroed."""
    rng = np.random.default_rng(width)
    x, w = rng.standard_normal((3, 2, 5, width)), rng.standard_normal((4, 2, 3, 3))
    assert (width + 2 < conv_kernels.SHORT_ROW) == (width == conv_kernels.SHORT_ROW - 3)
    grad_out = rng.standard_normal((3, 4, 5, width))
    scratch("spread", (100_000,), x.dtype).fill(np.nan)  # this thread's, where the backward runs
    got = F.conv2d_backward(grad_out, x, w, 1, 1)
    for g, e in zip(got, naive.conv2d_backward(grad_out, x, w, (1, 1), (1, 1)), strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)


def test_mixed_dtypes_follow_x():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w, b = rng.standard_normal((3, 2, 2, 2)), rng.standard_normal(3)  # float64
    y = F.conv2d(x, w, b)
    assert y.dtype == np.float32
    grads = F.conv2d_backward(rng.standard_normal(y.shape), x, w)  # float64 grad_out
    assert [g.dtype for g in grads] == [np.float32] * 3


# --- finite differences, float64, every entry ------------------------------------------------------


@pytest.mark.parametrize(
    "shape_x, shape_w, stride, padding",
    [
        ((2, 2, 5, 4), (3, 2, 3, 2), 1, 0),
        ((1, 3, 6, 7), (2, 3, 3, 3), (2, 1), (1, 2)),
        ((2, 1, 7, 5), (2, 1, 2, 3), (3, 2), (1, 0)),
    ],
)
def test_conv2d_backward_equals_finite_differences(shape_x, shape_w, stride, padding):
    rng = np.random.default_rng(4)
    x, w, b = rng.standard_normal(shape_x), rng.standard_normal(shape_w), rng.standard_normal(shape_w[0])
    y = F.conv2d(x, w, b, stride, padding)
    weights = rng.standard_normal(y.shape)  # J = sum(weights * z), so dJ/dz = weights

    def loss(x, w, b):
        return float(np.sum(weights * F.conv2d(x, w, b, stride, padding)))

    grad_x, grad_w, grad_b = F.conv2d_backward(weights, x, w, stride, padding)
    result = gradcheck(loss, {"x": x, "w": w, "b": b}, {"x": grad_x, "w": grad_w, "b": grad_b})
    assert result, str(result)
    assert result.checked == x.size + w.size + b.size


@pytest.mark.parametrize("kernel_size, stride", [(2, None), ((3, 2), (1, 2)), (3, 1)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_backward_equals_finite_differences(op, kernel_size, stride):
    rng = np.random.default_rng(5)
    x = rng.permutation(2 * 2 * 6 * 7).reshape(2, 2, 6, 7) * 0.1  # distinct values: max is differentiable
    forward, backward = {
        "max": (F.max_pool2d, F.max_pool2d_backward),
        "avg": (F.avg_pool2d, F.avg_pool2d_backward),
    }[op]
    weights = rng.standard_normal(forward(x, kernel_size, stride).shape)
    grad_x = backward(weights, x, kernel_size, stride)
    result = gradcheck(
        lambda x: float(np.sum(weights * forward(x, kernel_size, stride))), {"x": x}, {"x": grad_x}
    )
    assert result, str(result)


# --- the lecture's examples, worked by hand --------------------------------------------------------

A3 = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # [[1, 2, 3], [4, 5, 6], [7, 8, 9]]
W2 = np.array([[1.0, 2.0], [3.0, 4.0]]).reshape(1, 1, 2, 2)


def test_3x3_input_with_2x2_kernel_by_hand():
    # z[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37; a flipped kernel (true convolution) would give 23.
    expected = np.array([[37.0, 47.0], [67.0, 77.0]])
    np.testing.assert_array_equal(F.conv2d(A3, W2)[0, 0], expected)
    np.testing.assert_array_equal(naive.conv2d(A3, W2, None, (1, 1), (0, 0))[0, 0], expected)


def test_3x3_input_with_2x2_kernel_backward_by_hand():
    grad_x, grad_w, grad_b = F.conv2d_backward(np.ones((1, 1, 2, 2)), A3, W2)
    # dJ/dw[j, i] = sum of the 2x2 window of a starting at (j, i): 1+2+4+5, 2+3+5+6, 4+5+7+8, 5+6+8+9.
    np.testing.assert_array_equal(grad_w[0, 0], [[12.0, 16.0], [24.0, 28.0]])
    # dJ/da[r, c] = sum of the kernel entries that touch (r, c): the full correlation with flipped w.
    np.testing.assert_array_equal(grad_x[0, 0], [[1.0, 3.0, 2.0], [4.0, 10.0, 6.0], [3.0, 7.0, 4.0]])
    np.testing.assert_array_equal(grad_b, [4.0])


@pytest.mark.parametrize("gemm", [False, True], ids=["sweeps", "matrix products"])
def test_padding_beyond_the_kernel_by_hand(gemm):
    """Padding 2 around a 2x2 kernel and a 1x1 image (PyTorch accepts it): z[r, c] = b + sum_{j, i}
    w[j, i] * x[r + j - 2, c + i - 2], so outputs whose window holds only added zeros are the bias."""
    x, w, b = np.array([[[[2.0]]]]), W2, np.array([0.5])
    depth = 1 if gemm else conv_kernels.GEMM_DEPTH
    with mock.patch.object(conv_kernels, "GEMM_DEPTH", depth):
        z = F.conv2d(x, w, b, padding=2)
        grad_x, grad_w, grad_b = F.conv2d_backward(np.ones_like(z), x, w, padding=2)
    # 1 + 2*2 - 2 + 1 = 4 outputs a side; only (1, 1) .. (2, 2) have the pixel in their window, meeting
    # it with the taps w[1, 1] = 4, w[1, 0] = 3, w[0, 1] = 2 and w[0, 0] = 1.
    expected = np.full((4, 4), 0.5)
    expected[1:3, 1:3] += 2.0 * np.array([[4.0, 3.0], [2.0, 1.0]])
    np.testing.assert_array_equal(z[0, 0], expected)
    np.testing.assert_array_equal(naive.conv2d(x, w, b, (1, 1), (2, 2))[0, 0], expected)
    np.testing.assert_array_equal(grad_x, [[[[10.0]]]])  # every tap meets the pixel once
    np.testing.assert_array_equal(grad_w, np.full((1, 1, 2, 2), 2.0))
    np.testing.assert_array_equal(grad_b, [16.0])


SOBEL_X = np.array([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sobel_finds_a_vertical_step_edge(dtype):
    image = np.zeros((1, 1, 5, 6), dtype=dtype)
    image[..., 3:] = 1.0  # dark left half, bright right half: the edge between columns 2 and 3
    kernels = np.stack([SOBEL_X, SOBEL_X.T])[:, None].astype(dtype)  # vertical, horizontal edges
    z = F.conv2d(image, kernels)
    # Each row of a window sees (right column - left column) * (1 + 2 + 1): 4 where the window
    # straddles the edge, 0 elsewhere; the horizontal Sobel sees no edge at all.
    np.testing.assert_array_equal(z[0, 0], np.tile([0.0, 4.0, 4.0, 0.0], (3, 1)))
    np.testing.assert_array_equal(z[0, 1], np.zeros((3, 4)))
    assert z.dtype == dtype


POOL_X = np.array([[1.0, 3.0, 2.0, 1.0], [4.0, 2.0, 0.0, 1.0], [5.0, 6.0, 1.0, 2.0], [7.0, 8.0, 3.0, 4.0]])
DELTA = np.array([[1.0, 2.0], [3.0, 4.0]])


def test_2x2_max_pooling_by_hand():
    x = POOL_X[None, None]
    np.testing.assert_array_equal(F.max_pool2d(x, 2)[0, 0], [[4.0, 2.0], [8.0, 4.0]])
    expected = np.zeros((4, 4))
    expected[1, 0], expected[0, 2], expected[3, 1], expected[3, 3] = DELTA.ravel()
    np.testing.assert_array_equal(F.max_pool2d_backward(DELTA[None, None], x, 2)[0, 0], expected)


def test_2x2_average_pooling_by_hand():
    x = POOL_X[None, None]
    # window sums 1+3+4+2 = 10, 2+1+0+1 = 4, 5+6+7+8 = 26, 1+2+3+4 = 10, each divided by 4
    np.testing.assert_array_equal(F.avg_pool2d(x, 2)[0, 0], [[2.5, 1.0], [6.5, 2.5]])
    expected = np.kron(DELTA / 4, np.ones((2, 2)))  # each window's delta spread evenly
    np.testing.assert_array_equal(F.avg_pool2d_backward(DELTA[None, None], x, 2)[0, 0], expected)


def test_max_pool_backward_accumulates_where_windows_overlap():
    x = -np.ones((1, 1, 4, 4))
    x[0, 0, 1, 1] = 5.0  # inside all four 3x3 windows of a stride-1 pooling
    grad_x = F.max_pool2d_backward(DELTA[None, None], x, 3, 1)
    expected = np.zeros((4, 4))
    expected[1, 1] = DELTA.sum()  # 1 + 2 + 3 + 4, not just the last window's 4
    np.testing.assert_array_equal(grad_x[0, 0], expected)


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order():
    x = np.ones((1, 1, 4, 4), dtype=np.float32)
    grad_x = F.max_pool2d_backward(DELTA[None, None].astype(np.float32), x, 2)
    expected = np.zeros((4, 4), dtype=np.float32)
    expected[0::2, 0::2] = DELTA  # the top-left corner of each window
    np.testing.assert_array_equal(grad_x[0, 0], expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 2), (2, 1), ((2, 3), (1, 2))])
def test_max_pooling_with_nans_and_ties_matches_the_naive_specification(kernel, stride, dtype):
    """2 x 2 windows with stride 2 run kernels of their own (odd sizes leave a row and a column out);
    a NaN anywhere in a window is its maximum, and its gradient goes to the window's first NaN."""
    rng = np.random.default_rng(7)
    for height, width in [(6, 8), (7, 9), (2, 2), (5, 41)]:  # 20 windows a row: vectorised loops run
        x = rng.integers(-2, 3, (3, 2, height, width)).astype(dtype)  # many ties
        x[rng.random(x.shape) < 0.1] = np.nan
        x[0, 0, 0, 1] = np.nan  # a NaN after the window's first element
        kernel_pair, stride_pair = np.broadcast_to(kernel, 2), np.broadcast_to(stride, 2)
        if kernel_pair[0] > height or kernel_pair[1] > width:
            continue
        y = F.max_pool2d(x, kernel, stride)
        np.testing.assert_array_equal(y, naive.max_pool2d(x, tuple(kernel_pair), tuple(stride_pair)))
        assert np.isnan(y[0, 0, 0, 0]), "the NaN at (0, 1) must make the first window's maximum NaN"
        grad_out = rng.standard_normal(y.shape).astype(dtype)
        grad_out.flat[:4] = [np.inf, -np.inf, np.nan, -0.0][: grad_out.size]  # 0 where not the maximum
        with np.errstate(invalid="ignore"):  # inf + -inf in a place two windows share: NaN, as in numpy
            expected = naive.max_pool2d_backward(grad_out, x, tuple(kernel_pair), tuple(stride_pair))
        np.testing.assert_array_equal(F.max_pool2d_backward(grad_out, x, kernel, stride), expected)


# --- PyTorch ---------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(conv_cases(max_size=8))
def test_conv2d_matches_pytorch(case):
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(case.x).requires_grad_()
    w = torch.from_numpy(case.w).requires_grad_()
    b = None if case.b is None else torch.from_numpy(case.b).requires_grad_()
    y = torch.nn.functional.conv2d(x, w, b, stride=case.stride_pair, padding=case.padding_pair)
    grad_out = np.random.default_rng(6).standard_normal(tuple(y.shape)).astype(case.x.dtype)
    y.backward(torch.from_numpy(grad_out))
    tol = tolerance(case.x.dtype)
    ours = F.conv2d(case.x, case.w, case.b, case.stride, case.padding)
    np.testing.assert_allclose(ours, y.detach().numpy(), **tol)
    grad_x, grad_w, grad_b = F.conv2d_backward(grad_out, case.x, case.w, case.stride, case.padding)
    np.testing.assert_allclose(grad_x, x.grad.numpy(), **tol)
    np.testing.assert_allclose(grad_w, w.grad.numpy(), **tol)
    if b is not None:
        np.testing.assert_allclose(grad_b, b.grad.numpy(), **tol)


@settings(max_examples=25, deadline=None)
@given(pool_cases(max_size=8))
def test_pooling_matches_pytorch_ties_included(case):
    torch = pytest.importorskip("torch")
    functions = {
        "max": (F.max_pool2d, F.max_pool2d_backward, torch.nn.functional.max_pool2d),
        "avg": (F.avg_pool2d, F.avg_pool2d_backward, torch.nn.functional.avg_pool2d),
    }
    for forward, backward, reference in functions.values():
        x = torch.from_numpy(case.x).requires_grad_()
        y = reference(x, case.kernel_pair, case.stride_pair)
        grad_out = np.random.default_rng(7).standard_normal(tuple(y.shape)).astype(case.x.dtype)
        y.backward(torch.from_numpy(grad_out))
        tol = tolerance(case.x.dtype)
        np.testing.assert_allclose(forward(case.x, case.kernel_size, case.stride), y.detach().numpy(), **tol)
        grad_x = backward(grad_out, case.x, case.kernel_size, case.stride)
        np.testing.assert_allclose(grad_x, x.grad.numpy(), **tol)


SPECIAL = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-30, -1e-30]  # the values where a ReLU can go wrong


def relu_case(dtype, shape, seed):
    """x and grad_out of `shape` and dtype, x holding every SPECIAL value when there is room."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    flat = x.reshape(-1)  # a view: x is fresh and contiguous
    flat[: len(SPECIAL)] = np.array(SPECIAL, dtype=dtype)[: flat.size]
    rng.shuffle(flat)
    return x, rng.standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(), (7,), (3, 0, 2), (2, 3, 5, 4), (4, 3, 9, 7, 2)])
def test_relu_matches_numpy_bit_for_bit_nan_and_signed_zero_included(shape, dtype):
    """y = x where x is not below 0 (NaN and -0.0 kept), else +0; dJ/dx = 0 where x <= 0, else grad_out."""
    x, grad_out = relu_case(dtype, shape, 11)
    y, grad_x = F.relu(x), F.relu_backward(grad_out, x)
    expected_y = np.where(x < 0, dtype(0), x)
    np.testing.assert_array_equal(y, expected_y)
    assert (np.signbit(y) == np.signbit(expected_y)).all()
    np.testing.assert_array_equal(grad_x, np.where(x <= 0, dtype(0), grad_out))
    assert y.shape == grad_x.shape == x.shape
    assert_fresh([y, grad_x], [x, grad_out], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_matches_pytorch_nan_and_signed_zero_included(dtype):
    torch = pytest.importorskip("torch")
    x, grad_out = relu_case(dtype, (3, 4, 5, 6), 12)
    xt = torch.from_numpy(x).requires_grad_()
    yt = torch.relu(xt)
    yt.backward(torch.from_numpy(grad_out))
    y = F.relu(x)
    np.testing.assert_array_equal(y, yt.detach().numpy())
    assert (np.signbit(y) == np.signbit(yt.detach().numpy())).all()
    np.testing.assert_array_equal(F.relu_backward(grad_out, x), xt.grad.numpy())


def test_relu_reads_strided_inputs_and_leaves_them_alone():
    x, grad_out = relu_case(np.float64, (4, 6, 8), 13)
    strided_x, strided_grad = x[:, ::2, ::-3], grad_out[:, ::2, ::-3]
    before = snapshot(x, grad_out)
    y, grad_x = F.relu(strided_x), F.relu_backward(strided_grad, strided_x)
    assert_unchanged(before, [x, grad_out])
    contiguous_x = np.ascontiguousarray(strided_x)
    np.testing.assert_array_equal(y, F.relu(contiguous_x))
    np.testing.assert_array_equal(grad_x, F.relu_backward(np.ascontiguousarray(strided_grad), contiguous_x))


def test_threaded_relu_matches_numpy():
    """The elements shared among threads in ranges: every range starts at its own place."""
    x, grad_out = relu_case(np.float32, (5, 3, 41, 43), 14)
    expected = np.where(x < 0, np.float32(0), x), np.where(x <= 0, np.float32(0), grad_out)
    with threaded():
        np.testing.assert_array_equal(F.relu(x), expected[0])
        np.testing.assert_array_equal(F.relu_backward(grad_out, x), expected[1])


@pytest.mark.parametrize("stride", [(9, 1), (2**70, 1), (2, 2**64), (2**63, 2**70)])
def test_a_stride_beyond_the_padded_input_matches_pytorch_and_a_huge_one_reaches_no_kernel(stride):
    """A stride past the padded size leaves the window at 0 alone, as a stride equal to the size does:
    the ops clamp it to that size, so 2**70 no longer reaches the kernels (where it failed with an
    OverflowError or Numba's TypingError) and the results are PyTorch's for the same stride, or for the
    clamped one where PyTorch cannot take it."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(9)
    x, w, b = rng.standard_normal((2, 3, 5, 4)), rng.standard_normal((2, 3, 2, 3)), rng.standard_normal(2)
    padding = (1, 0)  # padded size (7, 4)
    torch_stride = tuple(s if s < 2**31 else size for s, size in zip(stride, (7, 4), strict=True))
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=torch_stride, padding=padding)
    grad_out = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(F.conv2d(x, w, b, stride, padding), y.detach().numpy(), rtol=1e-12)
    grads = F.conv2d_backward(grad_out, x, w, stride, padding)
    for ours, theirs in zip(grads, (xt.grad, wt.grad, bt.grad), strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    layer = nn.Conv2d(3, 2, (2, 3), stride=stride, padding=padding, dtype=np.float64)
    assert layer.stride == stride and layer(x).shape == tuple(y.shape)  # the layer keeps what it was given
    pool_stride = tuple(s if s < 2**31 else size for s, size in zip(stride, (5, 4), strict=True))
    for ours, ours_back, reference in (
        (F.max_pool2d, F.max_pool2d_backward, torch.nn.functional.max_pool2d),
        (F.avg_pool2d, F.avg_pool2d_backward, torch.nn.functional.avg_pool2d),
    ):
        xt.grad = None
        yp = reference(xt, (2, 3), pool_stride)
        delta = rng.standard_normal(tuple(yp.shape))
        yp.backward(torch.from_numpy(delta))
        np.testing.assert_allclose(ours(x, (2, 3), stride), yp.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours_back(delta, x, (2, 3), stride), xt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("w_shape", "stride", "padding"),
    [((4, 3, 3, 2), 1, 1), ((4, 3, 6, 6), 1, (0, 2)), ((2, 3, 2, 3), (2, 1), 0)],
    ids=["sweeps", "matrix products", "direct loops"],
)
def test_an_empty_batch_gives_what_pytorch_gives(w_shape, stride, padding, dtype):
    """N = 0, which every other op and layer takes (pooling, ReLU, Flatten, Linear), as PyTorch's conv2d
    does: no outputs, no input gradient, and zero gradients for w and b. conv2d refused it ('every axis
    of x must be at least 1'), so an empty batch stopped at a network's first convolution."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(16)
    x = np.zeros((0, 3, 6, 5), dtype=dtype)
    w, b = rng.standard_normal(w_shape).astype(dtype), rng.standard_normal(w_shape[0]).astype(dtype)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=stride, padding=padding)
    grad_out = np.zeros(tuple(y.shape), dtype=dtype)
    y.backward(torch.from_numpy(grad_out))
    pairs = {name: (v, v) if isinstance(v, int) else v for name, v in (("stride", stride), ("pad", padding))}
    for z in (F.conv2d(x, w, b, stride, padding), naive.conv2d(x, w, b, pairs["stride"], pairs["pad"])):
        assert z.shape == tuple(y.shape) and z.dtype == dtype
    expected = (xt.grad.numpy(), wt.grad.numpy(), bt.grad.numpy())
    for grads in (
        F.conv2d_backward(grad_out, x, w, stride, padding),
        naive.conv2d_backward(grad_out, x, w, pairs["stride"], pairs["pad"]),
    ):
        for got, want in zip(grads, expected, strict=True):
            assert got.shape == want.shape and got.dtype == dtype
            np.testing.assert_array_equal(got, want)
    grad_x, grad_w, grad_b = F.conv2d_backward(grad_out, x, w, stride, padding, input_grad=False)
    assert grad_x is None and not grad_w.any() and not grad_b.any()


def test_naive_specification_matches_pytorch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    x, w, b = rng.standard_normal((2, 3, 7, 6)), rng.standard_normal((4, 3, 3, 2)), rng.standard_normal(4)
    xt, wt, bt = (torch.from_numpy(a).requires_grad_() for a in (x, w, b))
    y = torch.nn.functional.conv2d(xt, wt, bt, stride=(2, 1), padding=(1, 1))
    grad_out = rng.standard_normal(tuple(y.shape))
    y.backward(torch.from_numpy(grad_out))
    np.testing.assert_allclose(naive.conv2d(x, w, b, (2, 1), (1, 1)), y.detach().numpy(), rtol=1e-12)
    grads = naive.conv2d_backward(grad_out, x, w, (2, 1), (1, 1))
    for ours, theirs in zip(grads, (xt.grad, wt.grad, bt.grad), strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-12)
    xp = np.round(rng.standard_normal((2, 2, 7, 8)))  # ties
    xpt = torch.from_numpy(xp).requires_grad_()
    for slow, slow_back, reference in (
        (naive.max_pool2d, naive.max_pool2d_backward, torch.nn.functional.max_pool2d),
        (naive.avg_pool2d, naive.avg_pool2d_backward, torch.nn.functional.avg_pool2d),
    ):
        xpt.grad = None
        yp = reference(xpt, (3, 2), (1, 2))
        delta = rng.standard_normal(tuple(yp.shape))
        yp.backward(torch.from_numpy(delta))
        np.testing.assert_allclose(slow(xp, (3, 2), (1, 2)), yp.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(slow_back(delta, xp, (3, 2), (1, 2)), xpt.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("n_images", [1, 5, 32, 64])
def test_chunks_cover_the_images_once_within_cols_bytes_in_rounds_of_threads(n_images, itemsize, threads):
    taps, outputs, budget = 150, 64, 150 * 64 * 4 * 10  # cols of 10 float32 images (5 float64) per chunk
    with mock.patch.object(conv_kernels, "COLS_BYTES", budget), mock.patch.object(_jit, "_threads", threads):
        chunks = F._chunks(n_images, taps, outputs, itemsize, _jit.PARALLEL_WORK)
    covered = [n for n0, n1 in chunks for n in range(n0, n1)]
    assert covered == list(range(n_images))
    sizes = [n1 - n0 for n0, n1 in chunks]
    assert set(sizes[:-1]) <= {sizes[0]} and sizes[-1] <= sizes[0]  # equal; the last may be shorter
    assert sizes[0] * taps * outputs * itemsize <= budget or sizes[0] == 1
    fewest = -(-n_images * taps * outputs * itemsize // budget)
    assert len(chunks) >= min(n_images, max(fewest, threads))
    if sizes[0] > 1:
        assert len(chunks) % threads == 0, chunks
