"""Do the optimisers update parameters exactly as the lecture's rule and as torch.optim do?"""

from __future__ import annotations

import numpy as np
import pytest

from course import optim
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


def test_bad_arguments_are_named():
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="lr must be positive"):
        optim.SGD([p], lr=0)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([p], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="params is empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match=r"params\[0\] must be a Parameter"):
        optim.SGD([np.ones(2)], lr=0.1)
