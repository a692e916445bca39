"""Exercises of learning: the cost and gradient descent (at the end of 03_structure), then, in
04_learning, backpropagation through dense, convolutional and pooling layers, and the numerical
gradient that checks them all.

Each backward exercise is judged against its `course.functional` reference and, in one case per
exercise, against central finite differences (float64) of the forward pass, which needs no backward
code at all: for J = sum(forward(inputs) * grad_out), dJ/dinput is what the backward must return.
The forward there is the plain-numpy one of `numpy_ops`, independent of the Numba kernels.
"""

from __future__ import annotations

import functools

import numpy as np

from course import functional, gradcheck
from course.grading import numpy_ops, references
from course.grading.compare import compare_number
from course.grading.exercise import Case, Exercise
from course.grading.judging import (
    GRAD_X_SIZE_HINT,
    GRADIENT_SIZE_HINTS,
    judge_array,
    judge_parts,
    matching_number,
)
from course.grading.kernel_cases import (
    VISIBLE_CONV,
    VISIBLE_POOL,
    ConvSetup,
    PoolSetup,
    hidden_conv,
    hidden_pool,
    pair,
    zero_padding_hint,
)
from course.grading.misconceptions import conv2d_backward_variants, pool_backward_variants
from course.objectives import scalar_function

FD_EPS = 1e-3  # the forwards are (piecewise) linear in each input, so a large step is exact and stable
FD_TOLERANCE = (1e-6, 1e-8)  # (rtol, atol): finite differences carry rounding error the reference has not
FD_LABEL = "agrees with central finite differences of the forward pass (float64)"


