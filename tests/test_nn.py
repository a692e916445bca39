"""Are the layers' forward and backward right? Finite differences in float64, hand-worked examples,
and PyTorch (same weights, same inputs) when it is installed."""

from __future__ import annotations

import re
from unittest import mock

import numpy as np
import pytest

from course import functional as F
from course import nn, optim
from course.bench_train import torch_lenet
from course.gradcheck import gradcheck

F64 = np.float64


def check_layer(layer: nn.Module, x: np.ndarray, rng: np.random.Generator):
    """gradcheck of J = sum(layer(x) * r) with respect to x and every parameter of `layer`."""
    out = layer(x)
    r = rng.normal(size=out.shape)
    layer.zero_grad()
    grad_x = layer.backward(r)
    assert grad_x.shape == x.shape and grad_x.dtype == x.dtype
    params = dict(layer.named_parameters())
    analytic = {"x": grad_x, **{name: p.grad.copy() for name, p in params.items()}}
    values = {"x": x, **{name: p.data.copy() for name, p in params.items()}}

    def f(x, **new_params):
        for name, value in new_params.items():
            params[name].data = value
        return float(np.sum(layer(x) * r))

    result = gradcheck(f, values, analytic)
    for name, p in params.items():
        p.data = values[name]
    assert result, str(result)
    return result


@pytest.fixture
def rng():
    return np.random.default_rng(7)


LAYERS = {
    "conv stride 2 pad 1, C != F, non-square": (
        lambda rng: nn.Conv2d(3, 2, (3, 2), stride=2, padding=1, rng=rng, dtype=F64),
        (2, 3, 7, 6),
    ),
    "conv stride (1, 2) no pad, no bias": (
        lambda rng: nn.Conv2d(2, 3, 3, stride=(1, 2), bias=False, rng=rng, dtype=F64),
        (2, 2, 6, 7),
    ),
    "conv (3, 1) kernel, padding 1 (as wide as the kernel, as PyTorch allows)": (
        lambda rng: nn.Conv2d(2, 3, (3, 1), padding=1, rng=rng, dtype=F64),
        (2, 2, 5, 4),
    ),
    "conv 2x2 padding (3, 2), beyond the kernel: the rim is the bias": (
        lambda rng: nn.Conv2d(2, 2, 2, padding=(3, 2), rng=rng, dtype=F64),
        (1, 2, 3, 4),
    ),
    "max pool 2": (lambda rng: nn.MaxPool2d(2), (2, 3, 6, 4)),
    "max pool 3 stride 1 (overlapping windows)": (lambda rng: nn.MaxPool2d(3, stride=1), (2, 2, 5, 6)),
    "avg pool (3, 2) stride (1, 2)": (lambda rng: nn.AvgPool2d((3, 2), stride=(1, 2)), (2, 2, 5, 6)),
    "linear": (lambda rng: nn.Linear(5, 3, rng=rng, dtype=F64), (4, 5)),
    "linear no bias": (lambda rng: nn.Linear(5, 3, bias=False, rng=rng, dtype=F64), (4, 5)),
    "relu": (lambda rng: nn.ReLU(), (3, 2, 4, 4)),
    "sigmoid": (lambda rng: nn.Sigmoid(), (3, 7)),
    "tanh": (lambda rng: nn.Tanh(), (3, 7)),
    "flatten": (lambda rng: nn.Flatten(), (2, 3, 4, 5)),
}


@pytest.mark.parametrize("case", list(LAYERS))
def test_layer_gradients_match_finite_differences(case, rng):
    make, shape = LAYERS[case]
    x = rng.normal(size=shape)
    if case == "relu":  # keep clear of the kink at 0, where the derivative does not exist
        x = np.where(np.abs(x) < 0.05, 0.5, x)
    check_layer(make(rng), x, rng)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_loss_gradients_match_finite_differences(reduction, rng):
    a, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    mse = nn.MSELoss(reduction)
    mse(a, y)
    assert gradcheck(lambda a: mse(a, y), {"a": a}, {"a": mse.backward()})
    logits, labels = rng.normal(size=(5, 4)) * 3, rng.integers(0, 4, size=5)
    ce = nn.CrossEntropyLoss(reduction)
    ce(logits, labels)
    assert gradcheck(lambda z: ce(z, labels), {"z": logits}, {"z": ce.backward()})


def test_mse_loss_is_the_lectures_cost_on_a_worked_example():
    # J = 1/2 sum_j (a_j - y_j)^2 per example: (0.5-1)^2 + 0.2^2 = 0.29 -> 0.145; 1^2 + 0 = 1 -> 0.5
    a = np.array([[0.5, 0.2], [1.0, 0.0]])
    y = np.array([[1.0, 0.0], [0.0, 0.0]])
    total = nn.MSELoss("sum")
    assert total(a, y) == pytest.approx(0.645)
    np.testing.assert_allclose(total.backward(), [[-0.5, 0.2], [1.0, 0.0]])
    mean = nn.MSELoss()
    assert mean(a, y) == pytest.approx(0.3225)  # the two examples' costs averaged
    np.testing.assert_allclose(mean.backward(), [[-0.25, 0.1], [0.5, 0.0]])


def test_cross_entropy_on_a_worked_example_and_huge_logits():
    # softmax([0, ln 3]) = [1/4, 3/4]: J = -ln(1/4) = ln 4 for label 0; dJ/dz = [1/4 - 1, 3/4]
    ce = nn.CrossEntropyLoss()
    assert ce(np.array([[0.0, np.log(3.0)]]), np.array([0])) == pytest.approx(np.log(4.0))
    np.testing.assert_allclose(ce.backward(), [[-0.75, 0.75]])
    huge = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]], dtype=np.float32)
    loss = ce(huge, np.array([2, 1]))
    assert np.isfinite(loss) and loss == pytest.approx((2000.0 + np.log(2.0)) / 2, rel=1e-6)
    assert np.all(np.isfinite(ce.backward()))


