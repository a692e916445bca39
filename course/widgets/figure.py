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
from collections.abc import Callable, Mapping

import ipywidgets as widgets
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.layout_engine import TightLayoutEngine

from course._args import is_int

__all__ = ["InteractiveFigure", "int_slider", "new_figure", "png_of"]

DPI = 80


def new_figure(width: float, height: float, titled: bool = True) -> Figure:
    """A pyplot-free figure of width x height inches laid out tightly, leaving room at the top for a
    `suptitle` when `titled`."""
    top = 1 - 0.42 / height if titled else 1
    figure = Figure(figsize=(width, height), layout=TightLayoutEngine(rect=(0, 0, 1, top)))
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
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
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