def _finite_differences(forward, grad_out, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """dJ/d(each input) for J = sum(forward(**inputs) * grad_out), by central differences."""

    def partial_cost(name, value):
        return float(np.sum(forward(**{**inputs, name: value}) * grad_out))

    return {
        name: gradcheck.numerical_gradient(functools.partial(partial_cost, name), value, eps=FD_EPS)
        for name, value in inputs.items()
    }


def _repeat_unless_finite_differences(exercise: Exercise, case: Case, rng: np.random.Generator):
    """The default second call, except for the finite-difference case: its hundreds of forward passes
    would double, and every other case already calls the function twice."""
    return None if case.name == FD_LABEL else Exercise.repeat(exercise, case, rng)


class Conv2dBackward(Exercise):
    """conv2d_backward(grad_out, x, w, stride=1, padding=0) -> (grad_x, grad_w, grad_b)."""

    id = "conv2d_backward"
    notebook = "04_learning"
    title = "backpropagation through a convolution"
    points = 4.0
    reference = staticmethod(references.conv2d_backward)
    names = ("grad_x", "grad_w", "grad_b")
    fd_setup = ConvSetup(FD_LABEL, 2, 2, 5, 6, 3, 3, 2, stride=(2, 1), padding=(1, 1))
    repeat = _repeat_unless_finite_differences

    def cases(self, rng, hidden):
        setups = hidden_conv(rng) if hidden else [*VISIBLE_CONV, self.fd_setup, CONV_MIXED_DTYPES]
        cases = []
        for setup in setups:
            x, w, _, grad_out = setup.arrays(rng)
            cases.append(Case(setup.label, (grad_out, x, w, setup.stride, setup.padding), hidden=hidden))
        return cases

    def error_hint(self, case, error):
        return zero_padding_hint(case.args[4], error)

    def judge(self, case, output):
        grad_out, x, w, stride, padding = case.args
        if case.name == FD_LABEL:
            bias = np.zeros(w.shape[0])

            (ph, pw) = pair(padding)

            def forward(x, w, b):
                return numpy_ops.correlate(x, w, b, pair(stride), (ph, ph, pw, pw))

            numeric = _finite_differences(forward, grad_out, {"x": x, "w": w, "b": bias})
            return judge_parts(
                tuple(numeric.values()),
                output,
                self.names,
                tolerance=FD_TOLERANCE,
                size_hints=GRADIENT_SIZE_HINTS,
            )
        variants = conv2d_backward_variants(grad_out, x, w, pair(stride), pair(padding))
        return judge_parts(
            self.reference(*case.args), output, self.names, variants, size_hints=GRADIENT_SIZE_HINTS
        )


# "in the dtypes of x, w and grad_out": x's dtype must not decide grad_w's
CONV_MIXED_DTYPES = ConvSetup(
    "float32 x with float64 w and grad_out, stride (2, 1), padding 1: grad_x is float32 (x's dtype), grad_w "
    "and grad_b float64",
    *(2, 2, 5, 6, 3, 3, 2),
    stride=(2, 1),
    padding=1,
    dtype="float32",
    others_dtype="float64",
)


class _PoolBackward(Exercise):
    """Shared cases of max_pool2d_backward(grad_out, x, kernel_size, stride=None) and the average one."""

    notebook = "04_learning"
    points = 3.0
    kind: str
    fd_setup = PoolSetup(FD_LABEL, 2, 2, 5, 6, (3, 2), (2, 1))
    repeat = _repeat_unless_finite_differences
    extra_setups: tuple[PoolSetup, ...] = ()

    def cases(self, rng, hidden):
        setups = hidden_pool(rng) if hidden else [*VISIBLE_POOL, *self.extra_setups, self.fd_setup]
        cases = []
        for setup in setups:
            x, grad_out = setup.arrays(rng)
            # ties are a convention (PyTorch's first maximum) more than a bug: half a case
            weight = 0.5 if setup.ties else 1.0
            cases.append(Case(setup.label, setup.call_args(grad_out, x), weight=weight, hidden=hidden))
        if not hidden:  # "grad_x of x's shape and dtype": a grad_out of another dtype must not decide it
            x, grad_out = POOL_MIXED_DTYPES.arrays(rng)
            cases.append(
                Case(POOL_MIXED_DTYPES.label, POOL_MIXED_DTYPES.call_args(grad_out.astype(np.float64), x))
            )
        return cases

    def judge(self, case, output):
        grad_out, x, kernel, stride = (*case.args, None)[:4]
        kernel = pair(kernel)
        stride = kernel if stride is None else pair(stride)
        if case.name == FD_LABEL:
            forward = functools.partial(numpy_ops.pool, kernel=kernel, stride=stride, reduce=self.reduce)
            (numeric,) = _finite_differences(forward, grad_out, {"x": x}).values()
            return judge_array(numeric, output, "grad_x", tolerance=FD_TOLERANCE, size_hint=GRAD_X_SIZE_HINT)
        variants = pool_backward_variants(grad_out, x, kernel, stride, self.kind)
        return judge_array(self.reference(*case.args), output, "grad_x", variants, size_hint=GRAD_X_SIZE_HINT)


POOL_MIXED_DTYPES = PoolSetup(
    "float32 x with a float64 grad_out, overlapping 3x3 windows with stride 2: grad_x is float32, x's dtype",
    2,
    1,
    6,
    5,
    3,
    2,
    dtype="float32",
)


class MaxPool2dBackward(_PoolBackward):
    """max_pool2d_backward(grad_out, x, kernel_size, stride=None) -> grad_x (N, C, H, W)."""

    id = "max_pool2d_backward"
    title = "backpropagation through max pooling"
    kind = "max"
    reference = staticmethod(functional.max_pool2d_backward)
    reduce = staticmethod(np.max)
    extra_setups = (
        PoolSetup(
            "tied maxima (as after a ReLU): the gradient goes to the first maximum",
            1,
            2,
            5,
            5,
            2,
            1,
            ties=True,
        ),
    )


class AvgPool2dBackward(_PoolBackward):
    """avg_pool2d_backward(grad_out, x, kernel_size, stride=None) -> grad_x (N, C, H, W)."""

    id = "avg_pool2d_backward"
    title = "backpropagation through average pooling"
    kind = "avg"
    reference = staticmethod(functional.avg_pool2d_backward)
    reduce = staticmethod(np.mean)


class MseCost(Exercise):
    """mse_cost(a, y) -> J = 1/2 * sum((a - y)**2)."""

    id = "mse_cost"
    notebook = "03_structure"
    title = "the quadratic cost"
    points = 1.0
    reference = staticmethod(references.mse_cost)

    def cases(self, rng, hidden):
        if hidden:
            lengths = rng.integers(1, 12, size=2).tolist()
            return [
                Case(f"{n} random outputs and targets", (rng.random(n), rng.random(n)), hidden=True)
                for n in lengths
            ]
        return [
            Case("a = [1, 2, 3], y = [1, 0, 0]", (np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))),
            Case("10 random outputs and one-hot targets", (rng.random(10), np.eye(10)[3])),
            Case(
                "float32 outputs of shape (4, 3)",
                (rng.random((4, 3)).astype(np.float32), np.zeros((4, 3), np.float32)),
            ),
        ]

    def judge(self, case, output):
        a, y = case.args
        if isinstance(output, np.ndarray) and output.size == 1:
            output = float(output.reshape(-1)[0])
        expected = self.reference(a, y)
        rtol = 1e-6 if a.dtype == np.float32 else 1e-9
        fraction, message = compare_number(expected, output, "J", rtol=rtol)
        mistakes = [
            ("the 1/2 is missing: J = 1/2 * sum((a - y)**2)", 2.0 * expected),
            (
                "you took the mean of the squares and left out the 1/2: J = 1/2 * sum((a - y)**2) sums "
                "over the outputs and halves the sum",
                2.0 * expected / a.size,
            ),
            (
                "you took half the mean of the squares: J = 1/2 * sum((a - y)**2) sums over the outputs, "
                "it does not average them",
                expected / a.size,
            ),
        ]
        hint = matching_number(output, expected, mistakes, rtol=1e-6) if fraction < 1 else ""
        return fraction, f"{message}\n{hint}" if hint else message


