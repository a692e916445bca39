"""Questions of 04_learning: the cost of finite differences, zeros of a dense gradient, the products
in a kernel gradient, which gradient flips the kernel, the convolution's matrix, max pooling at a tie,
gradcheck, a kernel learned slowly, mini-batches, overfitting."""

from __future__ import annotations

from course.grading.questions.question import ChoiceQuestion, NumberQuestion

__all__ = ["QUESTIONS"]

NOTEBOOK = "04_learning"

QUESTIONS = [
    NumberQuestion(
        id="q_finite_difference_calls",
        notebook=NOTEBOOK,
        title="how often central differences call the function",
        prompt="how many times central differences call f for an x of shape (3, 4)",
        answer=24,
        reasoning=(
            "Central differences nudge one entry at a time, and each entry needs f on both sides of it, "
            "f(x + eps e_k) and f(x - eps e_k); f(x) itself is never needed. Count the entries of a "
            "(3, 4) array, then the calls per entry."
        ),
        mistakes={
            12: "12 calls is one per entry, fewer than even a one-sided difference needs (it also needs "
            "f(x)); the central difference evaluates f on both sides of every entry",
            13: "13 = 12 + 1 is the one-sided difference, which also needs f(x); the central one needs "
            "two calls per entry and never f(x)",
            7: "7 = 3 + 4 adds the sizes of the two axes: the array has rows x columns entries",
            25: "25 also counts a call of f(x); the central difference never needs it, only f on both "
            "sides of each entry",
        },
    ),
    NumberQuestion(
        id="q_dense_gradient_zeros",
        notebook=NOTEBOOK,
        title="where the weight gradient of a dense layer is zero",
        prompt="zero entries of dJ/dw for 3 units and 4 inputs when one input a_i is 0 (delta has no zero)",
        answer=3,
        reasoning=(
            "dJ/dw[j, i] = delta[j] * a_prev[i]: entry (j, i) is zero exactly when delta[j] or a_prev[i] "
            "is. Row j belongs to unit j and column i to input i; count the entries of the column of the "
            "zero input."
        ),
        mistakes={
            4: "4 is a row: a zero input makes its column of dJ/dw zero (one entry per unit), not a row",
            1: "the zero input meets every unit: its whole column of dJ/dw is zero, one entry per unit",
            12: "only the entries that multiply the zero input vanish; delta has no zero",
        },
    ),
    NumberQuestion(
        id="q_kernel_gradient_terms",
        notebook=NOTEBOOK,
        title="how many products one entry of the kernel gradient sums",
        prompt="the products summed in dJ/dw[0, 0] for a 28 x 28 input and a 5 x 5 kernel, stride 1",
        answer=24 * 24,
        reasoning=(
            "The kernel is shared: w[0, 0] was used once for every output position, and dJ/dw[0, 0] adds "
            "one product a[n, m] * delta[n, m] per output position. Count the output positions of a "
            "5 x 5 kernel on a 28 x 28 input."
        ),
        mistakes={
            784: "784 = 28 x 28 counts every input pixel, but w[0, 0] met only the pixels at the top-left "
            "corner of a window: one per output position",
            25: "25 is the number of kernel entries; the sum runs over the output positions",
            1: "the kernel is shared by every position, so each weight collects a product from every output",
            529: "529 = 23 x 23 forgets the + 1: a kernel can start at every row from 0 to H - K, both "
            "included, and likewise along the columns",
        },
    ),
    ChoiceQuestion(
        id="q_which_gradient_flips_the_kernel",
        notebook=NOTEBOOK,
        title="which gradient meets the kernel flipped",
        prompt="which gradient of a convolution is a correlation with the kernel flipped by 180 degrees",
        options=("kernel_gradient", "input_gradient", "both", "neither"),
        answer="input_gradient",
        reasoning=(
            "Write each gradient as a sum and look at the indices. dJ/dw[j, i] sums a[n + j, m + i] "
            "delta[n, m]: both indices run forwards. dJ/da[p, q] sums w[j, i] delta[p - j, q - i]: one "
            "index runs backwards while the other runs forwards."
        ),
        mistakes={
            "kernel_gradient": "dJ/dw[j, i] = sum a[n + j, m + i] delta[n, m] has no minus sign: it is "
            "the input correlated with delta, no flip (and the kernel does not even appear in it)",
            "both": "the kernel gradient does not contain the kernel at all: it correlates the input "
            "with delta",
            "neither": "in dJ/da[p, q] = sum w[j, i] delta[p - j, q - i] the index of delta runs "
            "backwards: turned into a correlation, that is the kernel rotated by 180 degrees",
        },
    ),
    NumberQuestion(
        id="q_matrix_weight_entries",
        notebook=NOTEBOOK,
        title="how many entries of a convolution's matrix hold a weight",
        prompt="the number of entries of M that hold a kernel weight, for a 5 x 5 input and a 3 x 3 kernel",
        answer=9 * 9,
        reasoning=(
            "M has one row per output position and one column per input pixel. Row (n, m) holds the "
            "kernel at the window of (n, m) and zeros elsewhere, so each row holds every kernel weight "
            "once. Count the output positions of a 3 x 3 kernel on a 5 x 5 input, then the weights per "
            "row."
        ),
        mistakes={
            225: "225 = 9 x 25 is every entry of M; most of them are zeros (pixels outside the window)",
            9: "9 is the number of distinct weights; each of them appears once in every row of M",
            144: "144 is the number of zeros: count the entries that hold a weight",
            75: "75 = 25 x 3 is not the size of M: it has one row per output (3 x 3 of them) and one "
            "column per input pixel",
        },
    ),
    ChoiceQuestion(
        id="q_max_pool_tie_gradient",
        notebook=NOTEBOOK,
        title="the gradient of max pooling at a tie",
        prompt="where delta goes in the max-pooling window [[3, 3], [1, 0]]",
        options=("top_left", "top_right", "split_between_both", "both_get_all"),
        answer="top_left",
        reasoning=(
            "At a tie the maximum has no derivative: raising either 3 raises the output, lowering either "
            "one alone does not. So the backward pass follows the forward's choice: the output copied the "
            "entry that argmax picked, and all of delta goes back to it. Ask which of the tied entries "
            "argmax returns, scanning the window row by row."
        ),
        mistakes={
            "top_right": "argmax returns the first maximum in row-major order, scanning the top row "
            "from the left",
            "split_between_both": "splitting delta between tied maxima is a choice some libraries make, "
            "but the forward pass copied one entry, and all of delta goes back to that one",
            "both_get_all": "then the window would send back twice what it received: only the entry the "
            "output copied gets delta",
        },
    ),
    ChoiceQuestion(
        id="q_gradcheck_which_input_fails",
        notebook=NOTEBOOK,
        title="which gradient a flipped kernel gradient spoils",
        prompt="which gradients gradcheck rejects when only grad_w was computed with the kernel flipped",
        options=("x_only", "w_only", "x_and_w", "x_w_and_b"),
        answer="w_only",
        reasoning=(
            "gradcheck compares each returned gradient with finite differences of the cost in that "
            "argument alone. Ask which of the three returned arrays the bug changed, and whether the "
            "others were computed from it."
        ),
        mistakes={
            "x_only": "the bug flips the kernel gradient: grad_x came from the library, unchanged",
            "x_and_w": "grad_x is computed from delta and w, not from grad_w, so the flip leaves it right",
            "x_w_and_b": "grad_b is the sum of delta and grad_x uses w itself: only grad_w is flipped",
        },
    ),
    ChoiceQuestion(
        id="q_why_the_photo_learns_slowly",
        notebook=NOTEBOOK,
        title="why gradient descent crawls on the photograph",
        prompt="why descent recovers Sobel's kernel slowly from the photograph and fast from noise",
        options=(
            "neighbouring_pixels_alike",
            "step_too_large",
            "photo_has_fewer_pixels",
            "kernel_gradient_wrong_on_photos",
        ),
        answer="neighbouring_pixels_alike",
        reasoning=(
            "The step was set from the steepest curvature of J, the same rule for both images. Look at "
            "the ratio of the steepest to the flattest curvature printed for each, and ask what in an "
            "image makes some combinations of kernel weights barely change the edge map."
        ),
        mistakes={
            "step_too_large": "a step too large would make the cost grow or zig-zag; here it falls "
            "steadily, just slowly along the flat directions",
            "photo_has_fewer_pixels": "both images are the same size (96 x 96)",
            "kernel_gradient_wrong_on_photos": "the same function recovers the kernel exactly from "
            "noise, and its check passed: the gradient is right, the valley is narrow",
        },
    ),
    NumberQuestion(
        id="q_steps_per_epoch",
        notebook=NOTEBOOK,
        title="gradient steps in one epoch",
        prompt="the number of gradient descent steps fit makes in one epoch of 4,000 digits in batches of 64",
        answer=63,
        reasoning=(
            "An epoch is one pass over every training example, and each mini-batch gives one step. "
            "Divide the number of examples by the batch size; the examples left over at the end form one "
            "more, smaller batch (fit does not drop them)."
        ),
        mistakes={
            62: "the 32 digits left over after 62 full batches form one more, smaller batch: one more step",
            62.5: "steps are counted in whole batches; the last, partial batch is one step",
            4000: "one step per mini-batch, not per digit: each step averages the gradient of 64 digits",
        },
    ),
    ChoiceQuestion(
        id="q_overfitting_signal",
        notebook=NOTEBOOK,
        title="what overfitting looks like on the curves",
        prompt="which sign on the loss curves says that a network has started to overfit",
        options=(
            "training_loss_rises",
            "validation_loss_stalls_while_training_loss_falls",
            "both_losses_fall",
            "validation_loss_below_training_loss",
        ),
        answer="validation_loss_stalls_while_training_loss_falls",
        reasoning=(
            "Overfitting means learning the training examples better without learning the task better. "
            "Ask which curve measures the training examples and which one measures new examples, and "
            "what each does when only the first kind improves."
        ),
        mistakes={
            "training_loss_rises": "a rising training loss means the optimisation itself goes wrong (a "
            "step too large, say); an overfitting network fits its training set better and better",
            "both_losses_fall": "while both fall the network is still learning something that carries "
            "over to new examples: that is learning, not overfitting",
            "validation_loss_below_training_loss": "that happens early in training (the training loss "
            "is averaged over an epoch of a network that was still worse); it is not a sign of "
            "memorising",
        },
    ),
]