class IntoFloat32(nn.Module):
    """A user's module whose backward adds grad_out into a float32 buffer: numpy's casting error for a
    complex grad_out (the library's layers refuse one before any arithmetic)."""

    def forward(self, x):
        return x

    def backward(self, grad_out):
        buffer = np.zeros(grad_out.shape, dtype=np.float32)
        np.add(buffer, grad_out, out=buffer)
        return buffer


def test_sequential_names_the_layer_even_for_errors_it_cannot_rebuild_and_advises_only_float_dtypes():
    model = nn.Sequential(nn.Linear(3, 2, rng=np.random.default_rng(0)))
    user = nn.Sequential(IntoFloat32())
    user(np.ones((1, 2), dtype=np.float32))
    # numpy's casting errors take five arguments: rebuilding one from a message raised an unrelated
    # "missing 4 required positional arguments"
    with pytest.raises(TypeError, match=r"layer 0 of Sequential, backward: Cannot cast ufunc"):
        user.backward(np.ones((1, 2), dtype=complex))
    with pytest.raises(TypeError, match=r"convert with x.astype\(np.float32\)\)$"):
        model(np.ones((1, 3), dtype=np.int32))  # no advice to build a layer of int32, which is refused
    with pytest.raises(TypeError, match=r"or build the layer with dtype=np.float64\)$"):
        model(np.ones((1, 3), dtype=np.float64))


def test_loss_inputs_are_checked():
    with pytest.raises(ValueError, match="same shape"):
        nn.MSELoss()(np.zeros((2, 3)), np.zeros((3, 2)))
    # an integer output's gradient (a - y) / N was cast back to int: silently all zeros
    with pytest.raises(TypeError, match="MSELoss: a must have dtype float32 or float64, got int64"):
        nn.MSELoss()(np.array([[1, 2], [3, 4]]), np.zeros((2, 2)))
    # numpy's "could not convert string to float" named nothing; a complex y lost its imaginary part
    with pytest.raises(TypeError, match="MSELoss: y must hold real numbers, got <U1"):
        nn.MSELoss()(np.zeros((2, 2)), np.full((2, 2), "a"))
    with pytest.raises(TypeError, match="MSELoss: y must hold real numbers, got complex128"):
        nn.MSELoss()(np.zeros((2, 2)), np.full((2, 2), 1j))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        nn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(TypeError, match="labels must be integers"):
        nn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("none")


TYPE_AND_VALUE_ERRORS = {
    # name: (call, exception, pattern): a wrong type is a TypeError, a wrong shape a ValueError, as in the
    # rest of the library (these four type problems were ValueErrors, float_dtype('foo') numpy's own)
    "logits integer": (
        lambda: nn.CrossEntropyLoss()(np.zeros((2, 3), dtype=int), np.array([0, 1])),
        TypeError,
        r"CrossEntropyLoss: logits must have dtype float32 or float64, got int64",
    ),
    "logits list": (
        lambda: nn.CrossEntropyLoss()([[0.0, 1.0]], np.array([0])),
        TypeError,
        r"CrossEntropyLoss: logits must be a numpy array of shape \(N, K\), got list",
    ),
    "logits 1-D": (
        lambda: nn.CrossEntropyLoss()(np.zeros(3), np.array([0])),
        ValueError,
        r"logits must have 2 dimensions \(N, K\), got 1",
    ),
    "labels float": (
        lambda: nn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0.0, 1.0])),
        TypeError,
        r"CrossEntropyLoss: labels must be integers \(class indices\), got float64",
    ),
    "labels shape": (
        lambda: nn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 1, 2])),
        ValueError,
        r"labels must have shape \(N,\) = \(2,\), got \(3,\)",
    ),
    # torch's first argument is weight (one per class): numpy's "truth value of an array is ambiguous"
    "CrossEntropyLoss class weights": (
        lambda: nn.CrossEntropyLoss(np.array([1.0, 2.0])),
        TypeError,
        r"^CrossEntropyLoss: reduction must be 'mean' or 'sum', got array\(\[1., 2.\]\) \(class weights, "
        r"torch's first argument, are not supported; give reduction by name\)$",
    ),
    "MSELoss reduction array": (
        lambda: nn.MSELoss(np.array([1.0, 2.0])),
        TypeError,
        r"^MSELoss: reduction must be 'mean' or 'sum', got array\(\[1., 2.\]\)$",
    ),
    "Flatten list": (lambda: nn.Flatten()([[1.0, 2.0]]), TypeError, r"Flatten\(\): input must be a numpy"),
    "Flatten 1-D": (lambda: nn.Flatten()(np.zeros(3)), ValueError, r"at least 2 axes, got \(3,\)"),
    "Linear dtype 'foo'": (
        lambda: nn.Linear(2, 2, dtype="foo"),
        TypeError,
        r"Linear: dtype must be float32 or float64, got 'foo'",
    ),
    "Conv2d dtype int": (lambda: nn.Conv2d(1, 1, 1, dtype=int), TypeError, r"Conv2d: dtype must be .* int64"),
    # numpy reads None as float64, PyTorch as its default float32: refused rather than guessed
    "Linear dtype None": (lambda: nn.Linear(2, 2, dtype=None), TypeError, r"Linear: dtype must .*, got None"),
    # named as the last Linear's out_features, an argument the caller never passed
    "lenet num_classes 0": (
        lambda: nn.lenet(0),
        ValueError,
        r"^lenet: num_classes must be a positive int, got 0$",
    ),
    "lenet num_classes 2.5": (
        lambda: nn.lenet(2.5),
        TypeError,
        r"^lenet: num_classes must be a positive int",
    ),
}