class GradientDescentStep(Exercise):
    """gradient_descent_step(w, grad_w, lr) -> w - lr * grad_w, as a new array (w unchanged)."""

    id = "gradient_descent_step"
    notebook = "03_structure"
    title = "one step of gradient descent"
    points = 1.0
    reference = staticmethod(references.gradient_descent_step)

    def cases(self, rng, hidden):
        if hidden:
            shape = tuple(int(s) for s in rng.integers(1, 6, size=2))
            return [
                Case(
                    f"random {shape} weights, lr 0.3",
                    (rng.standard_normal(shape), rng.standard_normal(shape), 0.3),
                    hidden=True,
                )
            ]
        return [
            Case(
                "a vector of 3 weights, lr 0.1", (np.array([1.0, -2.0, 0.5]), np.array([0.5, 0.5, -1.0]), 0.1)
            ),
            Case(
                "a (4, 3) weight matrix, lr 0.05",
                (rng.standard_normal((4, 3)), rng.standard_normal((4, 3)), 0.05),
            ),
            Case(
                "float32 kernels (2, 1, 3, 3), lr 1.0",
                (
                    rng.standard_normal((2, 1, 3, 3)).astype(np.float32),
                    rng.standard_normal((2, 1, 3, 3)).astype(np.float32),
                    1.0,
                ),
            ),
            # "w's shape and dtype": a gradient of another dtype must not decide it
            Case(
                "float32 weights (3, 2) with a float64 gradient, lr 0.5: the new w is float32, w's dtype",
                (rng.standard_normal((3, 2)).astype(np.float32), rng.standard_normal((3, 2)), 0.5),
            ),
        ]

    def judge(self, case, output):
        w, grad_w, lr = case.args
        variants = [
            ("you stepped uphill: the update is w - lr * grad_w", lambda: w + lr * grad_w),
            ("the learning rate is missing: the update is w - lr * grad_w", lambda: w - grad_w),
        ]
        return judge_array(self.reference(w, grad_w, lr), output, "new w", variants)


class DenseBackward(Exercise):
    """dense_backward(a_prev, w, b, y) -> (grad_w, grad_b, grad_a_prev) for one sigmoid layer."""

    id = "dense_backward"
    notebook = "04_learning"
    title = "backpropagation through a dense sigmoid layer"
    points = 3.0
    reference = staticmethod(references.dense_backward)
    names = ("grad_w", "grad_b", "grad_a_prev")

    def cases(self, rng, hidden):
        sizes = rng.integers(1, 7, size=(2, 2)).tolist() if hidden else [(4, 3), (1, 2), (6, 5)]
        scales = [1.0, 400.0] if hidden else [1.0, 1.0, 1.0, 400.0]
        sizes = [*sizes, *rng.integers(1, 7, size=(len(scales) - len(sizes), 2)).tolist()]
        cases = []
        for (n_in, n_out), scale in zip(sizes, scales, strict=True):
            arrays = (
                rng.standard_normal(n_in),
                rng.standard_normal((n_out, n_in)) * scale,
                rng.standard_normal(n_out),
                rng.random(n_out),
            )
            name = f"{n_in} input{'s' * (n_in != 1)}, {n_out} sigmoid unit{'s' * (n_out != 1)}"
            if scale > 1:
                name += " with large weights: saturated units (|z| in the hundreds)"
            cases.append(Case(name, arrays, hidden=hidden))
        return cases

    def judge(self, case, output):
        a_prev, w, b, y = case.args
        with np.errstate(over="ignore"):  # exp(-z) = inf for a saturated unit: a = 0, as it should
            a = 1.0 / (1.0 + np.exp(-(w @ a_prev + b)))

        def parts(delta):
            return {"grad_w": np.outer(delta, a_prev), "grad_b": delta, "grad_a_prev": w.T @ delta}

        mistakes = [
            ("the sigmoid's derivative a * (1 - a) is missing from delta", parts(a - y)),
            ("the sign is flipped: delta = (a - y) * a * (1 - a)", parts((y - a) * a * (1 - a))),
        ]
        variants = {
            name: [(message, lambda v=wrong[name]: v) for message, wrong in mistakes] for name in self.names
        }
        return judge_parts(self.reference(*case.args), output, self.names, variants)


