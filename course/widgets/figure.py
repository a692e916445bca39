"""`InteractiveFigure`: named controls whose values redraw a matplotlib figure, shown as a PNG.

The drawing function gets the controls' values as keyword arguments and returns a
`matplotlib.figure.Figure` (made without pyplot, so nothing is shown twice and nothing leaks). In
JupyterLab the object displays as a live widget (controls above the picture); its MIME bundle also
holds `image/png` of the current state, which is what nbval, nbconvert and any front end without the
widget manager show instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.image import imsave
from matplotlib.layout_engine import TightLayoutEngine

from course._args import is_int

__all__ = [
    "InteractiveFigure",
    "MeasureOnceTightLayout",
    "TightLayoutOnce",
    "int_slider",
    "new_figure",
    "png_of",
]

DPI = 80


class MeasureOnceTightLayout(TightLayoutEngine):
    """matplotlib's tight layout, measuring each Axes once instead of twice.

    With a `rect` (the room left for a suptitle), matplotlib's tight layout runs its fitting twice over
    the same, unmoved Axes, measuring every tick label and title again: for the 12 grids of the
    multichannel figure that second measurement was 0.37 of the layout's 0.75 s. Both measurements are
    equal (nothing moves in between), so the first is kept and returned the second time: the same
    subplot parameters, in half the time."""

    def execute(self, fig) -> None:
        with _measured_once(fig.axes):
            super().execute(fig)


@contextmanager
def _measured_once(axes) -> Iterator[None]:
    """Within the block, each Axes' get_tightbbox returns its first answer for the same arguments."""
    for ax in axes:
        ax.get_tightbbox = _remembering(ax.get_tightbbox)
    try:
        yield
    finally:
        for ax in axes:
            del ax.get_tightbbox  # back to the class's method


def _remembering(measure: Callable) -> Callable:
    answers = {}

    def measured(*args, **kwargs):
        key = (tuple(map(id, args)), tuple(sorted((k, id(v)) for k, v in kwargs.items())))
        if key not in answers:
            answers[key] = measure(*args, **kwargs)
        return answers[key]

    return measured


class TightLayoutOnce(MeasureOnceTightLayout):
    """A tight layout computed for the first figure (at each dpi) and reused for the next ones.

    Only for figures whose geometry never changes from one setting to the next: the same Axes, tick
    labels and titles of the same extent (the multichannel figure: the same subplot parameters at all 18
    steps, to the last bit; tests/test_widgets.py checks it). There the layout, 0.37 s of each redraw
    even measured once, is done once per widget."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._found: dict[tuple, dict[str, float]] = {}

    def execute(self, fig) -> None:
        key = (fig.dpi, *fig.get_size_inches())
        if key not in self._found:
            super().execute(fig)
            pars = fig.subplotpars
            self._found[key] = {name: getattr(pars, name) for name in SUBPLOT_PARAMETERS}
        fig.subplots_adjust(**self._found[key])


SUBPLOT_PARAMETERS = ("left", "bottom", "right", "top", "wspace", "hspace")
_FIXED_LAYOUTS: dict[tuple, TightLayoutOnce] = {}


def new_figure(width: float, height: float, titled: bool = True, fixed: str = "") -> Figure:
    """A pyplot-free figure of width x height inches laid out tightly, leaving room at the top for a
    `suptitle` when `titled`. `fixed` names a figure whose geometry never changes (see
    `TightLayoutOnce`): every figure of that name shares one layout, computed for the first."""
    top = 1 - 0.42 / height if titled else 1
    rect = (0, 0, 1, top)
    if fixed:
        layout = _FIXED_LAYOUTS.setdefault((fixed, width, height, titled), TightLayoutOnce(rect=rect))
    else:
        layout = MeasureOnceTightLayout(rect=rect)
    figure = Figure(figsize=(width, height), layout=layout)
    FigureCanvasAgg(figure)  # a renderer from the start, for drawing code that measures text
    return figure


def int_slider(op: str, name: str, value, low: int, high: int, description: str, why: str = ""):
    """An IntSlider over low..high starting at `value`, or an error naming `name` when value is not an int
    in that range (a slider would silently clamp it, and the figure show another setting than asked).
    `why` explains a bound that depends on other arguments, e.g. "at most size + 2 * padding"."""
    if not is_int(value) or not low <= value <= high:
        bound = f" ({why})" if why else ""
        error = ValueError if is_int(value) else TypeError
        raise error(f"{op}: {name} must be an int in {low}..{high}{bound}, got {value!r}")
    return widgets.IntSlider(int(value), min=low, max=high, description=description)


def png_of(figure: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes, drawn once.

    savefig draws a figure with a layout engine twice: a first pass that only lays it out (walking every
    artist, drawing nothing), then the picture; for the multichannel figure the walk alone was 0.25 s of
    png_of's 1.1 s. Here the canvas draws it once at `dpi` (the layout engine runs inside that draw,
    as in savefig's first pass) and its pixels are written as savefig writes them: the same bytes."""
    canvas = figure.canvas if isinstance(figure.canvas, FigureCanvasAgg) else FigureCanvasAgg(figure)
    original_dpi = figure.dpi
    figure.dpi = dpi
    try:
        canvas.draw()
        buffer = io.BytesIO()
        imsave(buffer, canvas.buffer_rgba(), format="png", origin="upper", dpi=dpi)
    finally:
        figure.dpi = original_dpi
    return buffer.getvalue()


class InteractiveFigure:
    """A figure redrawn whenever one of its controls changes.

    draw: called as draw(**values), values = {name: control.value}, returns a Figure.
    controls: name -> ipywidgets value widget (slider, dropdown, checkbox...), shown in this order.
    constrain: optional; called with the controls before each drawing, to adjust bounds that depend on
        other controls (e.g. the largest output row for the current stride); changes it makes do not
        trigger further drawings.
    header: optional widgets shown before the controls (e.g. a Play button linked to a slider).
    """

    def __init__(
        self,
        draw: Callable[..., Figure],
        controls: Mapping[str, widgets.ValueWidget],
        *,
        constrain: Callable[[Mapping[str, widgets.ValueWidget]], None] | None = None,
        header: tuple[widgets.Widget, ...] = (),
    ) -> None:
        self.draw = draw
        self.controls = dict(controls)
        self.constrain = constrain
        self._drawing = False
        if constrain is not None:
            constrain(self.controls)
        self.image = widgets.Image(format="png", value=self.render())
        for control in self.controls.values():
            control.style.description_width = "initial"
            control.observe(self._redraw, names="value")
        row = widgets.HBox([*header, *self.controls.values()], layout=widgets.Layout(flex_flow="row wrap"))
        self.widget = widgets.VBox([row, self.image])

    @property
    def values(self) -> dict[str, object]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def render(self) -> bytes:
        """PNG bytes of the figure for the current values."""
        return png_of(self.draw(**self.values))

    def _redraw(self, change) -> None:
        if self._drawing:
            return
        self._drawing = True
        try:
            if self.constrain is not None:
                self.constrain(self.controls)
            self.image.value = self.render()
        finally:
            self._drawing = False

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, object]:
        bundle = self.widget._repr_mimebundle_()
        bundle["image/png"] = base64.b64encode(self.image.value).decode("ascii")
        bundle["text/plain"] = f"<{type(self).__name__}: {self.draw.__name__}({self.values})>"
        return bundle