@pytest.mark.parametrize("name", TYPE_AND_VALUE_ERRORS)
def test_type_problems_are_type_errors_and_shape_problems_value_errors(name):
    _raises_exactly(*TYPE_AND_VALUE_ERRORS[name])


def _raises_exactly(call, exception: type, pattern: str) -> None:
    """call() raises `exception` itself (not a subclass) with a message matching `pattern`."""
    with pytest.raises(exception, match=pattern) as info:
        call()
    assert type(info.value) is exception


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_losses_refuse_an_empty_batch_by_name(reduction):
    # the mean divided by N = 0: ZeroDivisionError
    with pytest.raises(ValueError, match=r"MSELoss: a must hold at least one example \(N >= 1\)"):
        nn.MSELoss(reduction)(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: logits must hold .*\(0, 3\)"):
        nn.CrossEntropyLoss(reduction)(np.zeros((0, 3)), np.zeros(0, dtype=int))
    with pytest.raises(ValueError, match=r"at least one example and one class .* got logits.shape=\(2, 0\)"):
        nn.CrossEntropyLoss(reduction)(np.zeros((2, 0)), np.zeros(2, dtype=int))


LOSSES = {
    "MSELoss": (nn.MSELoss, np.zeros((2, 3)), np.ones((2, 3))),
    "CrossEntropyLoss": (nn.CrossEntropyLoss, np.zeros((2, 3)), np.array([0, 2])),
}


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("grad_out", [np.ones((2, 3)), np.ones(2), "2", None, True], ids=repr)
def test_a_losss_backward_takes_one_number_for_grad_out(name, grad_out):
    """J is a number, so dJ/dJ is one too: an array of the output's shape was multiplied in entry by entry
    (a silent answer to a question J does not pose), other arrays and strings raised numpy's broadcasting
    or conversion errors, naming nothing."""
    make, a, y = LOSSES[name]
    loss = make()
    loss(a, y)
    with pytest.raises(TypeError, match=rf"^{name}.backward: grad_out must be a number \(dJ/dJ, 1.0 by "):
        loss.backward(grad_out)
    for number in (2, 2.0, np.float32(2.0)):
        np.testing.assert_allclose(loss.backward(number), 2 * loss.backward())


def small_network(rng, dtype=F64):
    return nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1, rng=rng, dtype=dtype),
        nn.Tanh(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 4, 2, stride=2, rng=rng, dtype=dtype),
        nn.Sigmoid(),
        nn.AvgPool2d(1),
        nn.Flatten(),
        nn.Linear(16, 5, rng=rng, dtype=dtype),
        nn.ReLU(),
        nn.Linear(5, 3, rng=rng, dtype=dtype),
    )


def test_a_whole_networks_parameter_gradients_end_to_end(rng):
    model = small_network(rng)
    x, labels = rng.normal(size=(3, 2, 8, 8)), np.array([0, 2, 1])
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), labels)
    model.zero_grad()
    grad_x = model.backward(loss_fn.backward())
    params = dict(model.named_parameters())
    assert list(params) == [f"{i}.{w}" for i in (0, 3, 7, 9) for w in ("weight", "bias")]

    def f(x, **values):
        for name, value in values.items():
            params[name].data = value
        return loss_fn(model(x), labels)

    values = {name: p.data.copy() for name, p in params.items()}
    analytic = {"x": grad_x, **{name: p.grad.copy() for name, p in params.items()}}
    result = gradcheck(f, {"x": x, **values}, analytic)
    assert result, str(result)
    assert result.checked == x.size + sum(v.size for v in values.values())


class Doubler(nn.Module):
    """A user's module without parameters: nothing to learn, so backward_parameters may skip it."""

    def __init__(self):
        self.backward_calls = 0

    def forward(self, x):
        return 2 * x

    def backward(self, grad_out):
        self.backward_calls += 1
        return 2 * grad_out


class Scale(nn.Module):
    """A user's module with a parameter, with forward and backward only: the default
    backward_parameters, which calls backward."""

    def __init__(self):
        self.scale, self.backward_calls = nn.Parameter(np.array([1.5])), 0

    def forward(self, x):
        self._x = x
        return self.scale.data * x

    def backward(self, grad_out):
        self.backward_calls += 1
        self.scale.grad += np.sum(grad_out * self._x)
        return self.scale.data * grad_out


FIRST_LAYERS = {  # name: (layer, input shape, conv2d_backward's input_grad, last first)
    "conv": (
        lambda rng: nn.Conv2d(2, 2, 3, padding=1, rng=rng, dtype=F64),
        (3, 2, 8, 8),
        [True, True, False],
    ),
    "strided conv": (
        lambda rng: nn.Conv2d(1, 2, 3, stride=2, padding=1, rng=rng, dtype=F64),
        (3, 1, 16, 16),
        [True, True, False],
    ),
    "conv with many taps (matrix products)": (
        lambda rng: nn.Conv2d(3, 2, 7, padding=3, rng=rng, dtype=F64),
        (3, 3, 8, 8),
        [True, True, False],
    ),
    "a user's module with a parameter": (lambda rng: Scale(), (3, 2, 8, 8), [True, True]),
    "a module without parameters, then a conv": (lambda rng: Doubler(), (3, 2, 8, 8), [True, False]),
}


