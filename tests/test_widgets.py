"""The interactive figures: are their numbers right, do their controls redraw them, and does each still
show a picture where no browser runs (the static fallback)?"""

from __future__ import annotations

import base64
import io
import itertools

import numpy as np
import pytest
from matplotlib.layout_engine import TightLayoutEngine

import course.functional as F
from course.apps import detection
from course.apps.scenes import load_scenes, make_video
from course.apps.weights import SCENES, load_detector, load_segmenter
from course.data import load_mnist
from course.widgets import conv_explorer, detections, learning_rate, multichannel, playback, pool_router
from course.widgets import receptive_field as rf
from course.widgets.figure import DPI, InteractiveFigure, png_of
from course.widgets.grid import number_text

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def valley_data():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 2)) * [1.0, 0.35]
    return X, X @ np.array([1.0, -2.0]) + 0.1 * rng.normal(size=30)


def cell_colours(ax) -> np.ndarray:
    """The RGBA colour (R, C, 4) of each cell of a grid drawn by draw_numbers."""
    return np.asarray(ax.images[0].get_array())


@pytest.fixture(scope="module")
def scenes():
    return load_scenes(**SCENES)[1]


def every_figure(scenes):
    video = make_video(*load_mnist()[1], 4, seed=5)
    return {
        "conv_explorer": conv_explorer.conv_explorer(),
        "multichannel": multichannel.multichannel_steps(),
        "receptive_field": rf.receptive_field_explorer(),
        "learning_rate": learning_rate.learning_rate_valley(*valley_data()),
        "pool_router": pool_router.pooling_router(),
        "detections": detections.detection_thresholds(load_detector(), scenes.images),
        "playback": playback.video_playback(load_segmenter(), load_detector(), video.images),
    }


def test_every_figure_shows_a_png_without_a_browser_and_redraws_when_a_control_moves(scenes):
    for name, figure in every_figure(scenes).items():
        assert isinstance(figure, InteractiveFigure)
        bundle = figure._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle, name
        first = base64.b64decode(bundle["image/png"])
        assert first.startswith(PNG_SIGNATURE) and first == bytes(figure.image.value), name
        control = next(c for c in figure.controls.values() if hasattr(c, "max") and c.value < c.max)
        control.value = min(control.max, control.value + (control.step if hasattr(control, "step") else 1))
        assert bytes(figure.image.value).startswith(PNG_SIGNATURE), name
        assert bytes(figure.image.value) != first, (
            f"{name}: moving {control.description} left the picture unchanged"
        )


def plain_png(fig) -> bytes:
    """fig as savefig writes it with matplotlib's own tight layout (png_of before it drew once, measured
    each Axes once and reused the multichannel layout)."""
    fig.set_layout_engine(TightLayoutEngine(rect=fig.get_layout_engine().get()["rect"]))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("draw", "setting"),
    [
        (conv_explorer._draw, dict(size=7, kernel_size=5, stride=1, padding=2, row=3, col=4)),
        (conv_explorer._draw, dict(size=3, kernel_size=1, stride=3, padding=0, row=0, col=0)),
        (pool_router._draw, dict(mode="average", kernel_size=3, stride=1, row=3, col=2)),
        (
            lambda **s: learning_rate.learning_rate_valley(*valley_data()).draw(**s),
            dict(lr_times_steepest=2.2),
        ),
        (multichannel._draw, dict(step=17)),  # after step 0 below: its layout, computed once, reused
    ],
    ids=["conv 7-5-1-2", "conv 3-1-3-0", "pool average 3-1", "valley 2.2", "multichannel 17"],
)
def test_png_of_writes_the_same_bytes_as_savefig_with_matplotlibs_tight_layout(draw, setting):
    png_of(multichannel._draw(0))
    assert png_of(draw(**setting)) == plain_png(draw(**setting))


