"""Does every bad input get a clear TypeError or ValueError that names the argument, says what was
expected and what was got, before any Numba code runs?"""

from __future__ import annotations

import numpy as np
import pytest

from course import functional as F
from course.nn.upsample import upsample_nearest2d_backward

X = np.zeros((2, 3, 6, 5))
W = np.zeros((4, 3, 3, 2))
GRAD = np.zeros((2, 4, 4, 4))  # conv2d(X, W) output shape
POOL_GRAD = np.zeros((2, 3, 3, 2))  # max_pool2d(X, 2) output shape


def conv(x=X, w=W, b=None, stride=1, padding=0):
    return F.conv2d(x, w, b, stride, padding)


def conv_back(grad_out=GRAD, x=X, w=W, stride=1, padding=0):
    return F.conv2d_backward(grad_out, x, w, stride, padding)


CONV_CASES = {
    # name: (call, exception, pattern the message must contain)
    "x not an array": (lambda: conv(x=X.tolist()), TypeError, r"conv2d: x must be a numpy array.*got list"),
    "w not an array": (lambda: conv(w=3.0), TypeError, r"w must be a numpy array.*got float"),
    "x integer": (lambda: conv(x=X.astype(int)), TypeError, r"x must have dtype float32 or float64, got int"),
    "w complex": (lambda: conv(w=W.astype(complex)), TypeError, r"w must have dtype .* got complex128"),
    "b integer": (lambda: conv(b=np.zeros(4, int)), TypeError, r"b must have dtype .* got int"),
    "x 3-D": (lambda: conv(x=X[0]), ValueError, r"x must have 4 dimensions \(N, C, H, W\), got 3"),
    "w 2-D": (lambda: conv(w=W[0, 0]), ValueError, r"w must have 4 dimensions \(F, C, KH, KW\), got 2"),
    "b 2-D": (lambda: conv(b=np.zeros((4, 1))), ValueError, r"b must have 1 dimension \(F,\), got 2"),
    "channels differ": (lambda: conv(w=W[:, :2]), ValueError, r"w has 2 input channels but x has 3"),
    "bias length": (lambda: conv(b=np.zeros(3)), ValueError, r"b must have one entry .*F=4.*\(3,\)"),
    "kernel too tall": (lambda: conv(x=X[:, :, :2]), ValueError, r"kernel height 3 is larger than the input"),
    "kernel too wide for padded": (
        lambda: conv(x=X[:, :, :, :1], w=np.zeros((4, 3, 1, 4)), padding=(0, 1)),
        ValueError,
        r"kernel width 4 is larger than the padded input width 3",
    ),
    # a kernel axis of 0 corrupted the heap in conv2d ("free(): invalid pointer") and looped for ever in
    # conv2d_backward
    "kernel of zero height": (
        lambda: conv(w=np.zeros((4, 3, 0, 2))),
        ValueError,
        r"conv2d: every axis of w \(F, C, KH, KW\) must be at least 1, got w.shape=\(4, 3, 0, 2\)",
    ),
    "no kernels": (lambda: conv(w=np.zeros((0, 3, 3, 2))), ValueError, r"every axis of w .*\(0, 3, 3, 2\)"),
    "backward kernel of zero width": (
        lambda: conv_back(w=np.zeros((4, 3, 3, 0))),
        ValueError,
        r"conv2d_backward: every axis of w .* got w.shape=\(4, 3, 3, 0\)",
    ),
    "no channels": (  # an empty batch (N = 0) is fine, as in PyTorch (test_functional)
        lambda: conv(x=np.zeros((2, 0, 6, 5)), w=np.zeros((4, 0, 3, 2))),
        ValueError,
        r"conv2d: C, H and W of x \(N, C, H, W\) must be at least 1, got x.shape=\(2, 0, 6, 5\)",
    ),
    "backward image of zero height": (
        lambda: conv_back(x=np.zeros((2, 3, 0, 5))),
        ValueError,
        r"conv2d_backward: C, H and W of x .* got x.shape=\(2, 3, 0, 5\)",
    ),
    "stride 0": (lambda: conv(stride=0), ValueError, r"stride must be >= 1 in each dimension, got 0"),
    "stride pair 0": (lambda: conv(stride=(1, 0)), ValueError, r"stride must be >= 1.*got \(1, 0\)"),
    "negative padding": (lambda: conv(padding=-1), ValueError, r"padding must be >= 0.*got -1"),
    "stride float": (lambda: conv(stride=1.5), TypeError, r"stride must be an int or a pair.*got 1.5"),
    "stride bool": (lambda: conv(stride=True), TypeError, r"stride must be an int or a pair.*got True"),
    "padding triple": (lambda: conv(padding=(1, 1, 1)), TypeError, r"padding must be an int or a pair"),
    "padding string": (lambda: conv(padding="same"), TypeError, r"padding must be an int or a pair.*'same'"),
    "padding past any array": (  # numpy's own error for it named no argument
        lambda: conv(padding=2**62),
        ValueError,
        r"conv2d: padding=4611686018427387904 makes a padded input of shape \(2, 3, 9223372036854775814, "
        r"9223372036854775813\), larger than any numpy array can be",
    ),
    "padding past any array, one axis": (
        lambda: conv(padding=(0, 2**70)),
        ValueError,
        r"conv2d: padding=\(0, 1180591620717411303424\) makes a padded input of shape",
    ),
    "padding past any output": (  # the padded input fits, the output (4 kernels of 3 channels) does not
        lambda: conv(padding=200_000_000),
        ValueError,
        r"conv2d: padding=200000000 makes an output of shape \(2, 4, 400000004, 400000004\), larger than",
    ),
    "backward padding past any array": (
        lambda: conv_back(padding=2**62),
        ValueError,
        r"conv2d_backward: padding=4611686018427387904 makes a padded input",
    ),
    "backward grad_out shape": (
        lambda: conv_back(grad_out=GRAD[:, :, :3]),
        ValueError,
        r"grad_out must have the forward output's shape \(2, 4, 4, 4\), got .*\(2, 4, 3, 4\)",
    ),
    "backward grad_out integer": (
        lambda: conv_back(grad_out=GRAD.astype(np.int32)),
        TypeError,
        r"conv2d_backward: grad_out must have dtype .* got int32",
    ),
    "backward grad_out list": (lambda: conv_back(grad_out=[[1.0]]), TypeError, r"grad_out must be a numpy"),
    "backward channels": (lambda: conv_back(w=W[:, :1]), ValueError, r"conv2d_backward: w has 1 input ch"),
    "backward stride": (lambda: conv_back(stride=(0, 1)), ValueError, r"conv2d_backward: stride must be >="),
    "backward input_grad int": (
        lambda: F.conv2d_backward(GRAD, X, W, input_grad=0),
        TypeError,
        r"conv2d_backward: input_grad must be True or False, got 0",
    ),
    "backward input_grad string": (
        lambda: F.conv2d_backward(GRAD, X, W, input_grad="no"),
        TypeError,
        r"input_grad must be True or False, got 'no'",
    ),
}

