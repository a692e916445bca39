"""Questions of 01_motivation: receptive fields."""

from __future__ import annotations

from course.grading.questions.question import NumberQuestion

__all__ = ["QUESTIONS"]

QUESTIONS = [
    NumberQuestion(
        id="q_receptive_field_five_layers",
        notebook="01_motivation",
        title="the receptive field of five stacked 3x3 convolutions",
        prompt="the side of the input region one unit sees after five 3x3 convolutions of stride 1",
        answer=11,
        reasoning=(
            "Work backwards from one unit of the last layer, which sees 1 position of its own layer. "
            "A 3x3 kernel at stride 1 reads one more position on each side of what is above it, so each "
            "layer adds k - 1 = 2 to the side: start at 1 and add 2 once per layer."
        ),
        mistakes={
            15: "15 = 5 * 3 adds up the kernel sizes: neighbouring windows overlap, so each layer adds "
            "only k - 1 new positions, not k",
            243: "243 = 3 ** 5 multiplies the kernel sizes: that would be right only if the windows "
            "did not overlap (stride 3), not at stride 1",
            10: "10 = 5 * 2 forgets the unit itself: one unit of the last layer already sees 1 position "
            "before any layer adds 2",
            9: "9 is the receptive field of four layers: count all five",
        },
    ),
]