def test_multichannel_layout_computed_once_is_the_tight_layout_of_every_step():
    # the layout is computed for the first figure drawn and reused (TightLayoutOnce): right only because
    # every step's grids, tick labels and titles take the same room
    png_of(multichannel._draw(0))
    for step in (4, 8, 9, 13, 17):
        reused, fresh = multichannel._draw(step), multichannel._draw(step)
        png_of(reused)
        plain_png(fresh)
        for a, b in zip(reused.axes, fresh.axes, strict=True):
            np.testing.assert_allclose(a.get_position().bounds, b.get_position().bounds, atol=1e-12)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # ipywidgets clamps a slider's value into its range without a word: conv_explorer(size=9) showed
        # a 7 x 7 input, pooling_router(kernel_size=4) a 3 x 3 window, multichannel_steps(step=30) step 17
        (lambda: conv_explorer.conv_explorer(size=9), r"conv_explorer: size must be an int in 3\.\.7, got 9"),
        (
            lambda: conv_explorer.conv_explorer(size=3, kernel_size=5),
            r"conv_explorer: kernel_size must be an int in 1\.\.3 \(at most size \+ 2 \* padding\), got 5",
        ),
        (
            lambda: conv_explorer.conv_explorer(stride=0),
            r"conv_explorer: stride must be an int in 1\.\.3, got 0",
        ),
        (lambda: conv_explorer.conv_explorer(padding=2.5), r"padding must be an int in 0\.\.2, got 2\.5"),
        (
            lambda: multichannel.multichannel_steps(step=30),
            r"multichannel_steps: step must be an int in 0\.\.17",
        ),
        (
            lambda: pool_router.pooling_router(kernel_size=4),
            r"pooling_router: kernel_size must be an int in 2\.\.3",
        ),
        (
            lambda: pool_router.pooling_router(mode="avg"),
            r"pooling_router: mode must be 'max' or 'average', got 'avg'",
        ),
        (
            lambda: rf.receptive_field_explorer(layers=9),
            r"receptive_field_explorer: layers must be an int in 1\.\.6",
        ),
        (lambda: rf.receptive_field_explorer(pooling="yes"), r"pooling must be True or False"),
        (
            lambda: learning_rate.learning_rate_valley(*valley_data(), start=(1.0, 2.0, 3.0)),
            r"learning_rate_valley: start must be two weights \(w1, w2\), got shape \(3,\)",
        ),
    ],
    ids=[
        "conv size 9",
        "conv kernel 5 on 3",
        "conv stride 0",
        "conv padding 2.5",
        "multichannel step 30",
        "pool kernel 4",
        "pool mode avg",
        "rf layers 9",
        "rf pooling 'yes'",
        "valley start of 3",
    ],
)
def test_figures_refuse_settings_outside_their_controls_naming_the_argument(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_detection_and_playback_figures_refuse_empty_inputs(scenes):
    with pytest.raises(ValueError, match=r"detection_thresholds: images must be \(N, 1, H, W\) with N >= 1"):
        detections.detection_thresholds(load_detector(), scenes.images[:0])
    with pytest.raises(ValueError, match=r"detection_thresholds: images must be \(N, 1, H, W\) with N >= 1"):
        detections.detection_thresholds(load_detector(), scenes.images[:2, 0])
    with pytest.raises(
        ValueError, match=r"frames must be \(T, 1, H, W\) with T >= 1, got shape \(0, 1, 64, 64\)"
    ):
        playback.video_playback(load_segmenter(), load_detector(), scenes.images[:0])


# -- convolution explorer ----------------------------------------------------------------------------


def test_explorer_output_is_the_convolution_of_the_padded_input_for_every_slider_setting():
    for size, kernel, stride, padding in itertools.product(range(3, 8), range(1, 6), range(1, 4), range(3)):
        if kernel > size + 2 * padding:
            continue
        g = conv_explorer.conv_geometry(size, kernel, stride, padding)
        a = conv_explorer.INPUT[:size, :size]
        w = conv_explorer.KERNEL[:kernel, :kernel]
        expected = F.conv2d(np.pad(a, padding)[None, None], w[None, None], stride=stride)[0, 0]
        assert g.output.shape == ((size + 2 * padding - kernel) // stride + 1,) * 2
        np.testing.assert_array_equal(g.output, expected)
        np.testing.assert_array_equal(g.padded[g.is_padding], 0)
        assert g.is_padding.sum() == (size + 2 * padding) ** 2 - size**2


def test_explorer_terms_are_the_window_under_the_kernel_and_add_up_to_the_output():
    g = conv_explorer.conv_geometry(5, 3, 2, 1, row=1, col=2)
    window = g.padded[2:5, 4:7]  # output (1, 2) at stride 2 starts at padded row 2, column 4
    assert g.terms == list(zip(window.ravel().tolist(), g.kernel.ravel().tolist(), strict=True))
    assert sum(x * k for x, k in g.terms) == g.output[1, 2]


def test_explorer_keeps_the_selected_output_inside_the_output_when_the_stride_grows():
    figure = conv_explorer.conv_explorer(size=7, kernel_size=3)
    figure.controls["row"].value = 4
    figure.controls["stride"].value = 3  # the output shrinks to 2 x 2
    assert figure.controls["row"].max == 1 and figure.controls["row"].value == 1
    with pytest.raises(ValueError, match="kernel_size must be between 1 and size"):
        conv_explorer.conv_geometry(3, 5, 1, 0)


# -- multi-channel steps -----------------------------------------------------------------------------


def test_multichannel_steps_fill_the_output_volume_of_conv2d_one_value_at_a_time():
    reference = F.conv2d(
        multichannel.INPUT[None],
        multichannel.KERNELS,
        multichannel.BIAS,
        multichannel.STRIDE,
        multichannel.PADDING,
    )[0]
    last = reference.size - 1
    for step in range(reference.size):
        s = multichannel.channel_step(step)
        assert s.value == reference[s.f, s.n, s.m]
        assert s.value == s.channel_sums.sum() + multichannel.BIAS[s.f]
        np.testing.assert_array_equal(s.channel_sums, s.products.sum(axis=(1, 2)))
        assert np.isnan(s.output).sum() == last - step
    np.testing.assert_array_equal(multichannel.channel_step(last).output, reference)
    with pytest.raises(ValueError, match="step must be in 0..17"):
        multichannel.channel_step(18)


def test_multichannel_output_colours_tell_every_output_value_apart():
    # the output grids' colour scale was fixed at (-6, 8) while the outputs reach -8: -8 and -6 were
    # drawn the same colour; every distinct value must get its own colour, in order
    fig = multichannel._draw(17)  # the last step: the whole output volume
    output = multichannel.channel_step(17).output
    colours = np.concatenate([cell_colours(fig.axes[4 * g + 3]).reshape(-1, 4) for g in range(2)])
    order = np.argsort(output.ravel(), kind="stable")
    values, brightness = output.ravel()[order], colours[order, :3].mean(axis=-1)
    for k in range(len(values) - 1):
        if values[k] < values[k + 1]:
            assert brightness[k] > brightness[k + 1], f"outputs {values[k]} and {values[k + 1]}"


# -- receptive field ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "kernel", "stride", "pooling", "side"),
    [(1, 3, 1, False, 3), (3, 3, 1, False, 7), (2, 5, 2, False, 13), (4, 3, 1, True, 46), (2, 1, 1, True, 4)],
)
def test_receptive_field_formula_matches_hand_worked_values_and_the_probe(
    layers, kernel, stride, pooling, side
):
    stack = rf.stack_of(layers, kernel, stride, pooling)
    assert rf.field_formula(stack) == side
    probe = rf.probe_field(stack)
    assert probe.rows[1] - probe.rows[0] + 1 == side
    assert probe.cols[1] - probe.cols[0] + 1 == side


def test_receptive_field_probe_says_when_the_stack_does_not_fit_the_photo():
    probe = rf.probe_field(rf.stack_of(6, 3, 3, True))
    assert probe.gradient is None and probe.output_side == 0


# -- learning rate -----------------------------------------------------------------------------------


@pytest.mark.parametrize("ratio", [0.3, 0.9, 1.2, 1.8, 2.0, 2.05, 2.2])
def test_learning_rate_regime_is_what_descent_does_along_the_steepest_direction(ratio):
    X, y = valley_data()
    curvatures, directions = np.linalg.eigh(X.T @ X)
    w_best = np.linalg.lstsq(X, y, rcond=None)[0]
    # 8 steps: enough to see the pattern, few enough that the distance stays far above rounding errors
    path = learning_rate.descent_path(X, y, ratio / curvatures[-1], np.array([-2.0, 2.0]), 8)
    along = (path - w_best) @ directions[:, -1]  # distance to the minimum along the steepest direction
    grows = abs(along[-1]) > abs(along[0]) * (1 + 1e-6)
    keeps = np.isclose(abs(along[-1]), abs(along[0]), rtol=1e-6)  # as far from the minimum as at the start
    alternates = bool(np.all(np.sign(along[1:]) == -np.sign(along[:-1])))
    verdict = learning_rate.regime(ratio / curvatures[-1], curvatures[-1])
    if grows:
        assert verdict == "diverges"
    else:
        assert verdict == ("swings for ever" if keeps else "zig-zags" if alternates else "converges")


def test_learning_rate_figure_uses_the_step_function_it_is_given():
    X, y = valley_data()
    calls = []

    def my_step(w, grad_w, lr):
        calls.append(lr)
        return w - lr * grad_w

    path = learning_rate.descent_path(X, y, 0.01, np.zeros(2), 5, my_step)
    np.testing.assert_allclose(path, learning_rate.descent_path(X, y, 0.01, np.zeros(2), 5))
    assert calls == [0.01] * 5
    with pytest.raises(ValueError, match=r"expected X \(K, 2\) and y \(K,\)"):
        learning_rate.learning_rate_valley(X[:, :1], y)


@pytest.mark.parametrize("ratio", [0.15, 1.8, 2.0, 2.2])
def test_learning_rate_cost_panel_counts_whole_steps_and_its_legend_covers_no_cost(ratio):
    # the step axis was ticked 0, 2.5, 5.0, 7.5...: there is no step 2.5; and the legend sat at the upper
    # right, on top of the costs at 2.0 (flat near J(start)) and 2.2 (rising to the top right)
    figure = learning_rate.learning_rate_valley(*valley_data())
    fig = figure.draw(lr_times_steepest=ratio)
    fig.canvas.draw()
    cost_axis = fig.axes[1]
    ticks = [t for t in cost_axis.get_xticks() if cost_axis.get_xlim()[0] <= t <= cost_axis.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks
    legend = cost_axis.get_legend().get_window_extent()
    costs = cost_axis.lines[0]
    points = costs.get_transform().transform(costs.get_xydata())
    inside = [(x, y) for x, y in points if legend.contains(x, y)]
    assert inside == [], f"alpha * lambda_max = {ratio}: the legend covers {len(inside)} cost points"


# -- pooling router ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 1), (2, 1), (3, 2)])
def test_pooling_router_sends_delta_where_torch_autograd_does(kernel, stride):
    torch = pytest.importorskip("torch")
    x = torch.tensor(pool_router.INPUT, requires_grad=True)
    for mode, pool in (("max", torch.nn.functional.max_pool2d), ("average", torch.nn.functional.avg_pool2d)):
        out = pool(x, kernel, stride)
        for row, col in [(0, 0), (out.shape[2] - 1, out.shape[3] - 1)]:
            (grad,) = torch.autograd.grad(out[0, 0, row, col], x, retain_graph=True)
            routed = pool_router.routed_gradient(mode, kernel, stride, row, col)
            np.testing.assert_allclose(routed, grad[0, 0].numpy(), err_msg=f"{mode} {kernel} {stride}")
        (grad,) = torch.autograd.grad(out.sum(), x)
        np.testing.assert_allclose(
            pool_router.routed_gradient(mode, kernel, stride, None, None), grad[0, 0].numpy()
        )


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(("kernel", "stride"), [(2, 2), (3, 1), (3, 2)])
def test_pooling_router_draws_the_pooled_values_on_the_inputs_colour_scale(mode, kernel, stride):
    # A pooled value is drawn in the colour its value has on the input grid beside it (the input holds
    # every integer 0..35, so an average lies between the colours of the integers around it). Before,
    # the output had a scale of its own, its smallest value white: max 3 x 3 at stride 2 drew 30 white
    # beside an input where 30 is dark grey.
    fig = pool_router._draw(mode, kernel, stride, 0, 0)
    pooled = (F.max_pool2d if mode == "max" else F.avg_pool2d)(pool_router.INPUT, kernel, stride)[0, 0]
    values = pool_router.INPUT[0, 0]
    brightness_in = cell_colours(fig.axes[0])[..., :3].mean(axis=-1)
    brightness_out = cell_colours(fig.axes[1])[..., :3].mean(axis=-1)
    for (r, c), value in np.ndenumerate(pooled):
        below = brightness_in[values == np.floor(value)].item()
        above = brightness_in[values == np.ceil(value)].item()
        assert above - 1e-9 <= brightness_out[r, c] <= below + 1e-9, f"{mode} output ({r}, {c}) = {value}"


# -- detections and playback -------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "iou"), [(0.05, 0.3), (0.4, 0.5), (0.2, 1.0), (0.9, 0.1)])
def test_detection_thresholds_keep_what_the_detectors_own_decoding_keeps(scenes, score, iou):
    detector = load_detector()
    grid = detector(scenes.images[:6])
    everything = detection.decode(grid, score_threshold=0.0, iou_threshold=1.0)
    expected = detection.decode(grid, score_threshold=score, iou_threshold=iou)
    for k in range(6):
        boxes, scores, labels = detections.kept_detections(*(part[k] for part in everything), score, iou)
        np.testing.assert_allclose(boxes, expected[0][k])
        np.testing.assert_allclose(scores, expected[1][k])
        np.testing.assert_array_equal(labels, expected[2][k])


def test_detection_panels_keep_their_size_whatever_the_thresholds(scenes):
    # at score threshold 0 the candidates include boxes reaching past the image, whose labels the tight
    # layout made room for: every image shrank by a fifth (panel width 0.122 of the figure, not 0.155)
    # as the slider reached 0. And one kept box read "1 boxes kept".
    figure = detections.detection_thresholds(load_detector(), scenes.images)
    widths = {}
    for score, iou in [(0.0, 1.0), (0.4, 0.3), (0.95, 0.3)]:
        fig = figure.draw(score_threshold=score, iou_threshold=iou)
        png_of(fig)  # lays the figure out
        widths[score] = [ax.get_position().width for ax in fig.axes]
        kept = int(fig.get_suptitle().split(": ")[-1].split()[0])
        assert fig.get_suptitle().endswith(f"{kept} box{'es' if kept != 1 else ''} kept"), fig.get_suptitle()
    np.testing.assert_allclose(widths[0.0], widths[0.95], err_msg="panel widths at score 0 and 0.95")
    np.testing.assert_allclose(widths[0.4], widths[0.95], err_msg="panel widths at score 0.4 and 0.95")


def test_playback_rejects_frames_of_the_wrong_shape():
    with pytest.raises(
        ValueError, match=r"frames must be \(T, 1, H, W\) with T >= 1, got shape \(4, 64, 64\)"
    ):
        playback.video_playback(load_segmenter(), load_detector(), np.zeros((4, 64, 64)))


# -- numbers on cells --------------------------------------------------------------------------------


def test_numbers_on_cells_never_read_minus_zero_and_drop_trailing_zeros():
    assert number_text(-0.0) == "0"
    assert number_text(-0.004) == "0"
    assert number_text(2.50) == "2.5"
    assert number_text(-3.0, 0) == "-3"
    assert number_text(1 / 9) == "0.11"
    assert number_text(float("nan")) == ""
