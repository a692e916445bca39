"""Right and wrong answers to the short questions, for the corpus of test_checks.

The right answers are worked out here by hand, independently of the registry, one line of reasoning
each; so are the numbers that the mistakes a number question's hints describe give. The wrong answers
are the mistakes each question names, plus answers no mistake explains (which must fail without a
hint)."""

from __future__ import annotations

import math

from course.grading import EXERCISES
from course.grading.questions import ChoiceQuestion, NumberQuestion, Question

# question id -> the answer, worked out by hand
ANSWERS = {
    "q_numbers_in_a_colour_image": 32 * 32 * 3,  # a 32 x 32 grid for each of R, G and B
    "q_dense_layer_after_a_shift": "other_weights",  # a moved pattern meets the weights of other inputs
    "q_valid_output_count": (6 - 3 + 1) * (8 - 3 + 1),  # a 4 x 6 output
    "q_dense_weights_for_a_small_image": 9 * 25,  # 9 outputs, each with a weight to each of 25 inputs
    "q_parameters_of_a_colour_conv_layer": 64 * (3 * 9 + 1),  # 64 kernels of 3 x 3 x 3, plus a bias each
    "q_alexnet_first_layer_size": 55,  # 216 // 4 = 54 steps after the first window
    "q_same_padding_for_5x5": 2,  # a 5 x 5 kernel loses 4 rows: give back 2 at the top and 2 at the bottom
    "q_pooling_under_a_shift": "max",  # max [7, 3] both times; averages [9/4, 4/4] -> [9/4, 3/4]
    "q_kernels_blind_to_flat_regions": {"w_laplace", "w_sobel_x", "w_sobel_y"},  # entries sum to 0
    "q_which_kernels_are_separable": {"w_box", "w_sobel_x", "w_binomial"},  # rank 1: box, Sobel, 121 x 121
    "q_weights_of_two_stacked_3x3": 2 * 9 * 64 * 64,  # 73,728 (one 5 x 5: 102,400)
    "q_conv_layer_parameters": 32 * 16 * 9 + 32,  # 4,640
    "q_values_after_pooling": 8 * 9,  # sides (7 - 3) // 2 + 1 = 3
    "q_dense_layer_after_flatten": 1568 * 10 + 10,  # 32 * 49 = 1,568 inputs
    "q_receptive_field_of_lenet": 14,  # backwards: 1 -> 5 (conv) -> 10 (pool) -> 14 (conv)
    "q_relu_after_opposite_kernels": "right",  # dark -> bright on the left edge: -w_sobel_x < 0 there
    "q_probability_of_a_guess": 1 / 10,
    "q_cost_of_an_output": 0.5 * (0.04 + 0.01 + 0.01),
    "q_largest_learning_rate": 0.04,  # |1 - alpha * 50| < 1
    "q_receptive_field_five_layers": 1 + 2 + 2 + 2 + 2 + 2,  # 1 unit, then each 3x3 layer adds 1 per side
    # 04_learning
    "q_finite_difference_calls": 2 * 12,  # f(x + eps e_k) and f(x - eps e_k) for each of 3 x 4 entries
    "q_dense_gradient_zeros": 3,  # the column of the zero input: one entry per unit
    "q_kernel_gradient_terms": (28 - 5 + 1) ** 2,  # one product per output position
    "q_which_gradient_flips_the_kernel": "input_gradient",  # dJ/da sums w[j, i] delta[p - j, q - i]
    "q_matrix_weight_entries": 81,  # 3 x 3 = 9 outputs (rows), each row holds all 9 weights once
    "q_max_pool_tie_gradient": "top_left",  # all of delta goes to the first maximum in row-major order
    "q_gradcheck_which_input_fails": "w_only",  # grad_x and grad_b never use grad_w
    "q_why_the_photo_learns_slowly": "neighbouring_pixels_alike",  # curvature ratio ~1,900 vs ~1
    "q_steps_per_epoch": 62 + 1,  # 62 full batches of 64 = 3,968 digits, then one batch of 32
    "q_overfitting_signal": "validation_loss_stalls_while_training_loss_falls",
    # 05_applications
    "q_upsample_gradient": 2 * 2,  # each input pixel feeds a 2 x 2 block of outputs of gradient 1
    "q_mean_iou_all_background": (0.96 / 1.0 + 10 * 0.0) / 11,  # background IoU 0.96, digits 0
    "q_iou_thin_box_shifted": 40 / (80 + 80 - 40),  # overlap 2 x 20 = 40, each box 4 x 20 = 80
    "q_nms_chain": 2,  # A kept, B suppressed by A (IoU 0.6), C kept (IoU 1/3 with A; B was not kept)
    "q_frame_budget_ms": 40.0,  # 1 / 25 s = 0.04 s
}


