"""What an exercise is, and how one case of it is run against a student's function.

An exercise draws its cases from a seeded generator (`cases`), and judges a plain output (`judge`).
Running the student's function is kept apart from judging it, so the grader can run the function in a
sandboxed process and judge what comes back in its own: `run_case` is the only place that calls
student code, and `plain` is the only form in which its output reaches `judge`. A case may carry a
second call with the same shapes and new values (`Case.again`): `run_case` makes both calls in a row
and reports whether the first call's returned value changed meanwhile; `score_case` judges both.
"""

from __future__ import annotations

import copy
import inspect
import os
import sysconfig
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from course.grading.result import CaseResult


@dataclass(frozen=True)
class Case:
    """One call of the student's function, fn(*args, **kwargs), and, when `again` is set, a second call
    fn(*again_args, **again_kwargs) with the same shapes and new values, made right after the first.

    args and kwargs hold plain data only (numpy arrays, numbers, strings, None, tuples, lists, dicts),
    or functions defined in a `course` module, so a case can be sent to a sandboxed process.
    `weight` is the case's share of the exercise's points; hidden cases are drawn at grading time.
    `fresh`: the function must return new arrays, none sharing memory with an argument (the argument
    itself or a view of it); set from the exercise's `fresh_output` by `course.grading.cases_for`.
    """

    name: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    weight: float = 1.0
    hidden: bool = False
    again: tuple[tuple, dict] | None = None
    fresh: bool = True

    def second_call(self) -> Case:
        """The case of the second call alone (its arguments, the same name and weight)."""
        assert self.again is not None, "this case has no second call"
        args, kwargs = self.again
        return replace(self, args=args, kwargs=kwargs, again=None)


@dataclass(frozen=True)
class Outcome:
    """What running one case produced: the plain output, or what went wrong instead, in the words that
    follow "your function" ("raised ValueError: ...", "returned an unusable value: ..."), and the names
    of the arguments it modified in place. For a case with a second call: that call's Outcome in
    `again`, and `changed` when the first call's returned value changed during the second call (a
    buffer kept between calls and returned again)."""

    output: Any = None
    error: str | None = None
    not_attempted: bool = False
    modified: tuple[str, ...] = ()
    again: Outcome | None = None
    changed: bool = False


class Exercise:
    """Base class of every exercise in the registry.

    Subclasses set `id` (the one name used by the notebook heading, the stub, the check and the
    gradebook column), `notebook`, `title`, `points`, and implement `cases` and `judge`. The machinery
    (`course.grading.cases_for`) gives cases a second call with `repeat`, so every check calls the
    function twice with the same shapes and new values, and checks that the first output survives.
    """

    id: str
    notebook: str
    title: str
    points: float = 1.0
    reference: Callable  # a trusted function with the exercise's signature (a staticmethod)
    # the statement asks for new arrays: an output that shares memory with an argument is wrong
    fresh_output: bool = True

    def cases(self, rng: np.random.Generator, hidden: bool) -> list[Case]:
        """The cases to run: visible ones always the same, hidden ones drawn from `rng`."""
        raise NotImplementedError

    def judge(self, case: Case, output: Any) -> tuple[float, str]:
        """Score a plain output in [0, 1] with a message ("" when fully right). Runs on the trusted
        side: it may compute references, but must not call student code."""
        raise NotImplementedError

    def repeat(self, case: Case, rng: np.random.Generator) -> tuple[tuple, dict] | None:
        """Arguments of a second call with the same shapes and new values, or None (no array to vary).

        By default every float array argument has its entries shuffled: same shape, dtype and set of
        values (so no ties appear where there were none), different positions. Exercises whose arrays
        have structure a shuffle would break (a rank-1 kernel, boxes) override this."""
        args = tuple(shuffled(value, rng) for value in case.args)
        kwargs = {key: shuffled(value, rng) for key, value in case.kwargs.items()}
        changed = [
            not np.array_equal(new, old)
            for new, old in zip([*args, *kwargs.values()], [*case.args, *case.kwargs.values()], strict=True)
            if isinstance(old, np.ndarray)
        ]
        return (args, kwargs) if any(changed) else None

    def error_hint(self, case: Case, error: str) -> str:
        """A hint added when the function raised `error` (its text) on `case`; "" if none."""
        return ""

    def argument_names(self) -> tuple[str, ...]:
        """The names of the exercise's parameters, in order (from the reference's signature)."""
        return tuple(inspect.signature(self.reference).parameters)

    def score_case(self, case: Case, outcome: Outcome) -> CaseResult:
        """Turn an outcome into a CaseResult worth up to `case.weight`: the first call's score, averaged
        with the second call's when the case has one."""
        fraction, message = self._score_call(case, outcome)
        if case.again is not None and outcome.again is not None and outcome.error is None:
            second, why = self._score_call(case.second_call(), outcome.again)
            if second < 1 and fraction >= 1:  # when the first call is wrong, its message is what to fix
                lead = (
                    "right on the first call, but wrong when called again with the same shapes and new values"
                )
                message = f"{lead}:\n{why}"
            fraction = (fraction + second) / 2
            if outcome.changed:
                fraction = 0.0
                changed = (
                    "the value your function returned on the first call changed when it was called again: "
                    "return a new array on every call (not one kept from an earlier call)"
                )
                message = f"{changed}\n{message}" if message else changed
        fraction = min(max(float(fraction), 0.0), 1.0)
        return CaseResult(case.name, fraction * case.weight, case.weight, message, case.hidden)

    def _score_call(self, case: Case, outcome: Outcome) -> tuple[float, str]:
        """The score of one call in [0, 1] and what was wrong with it."""
        if outcome.not_attempted:
            return 0.0, "raised NotImplementedError"
        if outcome.error is not None:
            message = f"your function {outcome.error}"
            hint = self.error_hint(case, outcome.error)
            message = f"{message}\n{hint}" if hint else message
            if outcome.modified:  # a returned input, changed in place too: both are said
                message = f"{self._modified_message(outcome)}\n{message}"
            return 0.0, message
        try:
            fraction, message = self.judge(case, outcome.output)
        except Exception:  # noqa: BLE001 - a judge must give a verdict for any value; this is the net
            fraction, message = (
                0.0,
                f"your function returned {describe(outcome.output)}, which is not a valid answer",
            )
        if outcome.modified and fraction > 0:
            fraction = 0.0
            message = f"{self._modified_message(outcome)}\n{message}".strip()
        return fraction, message

    def _modified_message(self, outcome: Outcome) -> str:
        names = self.argument_names()
        modified = [_argument_name(name, names) for name in outcome.modified]
        return f"your function modified its input {', '.join(modified)} in place; work on a copy instead."


