"""Questions of 01_motivation: an image as numbers, what a dense layer cannot share, receptive fields."""

from __future__ import annotations

from course.grading.questions.question import ChoiceQuestion, NumberQuestion

__all__ = ["QUESTIONS"]

QUESTIONS = [
    NumberQuestion(
        id="q_numbers_in_a_colour_image",
        notebook="01_motivation",
        title="how many numbers a small colour image holds",
        prompt="the number of values in one 32 x 32 colour (RGB) image",
        answer=32 * 32 * 3,
        reasoning=(
            "An image is one grid of height x width values per channel, and a colour image has three "
            "channels (R, G, B): multiply the rows, the columns and the channels."
        ),
        mistakes={
            1024: "1024 = 32 x 32 is one channel: a colour image has a grid for each of R, G and B",
            96: "96 = 32 x 3 counts one row of pixels per channel: every one of the 32 rows has 32 pixels",
            3072 * 255: "the brightness range (0..255) is what each number can be, not how many there are",
        },
    ),
    ChoiceQuestion(
        id="q_dense_layer_after_a_shift",
        notebook="01_motivation",
        title="what a dense layer knows one pixel away",
        prompt="which weights of a dense layer respond to a pattern moved by one pixel",
        options=("the_same_weights", "other_weights", "no_weights"),
        answer="other_weights",
        reasoning=(
            "In a dense layer, weight w[j, i] connects input number i to unit j, and a pattern moved by "
            "one pixel lands on other input numbers i. Ask which weights multiply those inputs, and "
            "whether anything ties them to the weights that met the pattern before."
        ),
        mistakes={
            "the_same_weights": "many of the loop's new positions overlap its old ones, but each pixel of "
            "the loop now meets the weight of the input next to the one it met before, which learned "
            "another part of the loop (or the background); nothing ties a weight to its neighbour's",
            "no_weights": "every input number has a weight to every unit, so some weights always see "
            "the moved pattern; the question is whether they were trained for it",
        },
    ),
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
