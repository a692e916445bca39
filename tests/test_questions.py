"""Do the short questions teach like the code exercises? A right answer passes and only a right one; a
wrong one gets the reasoning (never the answer), and a known mistake's hint exactly when the answer is
that mistake; the stub is "not attempted"; `fallback` gives the right answer; and `course grade` scores
a question from a submitted notebook like any other exercise."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from corpus import questions as corpus_questions
from grading_corpus import write_student

from course.grader.class_run import grade_class
from course.grader.sandbox import run as sandbox
from course.grader.sandbox.run import Limits
from course.grading import EXERCISES, check, fallback
from course.grading.questions import ChoiceQuestion, NumberQuestion, Question

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
QUESTIONS = sorted(e.id for e in EXERCISES.values() if isinstance(e, Question))
NUMBERS = [q for q in QUESTIONS if isinstance(EXERCISES[q], NumberQuestion)]
CHOICES = [q for q in QUESTIONS if isinstance(EXERCISES[q], ChoiceQuestion)]


def answering(value):
    return lambda: value


def stub():
    raise NotImplementedError("q: complete this function")


def test_there_are_questions_and_every_id_says_so():
    assert QUESTIONS, "no question is registered"
    assert all(q.startswith("q_") for q in QUESTIONS)


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_registry_answer_is_the_one_worked_out_by_hand(question):
    assert question in corpus_questions.ANSWERS, f"work out the answer of {question} in tests/corpus"
    answer = corpus_questions.ANSWERS[question]
    if isinstance(answer, set):
        assert EXERCISES[question].reference() == sorted(answer)
    elif isinstance(answer, str):
        assert EXERCISES[question].reference() == answer
    else:
        assert EXERCISES[question].reference() == pytest.approx(answer, rel=1e-12)


def test_every_number_question_with_hints_has_its_mistakes_worked_out_by_hand():
    hinted = {q for q in NUMBERS if EXERCISES[q].mistakes}
    missing = sorted(hinted - set(corpus_questions.MISTAKES))
    assert not missing, f"work out the mistakes of {missing} in tests/corpus"
    assert set(corpus_questions.MISTAKES) <= hinted, "tests/corpus works out mistakes no question hints"


@pytest.mark.parametrize("question", NUMBERS)
def test_every_hinted_number_is_the_one_the_mistake_its_hint_describes_gives(question):
    """A hint must name the real mistake: the numbers the hints are keyed to are exactly the numbers the
    mistakes they describe give, worked out by hand (equal as NumberQuestion compares: within rtol)."""
    exercise = EXERCISES[question]
    worked_out = corpus_questions.MISTAKES.get(question, {})

    def close(value, key):
        return value == pytest.approx(key, rel=exercise.rtol, abs=exercise.rtol)

    unexplained = [key for key in exercise.mistakes if not any(close(v, key) for v in worked_out.values())]
    unhinted = {name: v for name, v in worked_out.items() if not any(close(v, k) for k in exercise.mistakes)}
    assert not unexplained and not unhinted, (
        f"hinted numbers no worked-out mistake gives: {unexplained}; "
        f"worked-out mistakes no hint is keyed to: {unhinted}"
    )


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_right_answer_passes_the_stub_is_not_attempted_and_fallback_answers(question):
    answer = EXERCISES[question].reference()
    assert check(question, answering(answer)).status == "passed"
    assert check(question, answering(answer), hidden_seed=3).status == "passed"
    assert check(question, stub).status == "not attempted"
    assert fallback(question, stub)() == answer


@pytest.mark.parametrize("question", NUMBERS)
def test_a_number_question_hints_a_mistake_exactly_when_the_answer_is_that_mistake(question):
    exercise = EXERCISES[question]
    hints = exercise.mistakes
    assert check(question, answering(exercise.answer)).cases[0].message == ""
    for value, hint in hints.items():
        result = check(question, answering(value))
        message = result.cases[0].message
        assert result.status == "failed" and result.score == 0
        assert hint in message and exercise.reasoning in message
        assert [h for h in hints.values() if h in message] == [hint], "another mistake's hint shown too"
    unknown = next(v for v in range(-1000, 1000) if v not in hints and v != exercise.answer)
    message = check(question, answering(unknown)).cases[0].message
    assert exercise.reasoning in message and not any(h in message for h in hints.values())


@pytest.mark.parametrize("question", NUMBERS)
def test_a_number_question_never_states_its_answer_in_its_feedback(question):
    exercise = EXERCISES[question]
    for value in [*exercise.mistakes, exercise.answer + 1000, "a word"]:
        message = check(question, answering(value)).cases[0].message
        written = {str(exercise.answer), f"{exercise.answer:g}", f"{exercise.answer:,}"}
        assert not any(re.search(rf"(?<![\d.]){re.escape(w)}(?![\d])", message) for w in written), message


@pytest.mark.parametrize("question", NUMBERS)
def test_a_number_question_takes_an_int_or_an_equal_float_and_nothing_else(question):
    answer = EXERCISES[question].answer
    assert check(question, answering(float(answer))).status == "passed"
    for bad, words in [
        (str(answer), "should be a number, got str"),
        (True, "should be a number, got bool"),
        (None, "should be a number, got NoneType"),
        ([answer], "should be a number, got list"),
        (float("nan"), "finite"),
    ]:
        result = check(question, answering(bad))
        assert result.status == "failed" and words in result.cases[0].message, (bad, str(result))


@pytest.mark.parametrize("question", NUMBERS)
def test_an_int_too_large_for_a_float_is_wrong_with_the_reasoning_not_a_crash(question):
    """10 ** 400 is a finite number, but no float: the judge must say it is not right (and why to look
    again), not crash into the net's "not a valid answer" with all 401 digits printed."""
    reasoning = EXERCISES[question].reasoning
    for huge in (10**400, -(10**400)):
        result = check(question, answering(huge))
        message = result.cases[0].message
        assert result.status == "failed" and "is not right" in message, str(result)
        assert reasoning in message and len(message) < 200 + len(reasoning), message