def run_case(fn: Callable, case: Case) -> Outcome:
    """Call fn on fresh copies of the case's arguments, then, if the case has a second call, on fresh
    copies of those; catch what it raises; report modified inputs and a first output that the second
    call changed."""
    first, returned = _call(fn, case.args, case.kwargs, case.fresh)
    if case.again is None or first.error is not None or first.not_attempted:
        return first
    second, _ = _call(fn, *case.again, case.fresh)
    changed = not _same_plain(returned, first.output)
    return replace(first, again=second, changed=changed)


def _call(fn: Callable, case_args: tuple, case_kwargs: dict, fresh: bool = True) -> tuple[Outcome, Any]:
    """One call on deep copies of the arguments: (its Outcome, the very object it returned). With
    `fresh`, an output array that shares memory with an argument is an error of the call."""
    args, kwargs = copy.deepcopy(case_args), copy.deepcopy(case_kwargs)
    try:
        output = fn(*args, **kwargs)
    except NotImplementedError:
        return Outcome(not_attempted=True), None
    except Exception as error:  # noqa: BLE001 - any failure of student code is a verdict, not a crash
        return Outcome(error=f"raised {describe_error(error)}"), None
    modified = tuple(
        name
        for name, before, after in _named_arguments(case_args, case_kwargs, args, kwargs)
        if not _same_value(before, after)
    )
    shared = _sharing_arguments(output, args, kwargs) if fresh else []
    if shared:
        name = _parameter_name(fn, shared[0])
        return Outcome(
            error=f"returned an array that shares memory with its argument {name} (the argument itself, "
            f"or a view of it): return a new array (e.g. with .copy()), so that changing your result "
            f"cannot change the caller's {name}",
            modified=modified,
        ), None
    try:
        return Outcome(output=plain(output), modified=modified), output
    except TypeError as error:
        return Outcome(error=f"returned an unusable value: {error}"), None
    except Exception as error:  # noqa: BLE001 - reading the value ran the student's code (a __float__)
        return Outcome(error=f"returned an unusable value: reading it raised {describe_error(error)}"), None


def _sharing_arguments(output: Any, args: tuple, kwargs: dict, depth: int = 0) -> list[int | str]:
    """The positions (or keyword names) of the array arguments whose memory an array of `output` (an
    array, or tuples, lists and dicts of them) may share."""
    if depth > 8:
        return []
    if isinstance(output, np.ndarray):
        arguments = [*enumerate(args), *kwargs.items()]
        return [
            key
            for key, value in arguments
            if isinstance(value, np.ndarray)
            and value.size
            and output.size
            and np.may_share_memory(output, value)
        ]
    parts = output.values() if isinstance(output, dict) else output
    if isinstance(output, (tuple, list, dict)):
        return [key for part in parts for key in _sharing_arguments(part, args, kwargs, depth + 1)]
    return []


def _parameter_name(fn: Callable, key: int | str) -> str:
    """`x` for position 0 of fn(x, ...), from the function's own signature; `argument 1` if unknown."""
    if isinstance(key, str):
        return f"`{key}`"
    try:
        names = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        names = []
    return f"`{names[key]}`" if key < len(names) else f"argument {key + 1}"


def describe_error(error: BaseException) -> str:
    """ "Type: message (line n: code)", the line being the deepest one of the student's own code (not
    numpy's or the course's), so a crash inside np.dot points at the student's call of np.dot."""
    frames = traceback.extract_tb(error.__traceback__)
    own = [frame for frame in frames if not _library_file(frame.filename)]
    frame = own[-1] if own else (frames[-1] if frames else None)
    where = f" (line {frame.lineno}: {frame.line})" if frame is not None and frame.line else ""
    return f"{type(error).__name__}: {str(error)[:300]}{where}"


