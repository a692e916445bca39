"""Questions of 02_components: output sizes, weights of a layer, padding, pooling under a shift, which
kernels ignore flat regions, which are separable, and what stacking small kernels saves."""

from __future__ import annotations

from course.grading.questions.question import ChoiceQuestion, NumberQuestion

__all__ = ["QUESTIONS"]

_KERNELS = ("w_box", "w_laplace", "w_sobel_x", "w_sobel_y")

QUESTIONS = [
    NumberQuestion(
        id="q_valid_output_count",
        notebook="02_components",
        title="how many outputs a kernel makes",
        prompt="the number of outputs of a 3 x 3 kernel on a 6 x 8 input (stride 1, no padding)",
        answer=4 * 6,
        reasoning=(
            "Count the positions where the whole kernel fits. Along the rows, a K-row kernel can start at "
            "0, 1, ..., H - K: that is H - K + 1 positions; the same along the columns. The output is "
            "(H - K_H + 1) x (W - K_W + 1), and the count is the product."
        ),
        mistakes={
            48: "48 = 6 x 8 is the size of the input: near the border the kernel does not fit",
            15: "15 = 3 x 5 forgets the + 1: a kernel that starts at 0 and at H - K fits at both",
            35: "35 = 5 x 7 shrinks each side by 1; a 3 x 3 kernel needs K - 1 = 2 rows (and columns) more "
            "than its first position",
        },
    ),
    NumberQuestion(
        id="q_dense_weights_for_a_small_image",
        notebook="02_components",
        title="the dense layer behind a 3 x 3 convolution on a 5 x 5 input",
        prompt="the number of weights of a fully connected layer from a 5 x 5 input to a 3 x 3 output",
        answer=25 * 9,
        reasoning=(
            "A fully connected layer has one weight for every (output, input) pair, like the 4 x 9 matrix "
            "above: count the outputs of a 3 x 3 kernel on the 5 x 5 input, count the inputs, multiply."
        ),
        mistakes={
            9: "9 is the convolution's own count (one 3 x 3 kernel): the dense layer has a weight for every "
            "pair of an output and an input",
            81: "81 = 9 x 9 counts the entries that a convolution fills with a kernel weight; the dense "
            "layer also has a weight where the convolution has a fixed zero",
            34: "34 = 25 + 9 adds the counts; a dense layer multiplies them: outputs x inputs",
        },
    ),
    NumberQuestion(
        id="q_parameters_of_a_colour_conv_layer",
        notebook="02_components",
        title="the parameters of a convolutional layer on a colour image",
        prompt="weights and biases of a layer of 64 kernels of 3 x 3 on an RGB image",
        answer=64 * 3 * 3 * 3 + 64,
        reasoning=(
            "Each kernel spans every input channel: C x K_H x K_W weights, and each kernel has one bias. "
            "The layer holds F such kernels: F * (C * K_H * K_W + 1) parameters."
        ),
        mistakes={
            64 * 27: "that counts the weights but not the 64 biases, one per kernel",
            64 * 9 + 64: "each kernel has one 3 x 3 slice per input channel: an RGB image has 3",
            64 * 9: "each kernel has one 3 x 3 slice per input channel (3 of them), and a bias",
            64 * 3 * 9 * 3: "that counts the 3 input channels twice: each kernel has C x K_H x K_W = "
            "3 x 3 x 3 weights; and each of the 64 kernels also has a bias",
        },
    ),
    NumberQuestion(
        id="q_alexnet_first_layer_size",
        notebook="02_components",
        title="the output size of AlexNet's first layer",
        prompt="the output height of a 227 x 227 input, 11 x 11 kernels, stride 4, no padding",
        answer=(227 - 11) // 4 + 1,
        reasoning=(
            "H_o = (H + 2p - K) // s + 1: the first window starts at row 0, each next one s rows further, "
            "and the last must end inside the (padded) input. Here H = 227, K = 11, s = 4 and p = 0."
        ),
        mistakes={
            54: "the + 1 is missing, or it is added before dividing ((227 - 11 + 1) // 4): count the steps "
            "(227 - 11) // 4 first, then + 1 for the window that starts at row 0",
            217: "that ignores the stride: the kernel moves 4 rows at a time, not 1",
            57: "227 // 4 + 1 (or 227 / 4 rounded up) divides the whole input; only the room left after "
            "the first window, H - K, is divided by the stride",
            56: "227 // 4 divides the whole input (and padding by 2, (227 + 2 * 2 - 11) // 4 + 1, gives 56 "
            "too, but this layer has no padding); only the room left after the first window, H - K, is "
            "divided by the stride",
        },
    ),
    NumberQuestion(
        id="q_same_padding_for_5x5",
        notebook="02_components",
        title="the padding that keeps the size for a 5 x 5 kernel",
        prompt="the zero padding p (on each side) that keeps a stride-1 5 x 5 convolution's output size",
        answer=2,
        reasoning=(
            "A valid convolution at stride 1 loses K - 1 rows (and columns): the kernel must fit. Padding "
            "gives them back when the zeros added at the top and at the bottom together make up K - 1; "
            "p is what is added on each side, half of that."
        ),
        mistakes={
            4: "p is added on each side: K - 1 = 4 is the total, top and bottom together",
            5: "padding by the kernel size adds too much: the output would grow by K + 1",
            1: "p = 1 keeps the size of a 3 x 3 convolution; a 5 x 5 kernel loses more",
        },
    ),
    ChoiceQuestion(
        id="q_pooling_under_a_shift",
        notebook="02_components",
        title="max and average pooling under a one-pixel shift",
        prompt="which pooling of windows of 4 keeps [0, 2, 7, 0, 0, 0, 3, 1] unchanged after a shift",
        options=("max", "average", "both", "neither"),
        answer="max",
        reasoning=(
            "Pool both rows window by window: the windows are entries 0-3 and 4-7. After the shift each "
            "window loses one value and gains another. Max pooling changes only if a window's largest "
            "value leaves it or a larger one comes in; average pooling changes whenever the value that "
            "leaves and the value that comes in differ (the window's sum changes)."
        ),
        mistakes={
            "average": "the second window's average changes: the shift moves the 1 out of it and a 0 in "
            "from the first window",
            "both": "compare the averages of the second window before and after the shift: the value "
            "that left it is not the one that came in",
            "neither": "look at each window's largest value before and after the shift: does it leave "
            "the window?",
        },
    ),
    ChoiceQuestion(
        id="q_kernels_blind_to_flat_regions",
        notebook="02_components",
        title="which kernels answer 0 on a flat region",
        prompt="which of the kernels give 0 wherever the image has one constant brightness, whatever it is",
        options=_KERNELS,
        answer={"w_laplace", "w_sobel_x", "w_sobel_y"},
        reasoning=(
            "On a flat region every input under the kernel has the same value v, so the output is v times "
            "the sum of the kernel's entries. Add up the entries of each kernel."
        ),
    ),
    ChoiceQuestion(
        id="q_which_kernels_are_separable",
        notebook="02_components",
        title="which kernels are separable",
        prompt="which kernels are an outer product of one column and one row",
        options=("w_box", "w_laplace", "w_sobel_x", "w_cross", "w_binomial"),
        answer={"w_box", "w_sobel_x", "w_binomial"},
        reasoning=(
            "A kernel is an outer product of a column c and a row r exactly when every row is a multiple "
            "of one same row (row j is c[j] times r): rank 1. Check each kernel's rows; if two rows that "
            "are not zero are not multiples of each other, the kernel is not separable."
        ),
    ),
    NumberQuestion(
        id="q_weights_of_two_stacked_3x3",
        notebook="02_components",
        title="the weights of two stacked 3 x 3 layers",
        prompt="the weights of two stacked 3 x 3 convolutions, 64 channels in and out of each, no biases",
        answer=2 * 3 * 3 * 64 * 64,
        reasoning=(
            "One layer with C input and F output channels holds F x C x K_H x K_W weights. Count one 3 x 3 "
            "layer from 64 to 64 channels, then the second, the same, on top of it."
        ),
        mistakes={
            5 * 5 * 64 * 64: "that is one 5 x 5 layer, which sees the same 5 x 5 region with more weights",
            3 * 3 * 64 * 64: "that is one of the two layers",
            2 * 3 * 3 * 64: "each kernel spans all 64 input channels, and there are 64 kernels per layer",
            18: "18 counts one channel in and out; every kernel has a 3 x 3 slice per input channel",
        },
    ),
]