POOL_CASES = {
    "x not an array": (lambda f: f(X.tolist(), 2), TypeError, r"x must be a numpy array.*got list"),
    "x integer": (lambda f: f(X.astype(np.int64), 2), TypeError, r"x must have dtype .* got int64"),
    "x complex": (lambda f: f(X.astype(np.complex64), 2), TypeError, r"x must have dtype .* got complex64"),
    "x 2-D": (lambda f: f(X[0, 0], 2), ValueError, r"x must have 4 dimensions \(N, C, H, W\), got 2"),
    "kernel 0": (lambda f: f(X, 0), ValueError, r"kernel_size must be >= 1.*got 0"),
    "kernel float": (lambda f: f(X, 2.0), TypeError, r"kernel_size must be an int or a pair.*got 2.0"),
    "kernel too wide": (lambda f: f(X, (2, 6)), ValueError, r"kernel width 6 is larger than the input width"),
    "stride 0": (lambda f: f(X, 2, (0, 1)), ValueError, r"stride must be >= 1.*got \(0, 1\)"),
    "stride list of 3": (lambda f: f(X, 2, [1, 1, 1]), TypeError, r"stride must be an int or a pair"),
}


@pytest.mark.parametrize("name", CONV_CASES)
def test_conv_bad_input_raises_a_clear_error(name):
    call, exception, pattern = CONV_CASES[name]
    with pytest.raises(exception, match=pattern) as info:
        call()
    assert type(info.value) is exception  # a plain TypeError/ValueError, not a Numba typing error


