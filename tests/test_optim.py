"""Do the optimisers update parameters exactly as the lecture's rule and as torch.optim do?"""

from __future__ import annotations

import numpy as np
import pytest

from course import nn, optim
from course.nn import Parameter


def gradient_sequence(rng, shapes, steps):
    return [[rng.normal(size=s) for s in shapes] for _ in range(steps)]


def run_ours(make, start, grads):
    params = [Parameter(w.copy()) for w in start]
    opt = make(params)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad[...] = g
        opt.step()
        opt.zero_grad()
    return [p.data for p in params]


def run_torch(torch, make, start, grads):
    params = [torch.tensor(w.copy(), requires_grad=True) for w in start]
    opt = make(params)
    for step in grads:
        for p, g in zip(params, step, strict=True):
            p.grad = torch.from_numpy(g.copy())
        opt.step()
    return [p.detach().numpy() for p in params]


def test_plain_sgd_is_the_lectures_update():
    rng = np.random.default_rng(0)
    w, g = rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
    p = Parameter(w.copy())
    p.grad[...] = g
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, w - 0.1 * g)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (lambda p: optim.SGD(p, lr=0.1), lambda t, p: t.optim.SGD(p, lr=0.1)),
        (lambda p: optim.SGD(p, lr=0.05, momentum=0.9), lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.9)),
        (
            lambda p: optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.01),
            lambda t, p: t.optim.SGD(p, lr=0.05, momentum=0.5, weight_decay=0.01),
        ),
        (lambda p: optim.Adam(p, lr=0.01), lambda t, p: t.optim.Adam(p, lr=0.01)),
        (
            lambda p: optim.Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
            lambda t, p: t.optim.Adam(p, lr=0.003, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        ),
    ],
)
def test_optimisers_match_torch_over_several_steps(ours, theirs):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    start = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    grads = gradient_sequence(rng, [(4, 3), (3,)], steps=6)
    for got, want in zip(
        run_ours(ours, start, grads), run_torch(torch, lambda p: theirs(torch, p), start, grads), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


def test_updates_keep_float32_parameters_float32():
    p = Parameter(np.ones(3, dtype=np.float32))
    p.grad[...] = 0.5
    for opt in (optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1), optim.Adam([p])):
        opt.step()
        opt.step()
    assert p.data.dtype == np.float32 and p.grad.dtype == np.float32


@pytest.mark.parametrize(
    "make", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9), lambda p: optim.Adam(p)], ids=["SGD", "Adam"]
)
def test_zero_grad_sets_every_gradient_to_zero_and_nothing_else(make):
    """The other tests write .grad by hand before each step; here a layer adds into it, as in training."""
    rng = np.random.default_rng(4)
    layer = nn.Linear(3, 2, rng=rng)
    x, g = rng.normal(size=(5, 3)).astype(np.float32), rng.normal(size=(5, 2)).astype(np.float32)
    opt = make(layer.parameters())
    layer(x)
    layer.backward(g)
    once = [p.grad.copy() for p in layer.parameters()]
    data = [p.data.copy() for p in layer.parameters()]
    assert all(grad.any() for grad in once)
    opt.zero_grad()
    for p, value in zip(layer.parameters(), data, strict=True):
        assert not p.grad.any() and p.grad.shape == p.data.shape and p.grad.dtype == np.float32
        np.testing.assert_array_equal(p.data, value)  # the parameters themselves are left alone
    layer.backward(g)  # gradients accumulate from zero again: one backward's worth, not two
    for p, grad in zip(layer.parameters(), once, strict=True):
        np.testing.assert_array_equal(p.grad, grad)