@pytest.mark.parametrize("first", FIRST_LAYERS)
def test_backward_parameters_gives_backwards_parameter_gradients_and_skips_dj_dx(first, rng):
    """The training loops' backward: every parameter's .grad as `backward` leaves it, while the first
    layer with parameters, whose input comes from the data, is asked for `backward_parameters` (so a
    convolution computes no dJ/dx), and the layers before it are not run backward at all."""
    layer, shape, asked_input_grad = FIRST_LAYERS[first]
    model = nn.Sequential(layer(rng), small_network(rng))  # small_network: convs at 0 and 3
    x, labels = rng.normal(size=shape), np.array([0, 2, 1])
    loss_fn = nn.CrossEntropyLoss()
    loss_fn(model(x), labels)
    model.zero_grad()
    model.backward(loss_fn.backward())
    expected = {name: p.grad.copy() for name, p in model.named_parameters()}
    model.zero_grad()
    with mock.patch.object(nn.conv.functional, "conv2d_backward", wraps=F.conv2d_backward) as conv_backward:
        assert model.backward_parameters(loss_fn.backward()) is None
    for name, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, expected[name], rtol=1e-12, atol=1e-14, err_msg=name)
    assert [call.kwargs["input_grad"] for call in conv_backward.call_args_list] == asked_input_grad
    if hasattr(model[0], "backward_calls"):  # once by backward; by backward_parameters only if it learns
        assert model[0].backward_calls == (2 if model[0].parameters() else 1)


def test_backward_parameters_of_a_network_with_nothing_to_learn_does_nothing(rng):
    model = nn.Sequential(Doubler(), nn.ReLU())
    model(rng.normal(size=(2, 3)))
    assert model.backward_parameters(np.ones((2, 3))) is None
    assert model[0].backward_calls == 0


def test_linear_backward_parameters_matches_backward_and_returns_nothing(rng):
    layer = nn.Linear(5, 3, rng=rng, dtype=F64)
    x, g = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    layer(x)
    layer.backward(g)
    expected = [layer.weight.grad.copy(), layer.bias.grad.copy()]
    layer.zero_grad()
    assert layer.backward_parameters(g) is None
    np.testing.assert_array_equal(layer.weight.grad, expected[0])
    np.testing.assert_array_equal(layer.bias.grad, expected[1])
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(4, 3\), got \(4, 2\)"):
        layer.backward_parameters(g[:, :2])


def test_gradients_accumulate_until_zero_grad(rng):
    layer = nn.Linear(3, 2, rng=rng, dtype=F64)
    x, g = rng.normal(size=(4, 3)), rng.normal(size=(4, 2))
    layer(x)
    layer.backward(g)
    once = layer.weight.grad.copy()
    layer(x)
    layer.backward(g)
    np.testing.assert_allclose(layer.weight.grad, 2 * once)
    layer.zero_grad()
    assert not layer.weight.grad.any()


