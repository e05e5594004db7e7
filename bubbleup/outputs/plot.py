"""``Result.plot(attribute)``: one attribute, selection vs baseline, as a matplotlib Figure.

Why matplotlib rather than Altair: a matplotlib Figure renders as a static image in every
notebook front end (JupyterLab, VS Code, nbviewer, GitHub's preview) with no JavaScript
and no network access, saves straight to PNG, SVG or PDF for a post-mortem
(``fig.savefig("oom.png")``), and is the object most notebook users already know how to
restyle. Altair's charts need the Vega JavaScript libraries in the front end, and a
separate converter package to make an image file.

matplotlib is an optional dependency: ``pip install 'bubbleup[notebook]'``. The figure is
made with the object-oriented API (not ``pyplot``): no global figure state is touched, and
it is shown once, as a PNG, when it is the value of a notebook cell (:class:`Chart` adds
the ``_repr_png_`` that a figure made without ``pyplot`` lacks).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from bubbleup.outputs import charts

if TYPE_CHECKING:
    from bubbleup.pipeline.result import Result


class Chart(Figure):
    """A matplotlib Figure that shows itself in Jupyter (as PNG) without ``pyplot``."""

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png")
        return buffer.getvalue()


def _text(value: object, n: int = 28) -> str:
    # '$' would start matplotlib's math text: data is shown literally
    return charts._short(str(value), n).replace("$", r"\$")


def plot(result: Result, attribute: str, *, top: int = charts.TOP_VALUES) -> Chart:
    """Draw one attribute's distribution in the selection beside the baseline's.

    Categorical and boolean attributes are paired horizontal bars (the ``top`` values,
    then "other"); numeric attributes are overlaid distributions over their values or
    value ranges (quantile bins, drawn equally wide), missing last.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> fig = r.plot("kernel_version")
    >>> fig.axes[0].get_title()
    'kernel_version: selection vs baseline'
    """
    hist = charts.histogram(result, attribute, top=top)
    meta = charts._attribute_row(result, attribute)
    sel = hist["selection_share"].to_list()
    base = hist["baseline_share"].to_list()
    labels = [_text(v) for v in hist["value"]]
    n = hist.height
    kind = str(meta["kind"]) + (" ranges" if meta["binned"] else "")
    if meta["kind"] == "numeric":
        fig = Chart(figsize=(8, 3.6), layout="constrained")
        ax = fig.subplots()
        xs = list(range(n))
        ax.bar(
            xs,
            base,
            width=0.95,
            color=charts.BASELINE_COLOR,
            alpha=0.45,
            edgecolor=charts.BASELINE_COLOR,
            label="baseline",
        )
        ax.bar(
            xs,
            sel,
            width=0.95,
            color=charts.SELECTION_COLOR,
            alpha=0.45,
            edgecolor=charts.SELECTION_COLOR,
            label="selection",
        )
        every = max(1, n // 10)
        ax.set_xticks(xs[::every], labels[::every], rotation=35, ha="right", fontsize=8)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("share of events")
    else:
        fig = Chart(figsize=(8, 1.2 + 0.42 * n), layout="constrained")
        ax = fig.subplots()
        ys = list(range(n))
        height = 0.4
        ax.barh(
            [y - height / 2 for y in ys],
            sel,
            height,
            color=charts.SELECTION_COLOR,
            label="selection",
        )
        ax.barh(
            [y + height / 2 for y in ys],
            base,
            height,
            color=charts.BASELINE_COLOR,
            label="baseline",
        )
        ax.set_yticks(ys, labels)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_xlabel("share of events")
    ax.set_title(f"{_text(attribute, 60)}: selection vs baseline")
    ax.legend(frameon=False, fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.text(
        0.99,
        0.005,
        f"{kind}, distance {float(meta['distance']):.2f}",
        ha="right",
        va="bottom",
        fontsize=7,
        color="#777",
    )
    return fig
