"""Questions of 05_applications: the upsampling layer's gradient, mean IoU of a trivial segmenter, the
IoU of a thin box shifted sideways, non-maximum suppression on a chain, and the time budget of a frame."""

from __future__ import annotations

from course.grading.questions.question import NumberQuestion

__all__ = ["QUESTIONS"]

NOTEBOOK = "05_applications"

QUESTIONS = [
    NumberQuestion(
        id="q_upsample_gradient",
        notebook=NOTEBOOK,
        title="the gradient of nearest-neighbour upsampling",
        prompt="dJ/dx of every input pixel of upsampling by 2 when every output's gradient is 1",
        answer=4,
        reasoning=(
            "Upsampling by s copies each input pixel into an s x s block of outputs, and by the chain "
            "rule an input's gradient is the sum of the gradients of every output it feeds."
        ),
        mistakes={
            1: "each input pixel feeds a whole block of outputs, and its gradient sums theirs",
            2: "the block is s x s, not s: the pixel is copied along the rows and along the columns",
            0.25: "the forward pass copies, it does not average: the gradients of the block add up, "
            "with no division",
        },
    ),
    NumberQuestion(
        id="q_mean_iou_all_background",
        notebook=NOTEBOOK,
        title="the mean IoU of a segmenter that says background everywhere",
        prompt="mean IoU over 11 classes of 'background everywhere' when 96% of the pixels are background",
        answer=0.96 / 11,
        rtol=0.002,
        reasoning=(
            "Take the classes one at a time. For background, the predicted pixels are all of them and "
            "the true ones 96% of them: IoU = intersection / union. For a digit class nothing is "
            "predicted, so the intersection is empty while the union is not. Then average over all 11 "
            "classes."
        ),
        mistakes={
            1 / 11: "the background's IoU is not 1: it predicted every pixel, and only 96% of them are "
            "background, so its intersection is smaller than its union",
            0.96: "0.96 is the pixel accuracy, or the background's IoU alone: the mean IoU averages "
            "over all 11 classes, and the ten digit classes score 0",
            0: "the background class does score: its predicted and true pixels overlap on 96% of the image",
        },
    ),
    NumberQuestion(
        id="q_iou_thin_box_shifted",
        notebook=NOTEBOOK,
        title="the IoU of a thin box shifted sideways",
        prompt="the IoU of a 4 wide, 20 high box with the same box moved 2 pixels to the right",
        answer=1 / 3,
        rtol=0.01,
        reasoning=(
            "The intersection is as high as both boxes and as wide as the part they share after the "
            "shift; the union is the two areas minus the intersection (counted twice otherwise)."
        ),
        mistakes={
            0.5: "that is the intersection over the area of one box; the union is both areas minus the "
            "intersection, which is larger",
            0.25: "that divides by the sum of the two areas, which counts the part the boxes share twice: "
            "the union is that sum minus the intersection",
        },
    ),
    NumberQuestion(
        id="q_nms_chain",
        notebook=NOTEBOOK,
        title="non-maximum suppression on a chain of boxes",
        prompt="how many of A, B, C greedy NMS keeps (threshold 0.5) in the chain of the text",
        answer=2,
        reasoning=(
            "Visit the boxes by decreasing score and compare each only with the boxes already kept: "
            "a box that was suppressed suppresses nothing."
        ),
        mistakes={
            1: "B was suppressed by A, so B suppresses nothing; C is compared with A alone, the only box "
            "kept before it, and overlaps it by less than the threshold: C is kept",
            3: "B overlaps A, which scores higher and was kept first, by more than the threshold: B goes",
        },
    ),
    NumberQuestion(
        id="q_frame_budget_ms",
        notebook=NOTEBOOK,
        title="the time budget of a frame",
        prompt="the milliseconds available per frame to keep up with a 25 FPS camera",
        answer=1000 / 25,
        rtol=1e-3,
        reasoning=(
            "Frames per second and seconds per frame are inverses; then convert seconds to milliseconds "
            "(1 s = 1000 ms)."
        ),
        mistakes={
            0.04: "that is the budget in seconds; the question asks for milliseconds",
            25: "25 is the number of frames per second; the budget of one frame is its inverse",
        },
    ),
]