def test_dropout_scales_kept_entries_and_is_the_identity_in_eval_mode(rng):
    drop = nn.Dropout(0.25, rng=rng)
    x = np.ones((200, 50), dtype=np.float32)
    out = drop(x)
    kept = out != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(out[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(drop.backward(np.ones_like(x)), out)
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(200, 50\), got \(1, 50\)"):
        drop.backward(np.ones((1, 50), dtype=np.float32))  # broadcast silently before
    drop.eval()
    np.testing.assert_array_equal(drop(x), x)
    with pytest.raises(ValueError, match=r"output's shape \(200, 50\), got \(7, 9\)"):
        drop.backward(np.ones((7, 9), dtype=np.float32))


FLOAT32_LAYERS = {  # name: (layer, input shape); every layer built in float32
    "linear": (lambda rng: nn.Linear(4, 3, rng=rng), (2, 4)),
    "conv": (lambda rng: nn.Conv2d(2, 3, 3, rng=rng), (2, 2, 5, 5)),
    "max pool": (lambda rng: nn.MaxPool2d(2), (2, 2, 4, 4)),
    "avg pool": (lambda rng: nn.AvgPool2d(2), (2, 2, 4, 4)),
    "upsample": (lambda rng: nn.Upsample(scale_factor=2), (2, 2, 3, 3)),
    "relu": (lambda rng: nn.ReLU(), (2, 5)),
    "sigmoid": (lambda rng: nn.Sigmoid(), (2, 5)),
    "tanh": (lambda rng: nn.Tanh(), (2, 5)),
    "flatten": (lambda rng: nn.Flatten(), (2, 2, 3, 3)),
    "dropout": (lambda rng: nn.Dropout(0.5, rng=rng), (2, 5)),
}


@pytest.mark.parametrize("case", FLOAT32_LAYERS)
def test_every_layer_refuses_a_grad_out_that_is_not_a_float_array_and_casts_float64(case, rng):
    """One rule for grad_out in every layer, as Conv2d and the functional ops had it: a float32 or
    float64 array of the output's shape, used in the layer's dtype. Linear and the activations took an
    integer or complex grad_out (complex dJ/dx from ReLU, a numpy casting error from Linear) and
    returned float64 dJ/dx for a float64 grad_out."""
    make, shape = FLOAT32_LAYERS[case]
    layer = make(rng)
    x = rng.normal(size=shape).astype(np.float32)
    out = layer(x)
    grad = rng.normal(size=out.shape)
    for bad, got in (
        (grad.astype(np.int64), "int64"),
        (grad.astype(complex), "complex128"),
        (grad > 0, "bool"),
    ):
        with pytest.raises(
            TypeError,
            match=rf"grad_out must have dtype float32 or float64, got {got} "
            r"\(convert with grad_out.astype\(np.float32\)\)",
        ):
            layer.backward(bad)
    with pytest.raises(TypeError, match=r"grad_out must be a numpy array of the output's shape .*got list"):
        layer.backward(grad.tolist())
    layer.zero_grad()
    grad_x = layer.backward(grad)  # float64
    grads = [p.grad.copy() for p in layer.parameters()]
    assert grad_x.dtype == np.float32 and all(g.dtype == np.float32 for g in grads)
    layer.zero_grad()
    np.testing.assert_array_equal(layer.backward(grad.astype(np.float32)), grad_x)  # the same as cast first
    for p, g in zip(layer.parameters(), grads, strict=True):
        np.testing.assert_array_equal(p.grad, g)


def test_default_initialisation_and_dtypes_follow_pytorch(rng):
    conv = nn.Conv2d(4, 8, 3, rng=np.random.default_rng(1))
    assert conv.weight.data.dtype == np.float32 and conv.weight.shape == (8, 4, 3, 3)
    bound = 1 / np.sqrt(4 * 3 * 3)  # PyTorch: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases
    for p in (conv.weight.data, conv.bias.data):
        assert np.abs(p).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound and abs(conv.weight.data.mean()) < 0.05
    again = nn.Conv2d(4, 8, 3, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(conv.weight.data, again.weight.data)
    other = nn.Conv2d(4, 8, 3, rng=np.random.default_rng(2))
    assert not np.array_equal(conv.weight.data, other.weight.data)
    assert nn.Linear(3, 2, dtype=np.float64).weight.data.dtype == np.float64
    with pytest.raises(TypeError, match="dtype must be float32 or float64"):
        nn.Linear(3, 2, dtype=np.int32)


BAD_LAYER_ARGUMENTS = {
    # name: (call, exception, pattern); int() truncated 2.5 to 2 and True to 1, and any truthy bias was True
    "Conv2d channels float": (lambda: nn.Conv2d(1, 2.5, 3), TypeError, r"Conv2d: out_channels .* got 2.5"),
    "Conv2d channels bool": (lambda: nn.Conv2d(True, 2, 3), TypeError, r"Conv2d: in_channels .* got True"),
    "Conv2d channels 0": (
        lambda: nn.Conv2d(1, 0, 3),
        ValueError,
        r"out_channels must be a positive int, got 0",
    ),
    "Conv2d bias string": (lambda: nn.Conv2d(1, 2, 3, bias="no"), TypeError, r"bias must be True or False"),
    "Conv2d rng int": (lambda: nn.Conv2d(1, 2, 3, rng=3), TypeError, r"Conv2d: rng must be a numpy.random"),
    "Linear features float": (lambda: nn.Linear(2.9, 1), TypeError, r"Linear: in_features .* got 2.9"),
    "Linear features string": (lambda: nn.Linear(2, "a"), TypeError, r"out_features .* got 'a'"),
    "Linear features None": (lambda: nn.Linear(None, 2), TypeError, r"in_features .* got None"),
    "Linear bias 1": (
        lambda: nn.Linear(2, 2, bias=1),
        TypeError,
        r"Linear: bias must be True or False, got 1",
    ),
    "Dropout p string": (
        lambda: nn.Dropout("0.5"),
        TypeError,
        r"Dropout: p must be a real number in \[0, 1\)",
    ),
    "Dropout p bool": (lambda: nn.Dropout(True), TypeError, r"p must be a real number .* got True"),
    "Dropout p 1": (lambda: nn.Dropout(1.0), ValueError, r"Dropout: p must be in \[0, 1\), got 1.0"),
    "Dropout p NaN": (lambda: nn.Dropout(float("nan")), ValueError, r"p must be in \[0, 1\), got nan"),
    "Dropout rng int": (lambda: nn.Dropout(0.5, rng=3), TypeError, r"Dropout: rng must be .* got int"),
}


@pytest.mark.parametrize("name", BAD_LAYER_ARGUMENTS)
def test_layer_constructors_refuse_what_they_would_coerce(name):
    _raises_exactly(*BAD_LAYER_ARGUMENTS[name])


def test_layer_constructors_take_numpy_integers_and_bools():
    conv = nn.Conv2d(np.int64(2), np.int32(3), 3, bias=np.bool_(False))
    assert (conv.in_channels, conv.out_channels, conv.bias) == (2, 3, None)
    assert type(conv.in_channels) is int
    linear = nn.Linear(np.int64(4), np.int16(2), bias=True)
    assert linear.weight.shape == (2, 4) and linear.bias.shape == (2,)
    assert nn.Dropout(np.float32(0.25)).p == 0.25 and nn.Dropout(0).p == 0.0


def test_linear_initialisation_is_uniform_within_one_over_sqrt_fan_in():
    """PyTorch's U(-1/sqrt(in_features), 1/sqrt(in_features)) for weight and bias; in_features = 400
    and out_features = 7 differ, so a bound from the fan-out (1/sqrt(7) = 0.38) would show."""
    rng = np.random.default_rng(3)
    layers = [nn.Linear(400, 7, rng=rng) for _ in range(20)]
    bound = 1 / np.sqrt(400)
    weights = np.concatenate([layer.weight.data.ravel() for layer in layers])
    biases = np.concatenate([layer.bias.data for layer in layers])  # 7 per layer: pooled for the spread
    assert layers[0].weight.shape == (7, 400) and layers[0].bias.shape == (7,)
    for values in (weights, biases):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.9 * bound and abs(values.mean()) < 0.1 * bound
        assert np.mean(values < 0) == pytest.approx(0.5, abs=0.1)  # symmetric about 0


def test_lenet_has_lenets_parameter_count(rng):
    model = nn.lenet(rng=rng)
    assert sum(p.data.size for p in model.parameters()) == 61_706
    assert model(np.zeros((2, 1, 28, 28), dtype=np.float32)).shape == (2, 10)


def test_errors_between_layers_name_the_layer_and_the_shapes(rng):
    model = nn.Sequential(nn.Conv2d(1, 4, 3, rng=rng), nn.Flatten(), nn.Linear(400, 10, rng=rng))
    with pytest.raises(ValueError) as error:
        model(np.zeros((8, 1, 28, 28), dtype=np.float32))
    message = str(error.value)
    assert "layer 2 of Sequential" in message and "Linear(in_features=400" in message
    assert "(N, 400)" in message and "(8, 2704)" in message
    with pytest.raises(
        ValueError, match=r"layer 0 of Sequential, Conv2d\(1, 4.*\(N, 1, H, W\), got \(8, 3, 28, 28\)"
    ):
        model(np.zeros((8, 3, 28, 28), dtype=np.float32))
    with pytest.raises(TypeError, match="dtype float64 but the layer's parameters are float32"):
        model(np.zeros((8, 1, 28, 28)))
    with pytest.raises(RuntimeError, match="backward called before forward"):
        nn.Linear(2, 2, rng=rng).backward(np.zeros((1, 2), dtype=np.float32))
    layer = nn.Linear(2, 3, rng=rng)
    layer(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"grad_out must have the output's shape \(4, 3\), got \(4, 2\)"):
        layer.backward(np.zeros((4, 2), dtype=np.float32))
    with pytest.raises(ValueError, match=r"layer 0 of Sequential, backward: .*output's shape \(4, 3\)"):
        nn.Sequential(layer).backward_parameters(np.zeros((4, 2), dtype=np.float32))


def test_state_dict_round_trips_through_npz(rng, tmp_path):
    model, other = nn.lenet(rng=rng), nn.lenet(rng=np.random.default_rng(99))
    x = rng.random((3, 1, 28, 28), dtype=np.float32)
    model.save(tmp_path / "lenet.npz")
    other.load(tmp_path / "lenet.npz")
    np.testing.assert_array_equal(other(x), model(x))
    state = model.state_dict()
    state["0.weight"][...] = 0  # a copy: changing it leaves the model alone
    assert model[0].weight.data.any()
    del state["11.bias"]
    with pytest.raises(ValueError, match=r"missing \['11.bias'\]"):
        other.load_state_dict(state)
    state["11.bias"] = np.zeros(3)
    with pytest.raises(ValueError, match=r"11.bias has shape \(10,\) in the model, got \(3,\)"):
        other.load_state_dict(state)


def test_save_and_load_round_trip_through_any_path_as_torch(rng, tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(1)}, tmp_path / "torch_weights")
    assert torch.load(tmp_path / "torch_weights")["w"].item() == 1.0  # the path as given, no suffix added
    model, other = nn.Linear(2, 3, rng=rng), nn.Linear(2, 3, rng=np.random.default_rng(99))
    model.save(tmp_path / "weights")  # numpy wrote weights.npz, which load("weights") did not find
    assert (tmp_path / "weights").exists()
    other.load(tmp_path / "weights")
    np.testing.assert_array_equal(other.weight.data, model.weight.data)


def test_load_state_dict_checks_everything_before_it_copies_anything(rng):
    model, source = nn.lenet(rng=rng), nn.lenet(rng=np.random.default_rng(99))
    before = model.state_dict()
    bad_shape = source.state_dict()
    bad_shape["7.weight"] = np.zeros((1, 1))  # layers 0 and 3 come first: they were overwritten before
    bad_dtype = source.state_dict()
    bad_dtype["9.bias"] = bad_dtype["9.bias"].astype(np.complex64)  # was loaded with a ComplexWarning
    for state, error, pattern in (
        (bad_shape, ValueError, r"7.weight has shape \(120, 400\) in the model, got \(1, 1\)"),
        (bad_dtype, TypeError, r"9.bias must hold real numbers \(float or integer\), got complex64"),
        ({**source.state_dict(), "11.bias": np.array(["a"] * 10)}, TypeError, r"11.bias .* got <U1"),
        # a ragged list: numpy's own "inhomogeneous shape" error named no parameter
        ({**source.state_dict(), "11.bias": [[0.0] * 9, [0.0]]}, ValueError, r"load_state_dict: 11.bias .*"),
        (list(source.state_dict().items()), TypeError, r"state must be a dict of name -> array, got list"),
    ):
        with pytest.raises(error, match=pattern):
            model.load_state_dict(state)
        for name, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[name], err_msg=name)
    state = {name: value.astype(np.float64) for name, value in source.state_dict().items()}
    model.load_state_dict(state)  # other real dtypes are converted to the parameters' float32
    assert all(p.data.dtype == np.float32 for p in model.parameters())
    np.testing.assert_array_equal(model[0].weight.data, source[0].weight.data)


def test_train_and_eval_reach_every_layer(rng):
    model = nn.Sequential(nn.Linear(2, 2, rng=rng), nn.Sequential(nn.Dropout(0.5, rng=rng)))
    model.eval()
    assert not model.training and not model[1][0].training
    model.train()
    assert model[1][0].training


def test_a_layer_used_twice_in_a_sequential_is_refused(rng):
    # torch's autograd keeps each use's inputs apart; here a layer keeps only its last forward's, so
    # the first use's backward read the second use's mask: dJ/dx off by 0.3 next to torch's, silently
    relu = nn.ReLU()
    with pytest.raises(ValueError, match=r"^Sequential: ReLU\(\) is in layer 1 and again in layer 3 "):
        nn.Sequential(nn.Linear(3, 3, rng=rng), relu, nn.Linear(3, 3, rng=rng), relu)
    block = nn.Sequential(nn.Linear(3, 3, rng=rng), nn.Tanh())
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=3\) is in layer 0 and again"):
        nn.Sequential(block, nn.Sequential(block[0]))
    nn.Sequential(block, nn.ReLU(), nn.Sequential(nn.ReLU()))  # distinct objects of one kind are fine

    class Tied(nn.Module):  # a layer may share its own parts: that is its own backward's business
        def __init__(self):
            self.encode = self.decode = nn.Linear(3, 3, rng=rng)

    nn.Sequential(Tied())


