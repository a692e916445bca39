"""Right and wrong answers to the short questions, for the corpus of test_checks.

The right answers are worked out here by hand, independently of the registry, one line of reasoning
each; the wrong ones are the mistakes each question names, plus answers no mistake explains (which
must fail without a hint)."""

from __future__ import annotations

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
    "q_cost_of_an_output": 0.5 * (0.04 + 0.01 + 0.01),
    "q_largest_learning_rate": 0.04,  # |1 - alpha * 50| < 1
    "q_receptive_field_five_layers": 1 + 2 + 2 + 2 + 2 + 2,  # 1 unit, then each 3x3 layer adds 1 per side
    # 04_learning
    "q_finite_difference_calls": 2 * 12,  # f(x + eps e_k) and f(x - eps e_k) for each of 3 x 4 entries
    "q_dense_layer_parameters": 48_000 + 120,  # a 120 x 400 weight matrix and 120 biases
    "q_lenet_conv2_parameters": 2_400 + 16,  # w (16, 6, 5, 5) and one bias per kernel
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
    "q_nms_chain": 2,  # A kept, B suppressed by A, C kept (only B overlapped it)
    "q_frame_budget_ms": 40.0,  # 1 / 25 s = 0.04 s
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


CORRECT = {question_id: [_answer(_written_differently(answer))] for question_id, answer in ANSWERS.items()}
BUGGY = [
    (question_id, _answer(value), words)
    for question_id in ANSWERS
    for value, words in _wrong_answers(EXERCISES[question_id])
]