_LIBRARY_DIRS = tuple(
    os.path.realpath(path) + os.sep
    for path in {
        *(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")),
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),  # the course package itself
        os.path.dirname(np.__file__),
    }
)


def _library_file(filename: str) -> bool:
    return os.path.realpath(filename).startswith(_LIBRARY_DIRS) if os.path.isabs(filename) else False


def plain(value: Any, depth: int = 0) -> Any:
    """A copy of `value` made only of plain data: base-class numpy arrays (never a subclass, which
    could lie about equality), Python numbers, strings (never a subclass either), None, and
    tuples/lists/dicts of those."""
    if depth > 8:
        raise TypeError("the value is nested too deeply")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if value is None:
        return value
    if isinstance(value, str):
        return str.__str__(value)  # an exact str, whatever a subclass's __eq__ or __str__ would say
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise TypeError(f"an array of dtype {value.dtype}; expected numbers")
        return np.array(np.asarray(value), dtype=value.dtype, copy=True, subok=False)
    if isinstance(value, tuple):
        return tuple(plain(v, depth + 1) for v in value)
    if isinstance(value, list):
        return [plain(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {str.__str__(str(k)): plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        raise TypeError(f"a {type(value).__name__}; return a list (or a tuple) instead")
    raise TypeError(f"a {type(value).__name__}; expected numbers, arrays, or tuples of them")


def _named_arguments(case_args: tuple, case_kwargs: dict, args: tuple, kwargs: dict):
    for index, (before, after) in enumerate(zip(case_args, args, strict=True)):
        yield f"argument {index + 1}", before, after
    for key, before in case_kwargs.items():
        yield key, before, kwargs[key]


def _same_value(before: Any, after: Any, depth: int = 0) -> bool:
    """Whether an argument still holds what the case gave: arrays, and lists, tuples and dicts of plain
    values (a list of layers emptied by .pop() is modified); anything else is not tracked."""
    if isinstance(before, np.ndarray):
        return _same_array(before, after)
    if depth > 8:
        return True
    if isinstance(before, (list, tuple)):
        return (
            type(after) is type(before)
            and len(after) == len(before)
            and all(_same_value(b, a, depth + 1) for b, a in zip(before, after, strict=True))
        )
    if isinstance(before, dict):
        return (
            isinstance(after, dict)
            and after.keys() == before.keys()
            and all(_same_value(before[k], after[k], depth + 1) for k in before)
        )
    if before is None or isinstance(before, (bool, int, float, str)):
        return type(after) is type(before) and (after == before or (after != after and before != before))
    return True


def _argument_name(reported: str, names: tuple[str, ...]) -> str:
    """`w` for "argument 2" of f(x, w, ...): the sandbox reports positions, the student knows names."""
    if reported.startswith("argument "):
        position = int(reported.split()[1]) - 1
        if 0 <= position < len(names):
            return f"`{names[position]}`"
    return f"`{reported}`"


def _same_array(before: np.ndarray, after: Any) -> bool:
    return (
        isinstance(after, np.ndarray)
        and after.shape == before.shape
        and np.array_equal(np.asarray(after), before, equal_nan=True)
    )


def _same_plain(returned: Any, copied: Any) -> bool:
    """True when the object a call returned still holds what was copied from it right after the call."""
    try:
        now = plain(returned)
    except Exception:  # noqa: BLE001 - unreadable now (a TypeError, or the value's own code raised)
        return False
    return _equal_plain(now, copied)


def _equal_plain(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (
            isinstance(a, np.ndarray)
            and isinstance(b, np.ndarray)
            and a.dtype == b.dtype
            and np.array_equal(a, b, equal_nan=True)
        )
    if isinstance(a, (tuple, list)) and type(a) is type(b):
        return len(a) == len(b) and all(_equal_plain(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal_plain(a[k], b[k]) for k in a)
    return type(a) is type(b) and (a == b or (a != a and b != b))  # NaN equals NaN here


def shuffled(value: Any, rng: np.random.Generator) -> Any:
    """A float array with its entries in a random order (same shape and dtype); anything else as is."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f" and value.size > 1:
        return rng.permutation(value.ravel()).reshape(value.shape)
    return value


def describe(value: Any) -> str:
    """A short description of any Python value, in a student's terms: "a tuple of 2 str", "inf",
    "an array of shape (2, 3) and dtype int64", "None"."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return f"a bool ({value})"
    if isinstance(value, float) and not np.isfinite(value):
        return repr(value)
    if isinstance(value, (int, float)):
        return f"a{'n' if isinstance(value, int) else ''} {type(value).__name__} ({value!r})"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    if isinstance(value, (tuple, list)):
        kinds = {type(v).__name__ for v in value}
        inner = kinds.pop() if len(kinds) == 1 else "values"
        return f"a {type(value).__name__} of {len(value)} {inner}"
    return f"a {type(value).__name__}"