class Tied(nn.Module):
    """One Linear held under two names, as weight tying does."""

    def __init__(self, rng):
        self.encoder = nn.Linear(3, 3, rng=rng)
        self.decoder = self.encoder


def test_a_parameter_held_twice_is_one_parameter_as_torch(rng):
    """parameters() listed the tied Linear's weight and bias twice, so an optimiser stepped them twice
    (and now refuses the list); as in torch, each comes once, and state_dict keeps both names."""
    torch = pytest.importorskip("torch")
    model = Tied(rng)
    twin = torch.nn.Module()
    twin.encoder = twin.decoder = torch.nn.Linear(3, 3)
    assert [id(p) for p in model.parameters()] == [id(model.encoder.weight), id(model.encoder.bias)]
    assert len(model.parameters()) == len(list(twin.parameters())) == 2
    assert list(model.state_dict()) == list(twin.state_dict())
    p = model.encoder.weight
    before, p.grad[...] = p.data.copy(), 1.0
    optim.SGD(model.parameters(), lr=0.5).step()
    np.testing.assert_allclose(p.data, before - 0.5)  # one step, not two


def test_a_slice_of_a_sequential_is_a_sequential_as_torch(rng):
    torch = pytest.importorskip("torch")
    assert isinstance(torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh())[:1], torch.nn.Sequential)
    model = nn.lenet(rng=rng)
    x = rng.random((2, 1, 28, 28), dtype=np.float32)
    features = model[:6]  # was a list: features(x) raised "'list' object is not callable"
    assert isinstance(features, nn.Sequential) and features[0] is model[0]
    np.testing.assert_array_equal(model[6:](features(x)), model(x))


