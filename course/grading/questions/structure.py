"""Questions of 03_structure: parameters and shapes through the layers of a CNN, its receptive field, the
cost, and the largest learning rate that converges."""

from __future__ import annotations

from course.grading.questions.question import ChoiceQuestion, NumberQuestion

__all__ = ["QUESTIONS"]

QUESTIONS = [
    NumberQuestion(
        id="q_conv_layer_parameters",
        notebook="03_structure",
        title="the parameters of a convolutional layer",
        prompt="weights and biases of nn.Conv2d(16, 32, 3): 16 channels in, 32 kernels of 3 x 3",
        answer=32 * (16 * 3 * 3 + 1),
        reasoning=(
            "Each of the F kernels spans all C input channels: C x K_H x K_W weights, plus one bias. The "
            "layer holds F of them: F * (C * K_H * K_W + 1), whatever the size of the image."
        ),
        mistakes={
            32 * 16 * 9: "that counts the weights but not the 32 biases",
            32 * 9 + 32: "each kernel has one 3 x 3 slice per input channel: 16 of them",
            16 * (32 * 9 + 1): "there is one bias per kernel (output channel), 32, not one per input channel",
        },
    ),
    NumberQuestion(
        id="q_values_after_pooling",
        notebook="03_structure",
        title="how many values a pooling layer passes on",
        prompt="the number of values of 8 maps of 7 x 7 after max pooling 3 x 3 with stride 2",
        answer=8 * 3 * 3,
        reasoning=(
            "Pooling works on each channel on its own: the 8 channels stay. Along each side, "
            "H_o = (H - K) // s + 1, as for a convolution without padding; the count is C * H_o * W_o."
        ),
        mistakes={
            8 * 2 * 2: "a side of 2 is (7 - 3) // 2 without the + 1 (the window at 0 counts too), or 7 // 3 "
            "(the window moves 2 positions at a time, not 3): (7 - 3) // 2 + 1",
            3 * 3: "pooling keeps the channels: count all 8 of them",
            8 * 5 * 5: "that is stride 1; the window moves 2 positions at a time",
            8 * 4 * 4: "a side of 4 divides the whole side by the stride (7 // 2 + 1, or 7 / 2 rounded up), "
            "which counts a window starting at 6 that does not fit; only the room left after the first "
            "window, H - K = 4, is divided by the stride: (7 - 3) // 2 + 1",
        },
    ),
    NumberQuestion(
        id="q_dense_layer_after_flatten",
        notebook="03_structure",
        title="the parameters of the dense layer after a flatten",
        prompt="weights and biases of nn.Linear reading 32 maps of 7 x 7, with 10 outputs",
        answer=32 * 7 * 7 * 10 + 10,
        reasoning=(
            "Flatten lays the C x H x W values of an example out as one vector of n_in numbers; a dense "
            "layer has n_out * n_in weights and n_out biases."
        ),
        mistakes={
            32 * 7 * 7 * 10: "that counts the weights but not the 10 biases",
            32 * 10 + 10: "the flattened vector holds every value of every map, not one per map",
            7 * 7 * 10 + 10: "the flattened vector holds the values of all 32 maps",
        },
    ),
    NumberQuestion(
        id="q_receptive_field_of_lenet",
        notebook="03_structure",
        title="the receptive field after LeNet's second convolution",
        prompt="the input side seen by one unit after conv 5 x 5, max pool 2 x 2 stride 2, conv 5 x 5",
        answer=14,
        reasoning=(
            "Work backwards from one unit (side 1) through the layers in reverse order: a layer of kernel "
            "k and stride s turns a side r into (r - 1) * s + k. The pooling window counts like a kernel."
        ),
        mistakes={
            5 + 2 + 5: "adding the window sizes forgets that the pooling's stride spreads the second "
            "convolution's window over twice as many input pixels",
            9: "9 = 5 + 5 - 1 stacks the two convolutions as if there were no pooling between them",
            10: "the pooling's stride was left out (after a stride-2 layer, each step of the layer above "
            "covers 2 input pixels), or the first convolution was: the field reaches through all three "
            "layers down to the input",
        },
    ),
    ChoiceQuestion(
        id="q_relu_after_opposite_kernels",
        notebook="03_structure",
        title="which edges survive ReLU",
        prompt="the edges of a bright vertical stroke that -w_sobel_x followed by ReLU shows",
        options=("left", "right", "both", "neither"),
        answer="right",
        reasoning=(
            "w_sobel_x is right column minus left column: positive where the image gets brighter from left "
            "to right. Find the sign of w_sobel_x on each edge of the stroke, flip it for -w_sobel_x, and "
            "keep only what is positive: ReLU sets every negative value to 0."
        ),
        mistakes={
            "left": "on the stroke's left edge the image gets brighter to the right, so w_sobel_x is "
            "positive there and -w_sobel_x negative, which ReLU removes",
            "both": "ReLU keeps one sign only; the two edges give opposite signs",
            "neither": "one of the two edges gives -w_sobel_x a positive answer, which ReLU keeps",
        },
    ),
    NumberQuestion(
        id="q_probability_of_a_guess",
        notebook="03_structure",
        title="the probability a network that knows nothing gives",
        prompt="the probability per class of a 10-class softmax whose 10 scores are all equal",
        answer=0.1,
        rtol=1e-6,
        reasoning=(
            "The softmax turns scores z_k into e^{z_k} / sum_k' e^{z_k'}. With equal scores every term "
            "e^{z_k} is the same, so each class gets the same share of a total of 1."
        ),
        mistakes={
            1.0: "the probabilities of all classes add up to 1; equal scores share it",
            0.0: "e^z is never 0: equal scores give every class the same positive share",
        },
    ),
    NumberQuestion(
        id="q_cost_of_an_output",
        notebook="03_structure",
        title="the cost of one output",
        prompt="J = 1/2 sum (a - y)^2 for a = [0.8, 0.1, 0.1] and y = [1, 0, 0]",
        answer=0.03,
        rtol=1e-6,
        reasoning=(
            "Subtract entry by entry, square each difference, add the squares, and halve the sum: the "
            "lecture's J sums over the outputs, it does not average them."
        ),
        mistakes={
            0.06: "the 1/2 is missing",
            0.02: "that is the mean of the three squares, or half the square of the true class's difference "
            "alone; J adds the squares of every output (also where y is 0) and halves the sum",
            0.2: "the differences must be squared, not taken as absolute values",
            0.01: "J halves the sum of the squares; it does not average them",
        },
    ),
    NumberQuestion(
        id="q_largest_learning_rate",
        notebook="03_structure",
        title="the learning rate above which gradient descent diverges",
        prompt="the learning rate above which descent diverges when J's steepest curvature is 50",
        answer=2 / 50,
        rtol=1e-6,
        reasoning=(
            "Along the steepest direction J is a parabola of curvature lambda_max, and one step multiplies "
            "the distance to the minimum by (1 - alpha * lambda_max). Descent diverges when that factor is "
            "below -1: solve 1 - alpha * lambda_max = -1 for alpha."
        ),
        mistakes={
            1 / 50: "alpha = 1 / lambda_max jumps straight to the minimum along that direction; it "
            "still converges up to twice that",
            100: "2 * lambda_max multiplies by the curvature; the limit divides by it: the steeper the "
            "valley, the smaller the step",
        },
    ),
]
