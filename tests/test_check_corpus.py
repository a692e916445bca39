"""Is every wrong answer of the corpus really wrong, and does the check fail it where a student sees it?
Is every correct alternative really right, and does it get full marks? Does each hint appear exactly on
the answers that make its mistake?

Wrongness and rightness are decided by independent oracles (`corpus/oracles.py`: PyTorch, or numpy and
plain Python written another way), on the very calls a check makes: both calls of every visible case,
in order, with every returned value held and compared only after the last call, so a buffer reused
between calls or a cache keyed on the shape is caught by the oracle too.
"""

from __future__ import annotations

import copy
from collections import defaultdict

import numpy as np
import pytest
from corpus import buggy_kernels, correct_kernels, oracles, other_exercises, right_answers, wrong_answers

from course.grading import EXERCISES, cases_for, check

# the exercises this corpus covers, those that have an oracle (the staged steps towards conv2d and its
# backward, and the short questions, have corpora of their own)
CODE_EXERCISES = [e for e in EXERCISES if e in oracles.ORACLES or e == "separable_factors"]

WRONG = buggy_kernels.BUGGY + other_exercises.BUGGY + wrong_answers.WRONG
RIGHT = [
    (exercise_id, fn)
    for table in (correct_kernels.CORRECT, other_exercises.CORRECT, right_answers.RIGHT)
    for exercise_id, fns in table.items()
    for fn in fns
]
SEEDS = (1, 2, 3, 4, 5)
# words that state a fact about the output (its shape, dtype, what happened between calls), not a guess
# at the mistake behind it: any wrong answer with that fact may hear them
FACTS = (
    "has shape",
    "dtype",
    "non-finite",
    "not separable",
    "should have shape",
    "should be an int",
    "where a",
    "modified its input",
    "changed when it was called again",
    "right on the first call",
    "one row or column too many",
    "a slice like a[p:-p] is empty",
    "the worst is at index",
    "shares memory with its argument",
)
# the exercises whose statement does not ask for new arrays (a column of the kernel may be returned)
VIEWS_ALLOWED = {"separable_factors"}


def _name(value):
    return getattr(value, "__name__", None)


def _feedback(result) -> str:
    return "\n".join([result.message, *(case.message for case in result.cases)])


def _fresh(fn):
    """The function with the corpus's between-call memory emptied, as in a freshly run notebook."""
    wrong_answers._CACHE.clear()
    return fn


def _shares_memory(output, arguments) -> bool:
    """Whether an array in `output` (or in its tuples and lists) overlaps an argument array in memory."""
    if isinstance(output, (tuple, list)):
        return any(_shares_memory(part, arguments) for part in output)
    return isinstance(output, np.ndarray) and any(
        isinstance(a, np.ndarray) and np.shares_memory(output, a) for a in arguments
    )


def wrong_by_oracle(exercise_id: str, fn, hidden_seed: int | None = None) -> str:
    """What is wrong with fn on the calls its check makes, by the oracle ("" when nothing is)."""
    held = []
    for case in cases_for(EXERCISES[exercise_id], hidden_seed):
        for args, kwargs in [(case.args, case.kwargs), *([case.again] if case.again else [])]:
            mine_args, mine_kwargs = copy.deepcopy(args), copy.deepcopy(kwargs)
            try:
                output = fn(*mine_args, **mine_kwargs)
            except Exception as error:  # noqa: BLE001 - raising is one way of being wrong
                return f"{case.name}: raised {error!r}"
            for before, after in zip(
                [*args, *kwargs.values()], [*mine_args, *mine_kwargs.values()], strict=True
            ):
                if isinstance(before, np.ndarray) and not np.array_equal(before, after, equal_nan=True):
                    return f"{case.name}: modified an input"
                if isinstance(before, list) and before != after:  # a list of layers, emptied or reversed
                    return f"{case.name}: modified an input"
            arguments = [*mine_args, *mine_kwargs.values()]
            if exercise_id not in VIEWS_ALLOWED and _shares_memory(output, arguments):
                return f"{case.name}: returned an array that shares memory with an argument"
            held.append((case.name, args, kwargs, output))
    for name, args, kwargs, output in held:
        try:
            right = oracles.is_right(exercise_id, args, kwargs, output)
        except Exception:  # noqa: BLE001 - an output the oracle cannot even read is wrong
            right = False
        if not right:
            return f"{name}: the output differs from the oracle's"
    return ""


@pytest.mark.parametrize(("exercise_id", "fn", "words"), WRONG, ids=_name)
def test_a_wrong_answer_is_wrong_by_an_oracle_and_fails_its_visible_check(exercise_id, fn, words):
    assert wrong_by_oracle(exercise_id, _fresh(fn)), "the oracle finds nothing wrong: not a wrong answer"
    result = check(exercise_id, _fresh(fn))
    assert result.status != "passed" and result.score < result.max_score, str(result)
    if words is not None:
        assert words in _feedback(result), str(result)


@pytest.mark.parametrize(("exercise_id", "fn"), RIGHT, ids=_name)
def test_a_correct_alternative_is_right_by_an_oracle_and_gets_full_marks(exercise_id, fn):
    assert wrong_by_oracle(exercise_id, fn) == ""
    for seed in (None, *SEEDS):
        result = check(exercise_id, fn, hidden_seed=seed)
        assert result.status == "passed", str(result)


@pytest.mark.parametrize("exercise_id", CODE_EXERCISES)
def test_the_oracles_agree_with_the_references_on_visible_and_hidden_calls(exercise_id):
    for seed in (None, *SEEDS):
        assert wrong_by_oracle(exercise_id, EXERCISES[exercise_id].reference, seed) == ""


@pytest.mark.parametrize(("exercise_id", "fn", "words"), WRONG, ids=_name)
def test_passing_the_visible_check_means_passing_the_hidden_ones(exercise_id, fn, words):
    """No wrong answer of the corpus is adopted by fallback() and then caught only by hidden cases."""
    for seed in SEEDS:
        result = check(exercise_id, _fresh(fn), hidden_seed=seed)
        visible = [case for case in result.cases if not case.hidden]
        assert not all(case.passed for case in visible), str(result)


def test_the_corpus_covers_every_exercise_several_times():
    per_exercise = defaultdict(int)
    for exercise_id, _, _ in wrong_answers.WRONG:
        per_exercise[exercise_id] += 1
    assert set(per_exercise) == set(CODE_EXERCISES)
    assert min(per_exercise.values()) >= 2
    assert {exercise_id for exercise_id, _ in RIGHT} == set(CODE_EXERCISES)


def test_each_hint_is_heard_exactly_by_the_answers_that_make_its_mistake():
    """Every designed hint of the corpus appears in the feedback of the answers labelled with it, and in
    no other answer's, wrong (differently) or correct."""
    feedback = {
        fn: _feedback(check(exercise_id, _fresh(fn)))
        for exercise_id, fn in [*((e, f) for e, f, _ in WRONG), *RIGHT]
    }
    labelled = defaultdict(set)
    for exercise_id, fn, words in WRONG:
        if words is not None and not any(fact in words for fact in FACTS):
            labelled[(exercise_id, words)].add(fn)
    mismatched = {}
    for (exercise_id, words), fns in labelled.items():
        heard = {
            fn
            for e, fn in [*((e, f) for e, f, _ in WRONG), *RIGHT]
            if e == exercise_id and words in feedback[fn]
        }
        if heard != fns:
            mismatched[words] = sorted(_name(fn) for fn in heard ^ fns)
    assert not mismatched, mismatched