def test_train_refuses_a_mode_that_is_not_a_bool(rng):
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        torch.nn.Dropout().train("no")
    model = nn.Sequential(nn.Dropout(0.5, rng=rng))
    with pytest.raises(TypeError, match=r"^train: mode must be True or False, got 'no'$"):
        model.train("no")  # was read as bool("no"): training mode, the opposite of what was meant
    assert model.training and model[0].training
    model.train(np.False_)
    assert not model.training and not model[0].training


# --- the same layers in PyTorch, same weights and inputs ---------------------------------------------


def torch_pair(layer, torch, tnn):
    """The torch.nn equivalent of one of our layers, holding the same weights (float64)."""
    if isinstance(layer, nn.Conv2d):
        twin = tnn.Conv2d(
            layer.in_channels,
            layer.out_channels,
            layer.kernel_size,
            layer.stride,
            layer.padding,
            bias=layer.bias is not None,
        )
    elif isinstance(layer, nn.Linear):
        twin = tnn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    elif isinstance(layer, nn.MaxPool2d):
        twin = tnn.MaxPool2d(layer.kernel_size, layer.stride)
    elif isinstance(layer, nn.AvgPool2d):
        twin = tnn.AvgPool2d(layer.kernel_size, layer.stride)
    else:
        twin = {nn.ReLU: tnn.ReLU, nn.Sigmoid: tnn.Sigmoid, nn.Tanh: tnn.Tanh, nn.Flatten: tnn.Flatten}[
            type(layer)
        ]()
    twin = twin.double()
    with torch.no_grad():
        for name, p in layer.named_parameters():
            getattr(twin, name).copy_(torch.from_numpy(p.data))
    return twin


@pytest.mark.parametrize("case", list(LAYERS))
def test_layers_match_torch_outputs_and_gradients(case, rng):
    torch = pytest.importorskip("torch")
    make, shape = LAYERS[case]
    layer = make(rng)
    twin = torch_pair(layer, torch, torch.nn)
    x, ours = rng.normal(size=shape), None
    ours = layer(x)
    g = rng.normal(size=ours.shape)
    grad_x = layer.backward(g)
    tx = torch.from_numpy(x).requires_grad_()
    theirs = twin(tx)
    theirs.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ours, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in layer.named_parameters():
        np.testing.assert_allclose(p.grad, getattr(twin, name).grad.numpy(), rtol=1e-10, atol=1e-12)


def test_flatten_takes_an_empty_batch_as_torch():
    torch = pytest.importorskip("torch")
    x = np.zeros((0, 3, 2, 2))
    theirs = torch.nn.Flatten()(torch.from_numpy(x))
    layer = nn.Flatten()
    ours = layer(x)  # numpy's reshape(0, -1) raised "cannot reshape array of size 0"
    assert ours.shape == tuple(theirs.shape) == (0, 12)
    assert layer.backward(np.zeros((0, 12))).shape == x.shape


