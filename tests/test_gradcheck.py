"""Does `course.gradcheck` pass correct gradients and catch the plausible wrong ones?"""

from __future__ import annotations

import re

import numpy as np
import pytest

from course.gradcheck import GradcheckResult, gradcheck, numerical_gradient


def quadratic_form(a, x):
    """J = 1/2 x^T A x summed with a weight pattern; dJ/dx = 1/2 (A + A^T) x, dJ/dA = 1/2 x x^T."""
    return 0.5 * float(x @ a @ x)


def matmul_loss(a, b, c):
    """J = sum(C * (A @ B)); dJ/dA = C @ B^T, dJ/dB = A^T @ C."""
    return float(np.sum(c * (a @ b)))


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_numerical_gradient_matches_a_known_derivative(rng):
    x = rng.normal(size=(3, 4))
    grad = numerical_gradient(lambda v: np.sum(np.sin(v) * v), x)
    np.testing.assert_allclose(grad, np.cos(x) * x + np.sin(x), rtol=1e-8, atol=1e-10)
    assert grad.dtype == np.float64 and grad.shape == x.shape


def test_numerical_gradient_uses_float64_and_leaves_x_alone(rng):
    x = rng.normal(size=5).astype(np.float32)
    before = x.copy()
    seen = []
    numerical_gradient(lambda v: seen.append(v.dtype) or float(np.sum(v**3)), x)
    assert set(seen) == {np.dtype(np.float64)}
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_at_given_indices_only(rng):
    x = rng.normal(size=(4, 5))
    grad = numerical_gradient(lambda v: np.sum(v**2), x, indices=[0, 7, 19])
    flat = grad.reshape(-1)
    np.testing.assert_allclose(flat[[0, 7, 19]], 2 * x.reshape(-1)[[0, 7, 19]], rtol=1e-8)
    assert np.isnan(np.delete(flat, [0, 7, 19])).all()


def test_numerical_gradient_rejects_non_scalar_f_and_bad_indices(rng):
    x = rng.normal(size=3)
    with pytest.raises(TypeError, match="scalar"):
        numerical_gradient(lambda v: v * 2, x)
    with pytest.raises(ValueError, match="indices"):
        numerical_gradient(lambda v: np.sum(v), x, indices=[3])
    with pytest.raises(TypeError, match="x must be a numpy array"):
        numerical_gradient(lambda v: np.sum(v), [1.0, 2.0])


@pytest.mark.parametrize(
    ("value", "got"),
    [
        (None, r"None \(does f return J\?\)"),  # float()'s own message named neither f nor its return
        ("1.0", r"str"),  # read as the number 1.0 at every point: a gradient of zeros, silently
        (1 + 1j, r"complex"),  # float()'s message again
        (np.array([1j]), r"an array of complex128"),
        (True, r"bool"),
    ],
    ids=["None", "string", "complex", "complex array", "bool"],
)
def test_an_f_that_does_not_return_a_real_number_is_told_so(value, got):
    x, message = np.ones(2), r"^numerical_gradient: f must return a real number \(J\), got "
    with pytest.raises(TypeError, match=message + got):
        numerical_gradient(lambda v: value, x)
    with pytest.raises(TypeError, match=r"^numerical_gradient: f must return a real number"):
        gradcheck(lambda x: value, {"x": x}, {"x": x})
    for number in (np.float32(1.0), np.int64(1), 1, np.array(1.0), np.array([1.0])):
        np.testing.assert_array_equal(numerical_gradient(lambda v, n=number: n, x), [0.0, 0.0])


def test_correct_gradients_pass(rng):
    a, b, c = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=(4, 5))
    result = gradcheck(matmul_loss, {"a": a, "b": b, "c": c}, {"a": c @ b.T, "b": a.T @ c})
    assert result.passed and bool(result)
    assert result.checked == a.size + b.size
    assert result.rel_error < 1e-7


def test_a_gradient_wrong_by_a_factor_fails_with_a_hint(rng):
    x = rng.normal(size=(6,))
    a = rng.normal(size=(6, 6))
    true = 0.5 * (a + a.T) @ x
    result = gradcheck(quadratic_form, {"a": a, "x": x}, {"x": 2 * true})
    assert not result.passed and not bool(result)
    assert result.name == "x"
    assert "2 times" in result.hint
    np.testing.assert_allclose(result.analytic, 2 * result.numeric, rtol=1e-6)


