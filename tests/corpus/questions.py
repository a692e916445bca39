"""Right and wrong answers to the short questions, for the corpus of test_checks.

The right answers are worked out here by hand, independently of the registry, one line of reasoning
each; the wrong ones are the mistakes each question names, plus answers no mistake explains (which
must fail without a hint)."""

from __future__ import annotations

from course.grading import EXERCISES
from course.grading.questions import ChoiceQuestion, NumberQuestion, Question

# question id -> the answer, worked out by hand
ANSWERS = {
    "q_receptive_field_five_layers": 1 + 2 + 2 + 2 + 2 + 2,  # 1 unit, then each 3x3 layer adds 1 per side
}


def _answer(value):
    def answer():
        return value

    return answer


def _wrong_answers(question: Question) -> list[tuple[object, str | None]]:
    if isinstance(question, NumberQuestion):
        unexplained = next(v for v in range(1, 10**6) if v not in question.mistakes and v != question.answer)
        return [*((value, hint[:40]) for value, hint in question.mistakes.items()), (unexplained, None)]
    assert isinstance(question, ChoiceQuestion)
    wrong = [name for name in question.options if name not in question.reference()]
    if question.several:
        return [(sorted(question.answer)[1:], "misjudges 1 of"), (sorted(question.answer) + wrong[:1], None)]
    return [(name, question.mistakes.get(name, "is not right")[:40]) for name in wrong]


CORRECT = {
    question_id: [_answer(float(answer) if isinstance(answer, int) else answer)]
    for question_id, answer in ANSWERS.items()
}
BUGGY = [
    (question_id, _answer(value), words)
    for question_id in ANSWERS
    for value, words in _wrong_answers(EXERCISES[question_id])
]