def test_upsample_takes_torchs_arguments_in_torchs_order(rng):
    """torch.nn.Upsample(size=None, scale_factor=None, mode='nearest'): nn.Upsample(2) scaled by 2 here
    where torch makes a 2 x 2 output, silently, and mode='nearest' was an unexpected keyword."""
    torch = pytest.importorskip("torch")
    x = rng.normal(size=(2, 3, 2, 3)).astype(np.float32)
    with pytest.raises(ValueError, match=r"^Upsample: size is not supported \(only scale_factor, an int\)"):
        nn.Upsample(2)
    with pytest.raises(ValueError, match=r"^Upsample: mode must be 'nearest', the only mode here, got 'bil"):
        nn.Upsample(scale_factor=2, mode="bilinear")
    for layer, twin in (
        (nn.Upsample(scale_factor=3, mode="nearest"), torch.nn.Upsample(scale_factor=3, mode="nearest")),
        (nn.Upsample(None, 2), torch.nn.Upsample(None, 2)),
    ):
        tx = torch.from_numpy(x).requires_grad_()
        theirs = twin(tx)
        grad_out = rng.normal(size=tuple(theirs.shape)).astype(np.float32)
        theirs.backward(torch.from_numpy(grad_out))
        np.testing.assert_array_equal(layer(x), theirs.detach().numpy())
        np.testing.assert_allclose(layer.backward(grad_out), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_lenet_takes_an_empty_batch_as_torch(rng):
    """Its convolutions refused N = 0 ('every axis of x must be at least 1'), the only layers that did."""
    torch = pytest.importorskip("torch")
    model, x = nn.lenet(rng=rng), np.zeros((0, 1, 28, 28), dtype=np.float32)
    logits = model(x)
    assert logits.shape == tuple(torch_lenet()(torch.from_numpy(x)).shape) == (0, 10)
    assert model.backward(np.zeros((0, 10), dtype=np.float32)).shape == x.shape
    model.backward_parameters(np.zeros((0, 10), dtype=np.float32))
    assert not any(p.grad.any() for p in model.parameters())


def test_lenet_matches_torch_in_float32_and_shares_its_state_dict_names(rng):
    torch = pytest.importorskip("torch")
    model = nn.lenet(rng=rng)
    twin = torch_lenet()
    assert list(twin.state_dict()) == list(model.state_dict())
    twin.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x, labels = rng.random((8, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, size=8)
    loss_fn = nn.CrossEntropyLoss()
    loss = loss_fn(model(x), labels)
    model.backward(loss_fn.backward())
    t_loss = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(labels))
    t_loss.backward()
    assert loss == pytest.approx(t_loss.item(), rel=1e-5)
    for (name, p), t in zip(model.named_parameters(), twin.parameters(), strict=True):
        np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-3, atol=1e-5, err_msg=name)


def test_mse_loss_relates_to_torch_as_documented(rng):
    torch = pytest.importorskip("torch")
    a, y = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    ta, ty = torch.from_numpy(a), torch.from_numpy(y)
    summed = torch.nn.functional.mse_loss(ta, ty, reduction="sum").item()
    assert nn.MSELoss("sum")(a, y) == pytest.approx(summed / 2)
    assert nn.MSELoss("mean")(a, y) == pytest.approx(summed / 2 / 4)


def test_cross_entropy_matches_torch(rng):
    torch = pytest.importorskip("torch")
    z, labels = rng.normal(size=(6, 5)) * 10, rng.integers(0, 5, size=6)
    tz = torch.from_numpy(z).requires_grad_()
    t_loss = torch.nn.functional.cross_entropy(tz, torch.from_numpy(labels))
    t_loss.backward()
    ce = nn.CrossEntropyLoss()
    assert ce(z, labels) == pytest.approx(t_loss.item(), rel=1e-12)
    np.testing.assert_allclose(ce.backward(), tz.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(("dtype", "reach", "rtol"), [(np.float32, 87, 1e-6), (np.float64, 700, 1e-14)])
def test_sigmoid_keeps_its_relative_precision_in_both_tails_as_torch(dtype, reach, rtol):
    """Out to where torch's sigmoid is still a normal number: (1 + tanh(z/2)) / 2 gave 0 from z = -20 in
    float32 (torch: 2.1e-9) and z = -38 in float64 (3.1e-17), and lost digits well before (a relative
    error of 2e-4 at -10 in float32), so log(sigmoid(z)) was -inf and the gradient 0 where neither is."""
    torch = pytest.importorskip("torch")
    z = np.concatenate([np.linspace(-reach, reach, 2001), [0.0, -0.0, 1e-30, -1e-30]]).astype(dtype)
    layer = nn.Sigmoid()
    a = layer(z)
    grad = layer.backward(np.ones_like(z))
    tz = torch.from_numpy(z).requires_grad_()
    ta = torch.sigmoid(tz)
    ta.sum().backward()
    assert a.dtype == grad.dtype == dtype
    np.testing.assert_allclose(a, ta.detach().numpy(), rtol=rtol, atol=0)
    np.testing.assert_allclose(grad, tz.grad.numpy(), rtol=rtol, atol=0)
    special = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    np.testing.assert_array_equal(nn.Sigmoid()(special), torch.sigmoid(torch.from_numpy(special)).numpy())


@pytest.mark.parametrize(
    "index, error, message",
    [
        (5, IndexError, "Sequential: index 5 is out of range for 2 layers (0 to 1, or -2 to -1)"),
        (-3, IndexError, "Sequential: index -3 is out of range for 2 layers (0 to 1, or -2 to -1)"),
        ("0", TypeError, "Sequential: index must be an int or a slice, got '0'"),
    ],
)
def test_a_sequential_index_out_of_range_or_of_the_wrong_type_says_which(index, error, message):
    """model[5] raised the bare 'list index out of range' of the list behind it."""
    model = nn.Sequential(nn.ReLU(), nn.Tanh())
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        model[index]
    assert isinstance(model[-1], nn.Tanh) and isinstance(model[np.int64(0)], nn.ReLU)