def test_a_sign_error_fails(rng):
    x = rng.normal(size=(5,))
    result = gradcheck(lambda x: float(np.sum(np.exp(x))), {"x": x}, {"x": -np.exp(x)})
    assert not result.passed
    assert "-1 times" in result.hint


def test_a_transposed_gradient_fails(rng):
    a, b, c = rng.normal(size=(4, 4)), rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    result = gradcheck(matmul_loss, {"a": a, "b": b, "c": c}, {"a": (c @ b.T).T})
    assert not result.passed and result.name == "a"


def test_forgetting_a_term_of_a_symmetric_case_fails(rng):
    # a common slip: dJ/dx of 1/2 x^T A x written as A x, right only when A is symmetric
    x, a = rng.normal(size=(5,)), rng.normal(size=(5, 5))
    assert not gradcheck(quadratic_form, {"a": a, "x": x}, {"x": a @ x})
    symmetric = a + a.T
    assert gradcheck(quadratic_form, {"a": symmetric, "x": x}, {"x": symmetric @ x})


def test_one_wrong_entry_is_found_and_named(rng):
    x = rng.normal(size=(7, 9))
    grad = 3 * x**2
    grad[4, 2] += 1e-3
    result = gradcheck(lambda x: float(np.sum(x**3)), {"x": x}, {"x": grad})
    assert not result.passed
    assert result.index == (4, 2)
    assert result.analytic == pytest.approx(grad[4, 2])
    assert result.numeric == pytest.approx(3 * x[4, 2] ** 2, rel=1e-7)
    assert "only 1 of 63" in result.hint


def test_the_worst_input_is_reported_when_several_are_checked(rng):
    a, b = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))

    def f(a, b):
        return float(np.sum(a * b**2))

    result = gradcheck(f, {"a": a, "b": b}, {"a": b**2, "b": a * b})  # dJ/db should be 2 a b
    assert not result.passed and result.name == "b"
    assert result.per_input["a"][0] < 1e-7 and result.per_input["b"][0] > 0.1


def test_large_inputs_are_sampled_with_the_seed(rng):
    x = rng.normal(size=(60, 50))
    grad = 2 * x
    seen = []

    def f(x):
        seen.append(1)
        return float(np.sum(x**2))

    result = gradcheck(f, {"x": x}, {"x": grad}, max_entries=300, seed=1)
    assert result.passed and result.checked == 300 and result.per_input["x"][1:] == (300, 3000)
    assert len(seen) == 2 * 300


def test_a_bug_in_one_row_of_a_large_input_is_caught_for_every_seed(rng):
    # 100 wrong entries of 10,000, sampling 2,000: missed with probability 0.8**100 ~ 2e-10 per seed
    x = rng.normal(size=(100, 100))
    grad = 2 * x
    grad[37] *= 1.01
    for seed in range(5):
        assert not gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad}, seed=seed)


def test_one_wrong_entry_in_a_large_input_is_caught_at_the_sampling_rate(rng):
    # a uniform sample of 200 of 300 entries holds one fixed entry with probability 2/3
    x = rng.normal(size=(300,))
    grad = 2 * x
    grad[123] = 0.0
    caught = [
        not gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad}, max_entries=200, seed=s)
        for s in range(60)
    ]
    assert 28 <= sum(caught) <= 52  # mean 40, sd 3.65: outside is ~3 sd
    first = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad}, max_entries=200, seed=3)
    again = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad}, max_entries=200, seed=3)
    assert first == again


def test_tiny_gradients_are_compared_absolutely(rng):
    # entries whose true gradient is 0: the numeric one is rounding noise, which the floor absorbs
    x = rng.normal(size=(20,))
    mask = np.arange(20) % 2 == 0

    def f(x):
        return float(np.sum(np.where(mask, x**2, 0.0)) + 1e3)

    assert gradcheck(f, {"x": x}, {"x": np.where(mask, 2 * x, 0.0)})
    assert not gradcheck(f, {"x": x}, {"x": np.where(mask, 2 * x, 1e-6)})


def test_nan_or_zero_gradients_fail(rng):
    x = rng.normal(size=(4,))
    grad = 2 * x
    grad[1] = np.nan
    result = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad})
    assert not result.passed and result.index == (1,) and result.rel_error == np.inf
    zeros = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": np.zeros(4)})
    assert not zeros.passed and "all zeros" in zeros.hint