BAD_OPTIMISER_ARGUMENTS = {
    # name: (call on a Parameter p, exception, pattern); each one was accepted or raised a raw error before
    "lr 0": (lambda p: optim.SGD([p], lr=0), ValueError, r"SGD: lr must be a positive number, got 0"),
    "lr inf": (lambda p: optim.SGD([p], lr=float("inf")), ValueError, r"SGD: lr must be .* got inf"),
    "lr nan": (lambda p: optim.Adam([p], lr=float("nan")), ValueError, r"Adam: lr must be .* got nan"),
    "lr string": (
        lambda p: optim.SGD([p], lr="0.1"),
        TypeError,
        r"SGD: lr must be a positive number, got '0.1'",
    ),
    "lr bool": (lambda p: optim.SGD([p], lr=True), TypeError, r"lr must be a positive number, got True"),
    "momentum 1.5": (
        lambda p: optim.SGD([p], lr=0.1, momentum=1.5),
        ValueError,
        r"SGD: momentum .* \[0, 1\)",
    ),
    "momentum nan": (
        lambda p: optim.SGD([p], 0.1, momentum=float("nan")),
        ValueError,
        r"momentum .* got nan",
    ),
    "SGD weight_decay nan": (
        lambda p: optim.SGD([p], lr=0.1, weight_decay=float("nan")),
        ValueError,
        r"SGD: weight_decay must be a number >= 0, got nan",
    ),
    "SGD weight_decay -1": (
        lambda p: optim.SGD([p], 0.1, weight_decay=-1),
        ValueError,
        r"weight_decay .* -1",
    ),
    "Adam weight_decay nan": (
        lambda p: optim.Adam([p], weight_decay=float("nan")),
        ValueError,
        r"Adam: weight_decay must be a number >= 0, got nan",
    ),
    "Adam weight_decay inf": (lambda p: optim.Adam([p], weight_decay=float("inf")), ValueError, r"got inf"),
    "Adam eps 0": (
        lambda p: optim.Adam([p], eps=0),
        ValueError,
        r"Adam: eps must be a positive number, got 0$",
    ),
    "Adam eps string": (lambda p: optim.Adam([p], eps="1e-8"), TypeError, r"Adam: eps must be .* got '1e-8'"),
    "Adam betas scalar": (
        lambda p: optim.Adam([p], betas=0.9),
        TypeError,
        r"Adam: betas must be a pair \(beta1, beta2\) of numbers in \[0, 1\), got 0.9",
    ),
    "Adam betas triple": (
        lambda p: optim.Adam([p], betas=(0.9, 0.9, 0.9)),
        TypeError,
        r"betas must be a pair",
    ),
    "Adam beta2 1": (lambda p: optim.Adam([p], betas=(0.9, 1.0)), ValueError, r"Adam: betas\[1\] .* got 1.0"),
    "Adam beta1 string": (lambda p: optim.Adam([p], betas=("a", 0.9)), TypeError, r"betas\[0\] .* got 'a'"),
    "params a Module": (
        lambda p: optim.SGD(nn.Linear(2, 2), lr=0.1),
        TypeError,
        r"SGD: params must be an iterable of Parameters; pass model.parameters\(\), got Linear",
    ),
    "params a Sequential": (
        lambda p: optim.Adam(nn.Sequential(nn.Linear(2, 2))),
        TypeError,
        r"pass model.parameters\(\), got Sequential",
    ),
    "params one Parameter": (
        lambda p: optim.SGD(p, lr=0.1),
        TypeError,
        r"pass model.parameters\(\), got Param",
    ),
    "params empty": (
        lambda p: optim.Adam([]),
        ValueError,
        r"Adam: params is empty; pass model.parameters\(\)",
    ),
    "params with one Parameter twice": (  # it took two steps per step(); torch only warns
        lambda p: optim.SGD([nn.Parameter(np.ones(3)), p, p], lr=0.1),
        ValueError,
        r"SGD: params\[2\] is params\[1\] again: a Parameter listed twice would take two steps",
    ),
    "params an array": (
        lambda p: optim.SGD([np.ones(2)], lr=0.1),
        TypeError,
        r"params\[0\] must be a Parameter",
    ),
}


@pytest.mark.parametrize("name", BAD_OPTIMISER_ARGUMENTS)
def test_bad_arguments_are_named(name):
    call, exception, pattern = BAD_OPTIMISER_ARGUMENTS[name]
    with pytest.raises(exception, match=pattern) as info:
        call(Parameter(np.ones(2)))
    assert type(info.value) is exception


@pytest.mark.parametrize(
    ("data", "got"),
    [(np.array([1, 2, 3]), "int64"), (np.array([True]), "bool"), (np.ones(2, complex), "complex128")],
)
def test_a_parameter_holds_floats_as_in_torch(data, got):
    """SGD on an integer Parameter changed nothing: its step, w -= int64(lr) * g, cast lr = 0.1 to 0
    (and Adam raised numpy's casting error). torch refuses such a parameter outright."""
    with pytest.raises(TypeError, match=rf"^Parameter: data must be a numpy array of floats, got {got}"):
        Parameter(data)
    with pytest.raises(TypeError, match=r"^Parameter: data must be a numpy array of floats, got list"):
        Parameter([1.0, 2.0])
    for dtype in (np.float16, np.float32, np.float64):
        p = Parameter(np.ones(2, dtype=dtype))
        p.grad[...] = 1
        optim.SGD([p], lr=0.5).step()
        assert p.data.dtype == dtype and (p.data == 0.5).all()


def test_numpy_numbers_are_accepted_and_kept_as_floats():
    p = Parameter(np.ones(2, dtype=np.float32))
    sgd = optim.SGD([p], lr=np.float32(0.5), momentum=np.float64(0.5), weight_decay=0)
    adam = optim.Adam((q for q in [p]), lr=np.float64(1e-3), betas=[np.float32(0.5), 0.9], eps=np.int64(1))
    assert type(sgd.lr) is float and sgd.momentum == 0.5 and sgd.weight_decay == 0.0
    assert adam.betas == (0.5, 0.9) and adam.eps == 1.0