# --- the two kinds, on questions built here (so they are tested whatever the notebooks ask) ---------


def test_a_number_question_with_a_tolerance_accepts_a_rounded_answer_and_no_more():
    q = NumberQuestion("q_t", "nb", "t", "pi", 3.14159, "half the turn of a unit circle", rtol=1e-3)
    assert q.judge(None, 3.1416)[0] == 1.0 and q.judge(None, 3.15)[0] == 0.0


def test_the_right_answer_rounded_like_a_mistake_is_not_told_that_mistake():
    """0.09 is 0.0873 rounded to two decimals as much as it is 1/11: no mistake is named then; the
    mistake written out in full still is, and so is a whole-number mistake."""
    mistakes = {1 / 11: "not 1", 0: "no"}
    q = NumberQuestion("q_m", "nb", "t", "mean IoU", 0.96 / 11, "average over all classes", mistakes, 2e-3)
    assert q.judge(None, 0.087)[0] == 1.0
    score, message = q.judge(None, 0.09)
    assert score == 0.0 and "not 1" not in message and "average over all" in message
    assert "not 1" in q.judge(None, 1 / 11)[1] and "not 1" in q.judge(None, 0.0909)[1]
    assert "no" in q.judge(None, 0)[1].splitlines()


def test_a_set_of_option_names_is_told_to_be_a_list():
    result = check("q_kernels_blind_to_flat_regions", lambda: {"w_laplace", "w_sobel_x", "w_sobel_y"})
    assert result.status == "failed" and "a set; return a list" in result.cases[0].message, str(result)


class _EqualToAnything(str):
    """A string that says it equals every other one: a check must read its text, not trust its __eq__."""

    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = str.__hash__


class _FloatThatRaises(float):
    def __float__(self):
        raise RuntimeError("no float for you")


class _IntThatRaises(int):
    def __int__(self):
        raise RuntimeError("no int for you")

    __index__ = __int__


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_number_that_raises_when_read_fails_the_check_instead_of_crashing_it(question):
    """Reading the returned value runs the student's code too (a subclass's __float__): what it raises is
    the answer's verdict, as in the sandboxed grader, not a traceback out of `check`."""
    for answer in (_FloatThatRaises(4.0), _IntThatRaises(4)):
        result = check(question, answering(answer))
        message = result.cases[0].message
        assert result.status == "failed", message
        assert "unusable value: reading it raised RuntimeError" in message, message