def test_bad_arguments_are_named(rng):
    x = rng.normal(size=(3, 2))
    with pytest.raises(ValueError, match=r"analytic\['x'\] must have the shape"):
        gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"x": np.ones((2, 3))})
    with pytest.raises(ValueError, match="not in inputs"):
        gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"y": x})
    with pytest.raises(TypeError, match="dicts"):
        gradcheck(lambda x: float(np.sum(x)), x, {"x": x})
    # a numpy integer was refused as "not a positive int"; True slipped through to a numpy error
    result = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": 2 * x}, max_entries=np.int64(5))
    assert result.checked == 5
    with pytest.raises(TypeError, match="gradcheck: max_entries must be a positive int, got True"):
        gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"x": x}, max_entries=True)
    with pytest.raises(ValueError, match="gradcheck: max_entries must be a positive int, got 0"):
        gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"x": x}, max_entries=0)


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("eps", 0.0, ValueError),  # was named as numerical_gradient's
        ("eps", np.inf, ValueError),  # made every numeric entry NaN: a failed check, not an error
        ("eps", "1e-6", TypeError),  # and these raised the comparison's own TypeError
        ("rtol", "1e-5", TypeError),
        ("atol", None, TypeError),
    ],
)
def test_gradcheck_names_a_bad_tolerance_or_step(name, value, error):
    x = np.ones(3)
    with pytest.raises(error, match=rf"^gradcheck: {name} must be a positive number, got {value!r}$"):
        gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"x": x}, **{name: value})
    if name == "eps":
        with pytest.raises(
            error, match=rf"^numerical_gradient: eps must be a positive number, got {value!r}$"
        ):
            numerical_gradient(lambda x: float(np.sum(x)), x, eps=value)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [  # numpy's "expected non-negative integer" and SeedSequence's message named no argument
        ({"seed": -1}, ValueError, "gradcheck: seed must be an int >= 0, got -1"),
        ({"seed": 1.5}, TypeError, "gradcheck: seed must be an int >= 0, got 1.5"),
        ({"seed": "0"}, TypeError, "gradcheck: seed must be an int >= 0, got '0'"),
        ({"seed": True}, TypeError, "gradcheck: seed must be an int >= 0, got True"),
        # f(**inputs) raised Python's bare "keywords must be strings"
        (
            {"inputs": {1: np.ones(3)}, "analytic": {1: np.ones(3)}},
            TypeError,
            "gradcheck: the names in inputs must be strings (f is called with them as keywords), got 1",
        ),
    ],
)
def test_gradcheck_names_a_bad_seed_or_input_name(kwargs, error, message):
    x = np.ones(3)
    arguments = {"inputs": {"x": x}, "analytic": {"x": x}, **kwargs}
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        gradcheck(lambda **inputs: 0.0, **arguments)
    assert gradcheck(lambda x: float(np.sum(x)), {"x": x}, {"x": x}, seed=np.int64(3))


def test_report_names_the_worst_entry_in_text_and_html(rng):
    x = rng.normal(size=(2, 3))
    grad = 2 * x
    grad[1, 2] = 5.0
    result = gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": grad})
    assert isinstance(result, GradcheckResult)
    text = str(result)
    assert "FAILED" in text and "x[1, 2]" in text and "analytic 5" in text
    assert f"numeric {2 * x[1, 2]:.6g}"[:14] in text
    page = result._repr_html_()
    assert "failed" in page and "x[1, 2]" in page and "<table>" in page
    assert "passed" in str(gradcheck(lambda x: float(np.sum(x**2)), {"x": x}, {"x": 2 * x}))


def test_overwriting_instead_of_accumulating_in_overlapping_max_pool_is_caught(rng):
    # the bug CS231n's 2x2-stride-2 check lets through: it shows only with overlapping windows
    x = rng.normal(size=(5, 5))
    weights = rng.normal(size=(3, 3))

    def pool(x):  # 3x3 max pooling, stride 1
        return np.array([[x[r : r + 3, c : c + 3].max() for c in range(3)] for r in range(3)])

    def backward(accumulate):
        grad = np.zeros_like(x)
        for r in range(3):
            for c in range(3):
                j, i = np.unravel_index(np.argmax(x[r : r + 3, c : c + 3]), (3, 3))
                if accumulate:
                    grad[r + j, c + i] += weights[r, c]
                else:
                    grad[r + j, c + i] = weights[r, c]
        return grad

    def f(x):
        return float(np.sum(pool(x) * weights))

    assert gradcheck(f, {"x": x}, {"x": backward(accumulate=True)})
    assert not gradcheck(f, {"x": x}, {"x": backward(accumulate=False)})