@pytest.mark.parametrize("name", POOL_CASES)
@pytest.mark.parametrize("op", [F.max_pool2d, F.avg_pool2d])
def test_pool_forward_bad_input_raises_a_clear_error(op, name):
    call, exception, pattern = POOL_CASES[name]
    with pytest.raises(exception, match=f"{op.__name__}: {pattern}") as info:
        call(op)
    assert type(info.value) is exception


@pytest.mark.parametrize("name", POOL_CASES)
@pytest.mark.parametrize("op", [F.max_pool2d_backward, F.avg_pool2d_backward])
def test_pool_backward_bad_input_raises_a_clear_error(op, name):
    call, exception, pattern = POOL_CASES[name]
    with pytest.raises(exception, match=f"{op.__name__}: {pattern}"):
        call(lambda x, *args: op(POOL_GRAD, x, *args))


@pytest.mark.parametrize("op", [F.max_pool2d_backward, F.avg_pool2d_backward])
def test_pool_backward_grad_out_of_the_wrong_shape(op):
    with pytest.raises(ValueError, match=r"grad_out must have the forward output's shape \(2, 3, 3, 2\)"):
        op(POOL_GRAD[:, :, :2], X, 2)
    with pytest.raises(TypeError, match=r"grad_out must have dtype .* got bool"):
        op(POOL_GRAD.astype(bool), X, 2)


@pytest.mark.parametrize(
    ("call", "layout"),
    [
        (lambda g: F.max_pool2d_backward(g, X, 2), r"\(N, C, Ho, Wo\)"),
        (lambda g: F.avg_pool2d_backward(g, X, 2), r"\(N, C, Ho, Wo\)"),
        (lambda g: upsample_nearest2d_backward(g, X, 2), r"\(N, C, H\*s, W\*s\)"),
        (lambda g: F.conv2d_backward(g, X, W), r"\(N, F, Ho, Wo\)"),
    ],
)
def test_grad_out_of_the_wrong_ndim_is_told_the_layout_of_the_ops_output(call, layout):
    # pooling and upsampling keep the C channels of x: their grad_out was told "(N, F, Ho, Wo)", F being
    # the number of kernels, which they do not have
    with pytest.raises(ValueError, match=rf"grad_out must have 4 dimensions {layout}, got 3"):
        call(np.zeros((2, 3, 3)))


@pytest.mark.parametrize(
    ("call", "exception", "pattern"),
    [
        (lambda: F.relu([1.0]), TypeError, r"^relu: x must be a numpy array of shape \(any shape\), got li"),
        (lambda: F.relu(np.arange(3)), TypeError, r"^relu: x must have dtype float32 or float64, got int64"),
        (
            lambda: F.relu_backward(np.ones(3), np.ones(3, dtype=np.complex128)),
            TypeError,
            r"^relu_backward: x must have dtype float32 or float64, got complex128",
        ),
        (
            lambda: F.relu_backward(np.ones(3, dtype=bool), np.ones(3)),
            TypeError,
            r"^relu_backward: grad_out must have dtype float32 or float64, got bool",
        ),
        (
            lambda: F.relu_backward(np.ones((3, 1)), np.ones(3)),
            ValueError,
            r"^relu_backward: grad_out must have 1 dimension \(the shape of x\), got 2",
        ),
        (
            lambda: F.relu_backward(np.ones(4), np.ones(3)),
            ValueError,
            r"^relu_backward: grad_out must have the forward output's shape \(3,\), got grad_out.shape=\(4,",
        ),
    ],
)
def test_relu_bad_input_raises_a_clear_error_naming_the_argument(call, exception, pattern):
    with pytest.raises(exception, match=pattern) as info:
        call()
    assert type(info.value) is exception