@pytest.mark.parametrize("question", CHOICES)
def test_a_string_that_claims_to_equal_anything_is_judged_by_its_text(question):
    """The grader's sandbox sends a plain str back, so the check in the notebook must judge one too:
    otherwise `check` says passed where `course grade` gives 0."""
    lying = _EqualToAnything("no_such_option")
    for answer in [lying, *([[lying]] if EXERCISES[question].several else [])]:
        result = check(question, answering(answer))
        assert result.status == "failed", str(result)
        assert "'no_such_option' is not an option" in result.cases[0].message, str(result)


def test_a_single_choice_explains_the_chosen_wrong_option_only():
    q = ChoiceQuestion(
        "q_c",
        "nb",
        "t",
        "which",
        options=["max", "average", "neither"],
        answer="max",
        reasoning="compare the windows before and after the shift",
        mistakes={"average": "the mean of a window changes when one value leaves it"},
    )
    assert q.judge(None, "max") == (1.0, "")
    score, message = q.judge(None, "average")
    assert score == 0.0 and "the mean of a window" in message and "compare the windows" in message
    score, message = q.judge(None, "neither")
    assert score == 0.0 and "the mean" not in message and "'neither' is not right" in message
    score, message = q.judge(None, "Max")
    assert score == 0.0 and "'Max' is not an option; the options are 'max', 'average', 'neither'" in message
    assert "one option name" in q.judge(None, ["max"])[1]


def test_several_choices_are_right_in_any_order_and_a_wrong_set_is_told_how_many_not_which():
    q = ChoiceQuestion(
        "q_s", "nb", "t", "which", options=["a", "b", "c", "d"], answer={"a", "c"}, reasoning="rule"
    )
    assert q.reference() == ["a", "c"]
    assert q.judge(None, ["c", "a"])[0] == 1.0 and q.judge(None, ("a", "c", "a"))[0] == 1.0
    score, message = q.judge(None, ["a", "b"])
    assert score == 0.0 and "misjudges 2 of the 4 options" in message and "rule" in message
    assert "'c'" not in message
    assert q.judge(None, [])[1].startswith("your choice [] misjudges 2")
    assert "not an option" in q.judge(None, ["a", "e"])[1]
    assert "a list of option names" in q.judge(None, {"a": 1})[1]


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: NumberQuestion("q_x", "nb", "t", "p", 5, "r", mistakes={5.0: "no"}), "is the right answer"),
        (lambda: NumberQuestion("q_x", "nb", "t", "p", 5, "so it is 5, as said"), "states the answer"),
        (lambda: NumberQuestion("q_x", "nb", "t", "p", 1500, "that is 1,500"), "states the answer"),
        (lambda: NumberQuestion("x", "nb", "t", "p", 5, "r"), "start with 'q_'"),
        (lambda: ChoiceQuestion("q_x", "nb", "t", "p", ["a"], "b", "r"), "not among the options"),
        (lambda: ChoiceQuestion("q_x", "nb", "t", "p", ["a", "b"], "a", "r", {"a": "no"}), "cannot be a"),
        (lambda: ChoiceQuestion("q_x", "nb", "t", "p", ["a", "b"], {"a"}, "r", {"b": "no"}), "by count"),
    ],
)
def test_a_question_that_would_mislead_cannot_be_built(build, words):
    with pytest.raises(ValueError, match=words):
        build()


def test_reasoning_that_mentions_other_numbers_is_allowed():
    NumberQuestion("q_x", "nb", "t", "p", 11, "start at 1 and add 2 per layer; 110 is not it, nor 1.1")


# --- what the notebooks ask ------------------------------------------------------------------------


def question_text(question_id: str) -> str:
    """The markdown cell of the solution notebook that asks the question (its heading and text)."""
    path = SOLUTIONS / f"{EXERCISES[question_id].notebook}.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    heading = f"### Question `{question_id}`"
    (text,) = [
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "markdown" and heading in "".join(cell["source"])
    ]
    return text