class NumericalGradient(Exercise):
    """numerical_gradient(f, x, eps=1e-6) -> central differences of scalar f at x, x's shape."""

    id = "numerical_gradient"
    notebook = "04_learning"
    title = "the numerical gradient"
    points = 2.0
    reference = staticmethod(references.numerical_gradient)

    def cases(self, rng, hidden):
        if hidden:
            kinds = ["sine_mix", "quadratic_form", "sine_mix"]
            dtypes = ["float64", "float64", str(rng.choice(["float32", "int64"]))]
            shapes = [tuple(int(s) for s in rng.integers(1, 5, size=2)) for _ in kinds]
            return [
                Case(
                    f"a {kind} of a {shape} {dtype} array, eps 1e-3",
                    (scalar_function(kind, shape, rng), _draw_x(rng, shape, dtype), 1e-3),
                    hidden=True,
                )
                for kind, shape, dtype in zip(kinds, shapes, dtypes, strict=True)
            ]
        cases = [
            ("sines of a vector of 5, eps 1e-2", "sine_mix", (5,), (1e-2,), "float64"),
            ("a quadratic form of a (3, 4) array, default eps", "quadratic_form", (3, 4), (), "float64"),
            (
                "the cost of a convolution, x (1, 2, 4, 3), eps 1e-4",
                "conv_loss",
                (1, 2, 4, 3),
                (1e-4,),
                "float64",
            ),
            (
                "sines of a float32 (2, 3) array, eps 1e-4 (the gradient is float64)",
                "sine_mix",
                (2, 3),
                (1e-4,),
                "float32",
            ),
            (
                "a quadratic form of an integer vector of 4, eps 1e-3",
                "quadratic_form",
                (4,),
                (1e-3,),
                "int64",
            ),
        ]
        return [
            Case(name, (scalar_function(kind, shape, rng), _draw_x(rng, shape, dtype), *eps))
            for name, kind, shape, eps, dtype in cases
        ]

    def judge(self, case, output):
        f, x, eps = (*case.args, 1e-6)[:3]
        variants = [
            (
                "you used a forward difference (f(x + eps) - f(x)) / eps; central differences are "
                "(f(x + eps) - f(x - eps)) / (2 eps), far more accurate",
                lambda: _forward_difference(f, x, eps),
            ),
            ("the difference was divided by eps instead of 2 eps", lambda: 2 * self.reference(f, x, eps)),
            (
                f"x + eps was stored in x's own dtype ({x.dtype}), which rounds the step away: work on a "
                "float64 copy of x",
                lambda: _steps_in_own_dtype(f, x, eps),
            ),
        ]
        tolerance = (1e-6, 1e-9 + 1e-14 / eps)  # rounding in f(x + eps) - f(x - eps) grows like 1 / eps
        return judge_array(
            self.reference(f, x, eps),
            output,
            "the gradient",
            variants,
            tolerance,
            dtype_rule=f"whatever x's dtype, here {x.dtype}: the differences are taken in float64",
        )


def _draw_x(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """A point x of `shape` and `dtype`: small integers for an integer dtype, else normal draws."""
    if dtype.startswith("int"):
        return rng.integers(-3, 4, size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _forward_difference(f, x, eps):
    x = x.astype(np.float64)
    base = f(x)
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        shifted = x.copy()
        shifted[index] += eps
        grad[index] = (f(shifted) - base) / eps
    return grad


def _steps_in_own_dtype(f, x, eps):
    """Central differences with x + eps and x - eps stored in x's own dtype (rounded, or truncated to
    an integer), the gradient in float64."""
    grad = np.empty(x.shape)
    for index in np.ndindex(x.shape):
        up, down = x.copy(), x.copy()
        up[index] = up[index] + eps
        down[index] = down[index] - eps
        grad[index] = (f(up) - f(down)) / (2 * eps)
    return grad


EXERCISES = [
    MseCost(),
    GradientDescentStep(),
    DenseBackward(),
    Conv2dBackward(),
    MaxPool2dBackward(),
    AvgPool2dBackward(),
    NumericalGradient(),
]