# question id -> {the mistake a hint of the question describes: the number that mistake gives}, worked
# out by hand from what each hint says (not copied from its key), for every number question with hints
MISTAKES = {
    "q_numbers_in_a_colour_image": {
        "one_channel": 32 * 32,
        "one_row_per_channel": 32 * 3,
        "times_the_brightness_range": 32 * 32 * 3 * 255,  # the count times the largest value, 255
    },
    "q_receptive_field_five_layers": {
        "adds_the_kernel_sizes": 5 * 3,
        "multiplies_the_kernel_sizes": 3**5,
        "forgets_the_unit_itself": 5 * 2,
        "four_layers": 1 + 4 * 2,
    },
    "q_valid_output_count": {
        "the_input_size": 6 * 8,
        "forgets_the_plus_one": (6 - 3) * (8 - 3),
        "shrinks_each_side_by_one": (6 - 1) * (8 - 1),
    },
    "q_dense_weights_for_a_small_image": {
        "the_convolution_weights": 3 * 3,
        "the_entries_a_kernel_weight_fills": 9 * 9,  # each of the 9 outputs holds the 9 kernel weights
        "adds_outputs_and_inputs": 9 + 25,
    },
    "q_parameters_of_a_colour_conv_layer": {
        "no_biases": 64 * 3 * 3 * 3,
        "one_slice_per_kernel_with_biases": 64 * (3 * 3 + 1),
        "one_slice_per_kernel_no_biases": 64 * 3 * 3,
        "channels_twice": 64 * 3 * 3 * 3 * 3,  # no biases, the 3 input channels counted twice
    },
    "q_alexnet_first_layer_size": {
        "forgets_the_plus_one": (227 - 11) // 4,
        "adds_one_before_dividing": (227 - 11 + 1) // 4,
        "ignores_the_stride": (227 - 11) // 1 + 1,
        "divides_the_whole_input_plus_one": 227 // 4 + 1,
        "divides_the_whole_input_rounded_up": math.ceil(227 / 4),
        "divides_the_whole_input": 227 // 4,
        "pads_by_two": (227 + 2 * 2 - 11) // 4 + 1,
    },
    "q_same_padding_for_5x5": {
        "both_sides_together": 5 - 1,
        "the_kernel_size": 5,
        "the_padding_of_a_3x3": (3 - 1) // 2,
    },
    "q_weights_of_two_stacked_3x3": {
        "one_5x5_layer": 5 * 5 * 64 * 64,
        "one_of_the_layers": 3 * 3 * 64 * 64,
        "one_factor_of_64_missing": 2 * 3 * 3 * 64,  # the input channels or the kernels per layer
        "one_channel_in_and_out": 2 * 3 * 3,
    },
    "q_conv_layer_parameters": {
        "no_biases": 32 * 16 * 3 * 3,
        "one_slice_per_kernel": 32 * (3 * 3 + 1),
        "a_bias_per_input_channel": 32 * 16 * 3 * 3 + 16,
    },
    "q_values_after_pooling": {
        "forgets_the_plus_one": 8 * ((7 - 3) // 2) ** 2,
        "window_moves_by_its_size": 8 * (7 // 3) ** 2,
        "forgets_the_channels": 3 * 3,
        "stride_one": 8 * ((7 - 3) // 1 + 1) ** 2,
        "rounds_up": 8 * math.ceil(7 / 2) ** 2,  # half the side rounded up: a window at 6 sticks out
    },
    "q_dense_layer_after_flatten": {
        "no_biases": 32 * 7 * 7 * 10,
        "one_value_per_map": 32 * 10 + 10,
        "one_map": 7 * 7 * 10 + 10,
    },
    "q_receptive_field_of_lenet": {
        "adds_the_window_sizes": 5 + 2 + 5,
        "no_pooling": 1 + (5 - 1) + (5 - 1),
        "pooling_at_stride_one": 1 + (5 - 1) + (2 - 1) + (5 - 1),  # at stride 1 each layer adds k - 1
        "no_first_convolution": (5 - 1) * 2 + 2,  # backwards through the last conv and the pooling only
    },
    "q_probability_of_a_guess": {
        "the_whole_total": 1.0,  # one class given all of the probabilities' total
        "nothing": 0.0,
    },
    "q_cost_of_an_output": {
        "no_half": 0.04 + 0.01 + 0.01,
        "mean_of_the_squares": (0.04 + 0.01 + 0.01) / 3,
        "true_class_term_alone": 0.5 * (0.8 - 1) ** 2,  # the same number as the mean, by chance
        "absolute_values": 0.5 * (0.2 + 0.1 + 0.1),
        "halved_mean": 0.5 * (0.04 + 0.01 + 0.01) / 3,
    },
    "q_largest_learning_rate": {
        "one_over_lambda": 1 / 50,
        "times_lambda": 2 * 50,
    },
    # 04_learning
    "q_finite_difference_calls": {
        "one_per_entry": 3 * 4,
        "one_sided": 3 * 4 + 1,
        "adds_the_axes": 3 + 4,
        "also_f_of_x": 2 * 3 * 4 + 1,  # f(x) as well, which only a one-sided difference needs
    },
    "q_dense_gradient_zeros": {
        "a_row": 4,  # a row of dJ/dw has one entry per input
        "one_entry": 1,
        "every_entry": 3 * 4,
    },
    "q_kernel_gradient_terms": {
        "every_input_pixel": 28 * 28,
        "the_kernel_entries": 5 * 5,
        "one_use": 1,
        "forgets_the_plus_one": (28 - 5) ** 2,  # 23 x 23 output positions
    },
    "q_matrix_weight_entries": {
        "every_entry": (3 * 3) * (5 * 5),
        "the_distinct_weights": 3 * 3,
        "the_zeros": (3 * 3) * (5 * 5 - 3 * 3),  # each of the 9 rows: 25 columns, 9 of them weights
        "three_rows": 25 * 3,
    },
    "q_steps_per_epoch": {
        "drops_the_last_batch": 4000 // 64,
        "not_whole_batches": 4000 / 64,
        "one_per_digit": 4000,
    },
    # 05_applications
    "q_upsample_gradient": {
        "one_output": 1,
        "one_side_of_the_block": 2,
        "divides_by_the_block": 1 / (2 * 2),
    },
    "q_mean_iou_all_background": {
        "background_iou_one": (1.0 + 10 * 0.0) / 11,
        "background_alone": 0.96,
        "nothing_scores": 0.0,
    },
    "q_iou_thin_box_shifted": {
        "over_one_box": 40 / 80,
        "intersection_counted_twice": 40 / (80 + 80),  # the two areas added, the overlap not subtracted
    },
    "q_nms_chain": {
        "suppressed_box_suppresses": 1,  # B, suppressed by A, also removes C
        "nothing_suppressed": 3,
    },
    "q_frame_budget_ms": {
        "in_seconds": 1 / 25,
        "the_frame_rate": 25,
    },
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


def _written_differently(answer):
    """The answer in another accepted form: an int as a float, a set of options as a reversed list."""
    if isinstance(answer, int):
        return float(answer)
    return sorted(answer, reverse=True) if isinstance(answer, set) else answer


# wrong answers that a second mistake gives too, equal by chance to a hinted number: the hint keyed to
# it must name that mistake as well (in these words), not only the one it was written for
SHARED_MISTAKES = [
    ("q_cost_of_an_output", 0.5 * (0.8 - 1) ** 2, "the square of the true class's difference alone"),
    ("q_receptive_field_of_lenet", (5 - 1) * 2 + 2, "or the first convolution was"),
    ("q_alexnet_first_layer_size", (227 - 11 + 1) // 4, "or it is added before dividing"),
]

CORRECT = {question_id: [_answer(_written_differently(answer))] for question_id, answer in ANSWERS.items()}
BUGGY = [
    (question_id, _answer(value), words)
    for question_id in ANSWERS
    for value, words in _wrong_answers(EXERCISES[question_id])
] + [(question_id, _answer(value), words) for question_id, value, words in SHARED_MISTAKES]