@pytest.mark.parametrize("question", [q for q in NUMBERS if not float(EXERCISES[q].answer).is_integer()])
def test_a_question_whose_answer_is_no_whole_number_says_how_close_counts(question):
    """A student who rounds (0.09 for 0.0873) must know beforehand how many decimals the check wants: the
    text states the tolerance the question uses, as "within <tolerance> of the right value"."""
    exercise = EXERCISES[question]
    tolerance = exercise.rtol * max(abs(exercise.answer), 1.0)
    written = "a millionth" if tolerance == pytest.approx(1e-6) else f"{tolerance:g}"
    text = " ".join(question_text(question).split())
    assert f"within {written} of the right value" in text, text


def test_the_boxes_of_the_nms_chain_exist_and_give_its_answer():
    """The chain's IoUs must be those of real boxes. IoU(A, B) > 0.5 and IoU(B, C) > 0.5 force A and C
    to overlap (A and C each cover more than half of B), so the text gives the boxes; with them, greedy
    NMS (written here afresh) keeps the answer's count, and the IoUs the text states are theirs."""
    text = question_text("q_nms_chain")
    stated = re.findall(r"([ABC]) = \(([^)]*)\)\s+with score (\d+(?:\.\d+)?)", text)
    assert [name for name, _, _ in stated] == ["A", "B", "C"], text
    boxes = {name: [float(v) for v in box.split(",")] for name, box, _ in stated}
    scores = {name: float(score) for name, _, score in stated}

    def iou(a, b):
        inter = max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        area = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
        return inter / (area - inter)

    assert iou(boxes["A"], boxes["B"]) == iou(boxes["B"], boxes["C"]) == pytest.approx(0.6)
    assert iou(boxes["A"], boxes["C"]) == pytest.approx(1 / 3)
    assert re.search(r"IoU\s+0\.6\b", text) and re.search(r"IoU\s+1/3\b", text)
    assert "`iou_threshold=0.5`" in text
    kept = []
    for name in sorted(boxes, key=lambda n: -scores[n]):
        if all(iou(boxes[name], boxes[k]) <= 0.5 for k in kept):
            kept.append(name)
    assert len(kept) == corpus_questions.ANSWERS["q_nms_chain"] == EXERCISES["q_nms_chain"].answer


# --- end to end through `course grade` -------------------------------------------------------------

Q = "q_receptive_field_five_layers"


NO_BWRAP = pytest.mark.skipif(not sandbox.bwrap_works(), reason="no bwrap")
MODES = [pytest.param("bwrap", marks=NO_BWRAP), "fallback"]


@pytest.mark.parametrize("mode", MODES)
def test_course_grade_scores_a_question_in_a_submitted_notebook(tmp_path, mode):
    """Four students hand in 01: the right answer, a known mistake, the answer computed with their own
    exercise function (the grader defines other exercise cells' functions), and with a variable of a
    plain cell (which the grader does not run, as the question's text warns)."""
    subs, out = tmp_path / "subs", tmp_path / "out"
    cell = f"def {Q}():\n    return {{}}\n"
    answers = {
        "right": "1 + 5 * 2",
        "adds_kernels": "15",
        "own_function": "receptive_field([(3, 1)] * 5)",
        "notebook_variable": "rf([(3, 1)] * 5)",
    }
    for student, answer in answers.items():
        write_student(subs / student, {Q: cell.format(answer)}, only=Q)
    grades = grade_class(subs, out, limits=Limits(timeout=5.0), mode=mode, progress=False)
    results = {g.student: g.results[Q] for g in grades}
    points = EXERCISES[Q].points
    assert {student: r.score for student, r in results.items()} == {
        "right": points,
        "adds_kernels": 0.0,
        "own_function": points,
        "notebook_variable": 0.0,
    }
    assert EXERCISES[Q].mistakes[15] in str(results["adds_kernels"])
    assert "NameError" in str(results["notebook_variable"])
    with open(out / "grades.csv") as f:
        table = {row["student"]: float(row[Q]) for row in csv.DictReader(f)}
    assert table == {student: r.score for student, r in results.items()}
