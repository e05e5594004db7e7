"""BubbleUp's picture: each attribute's values in the selection beside the baseline's.

:func:`histogram` reads one attribute's value distribution on both sides from the counts
table a Result keeps (no data is read again); :func:`svg` draws it as inline SVG for the
HTML report and the notebook view, :func:`histograms_renderable` as share bars for the
terminal. Categorical and boolean attributes are drawn as paired bars (the most common
values, then "other"); numeric attributes as overlaid distributions over their values or
value ranges. Every string from the data is escaped.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bubbleup.errors import ColumnError, UsageError, did_you_mean
from bubbleup.pipeline.items import format_number, is_time, time_text
from bubbleup.printable import cut, printable

if TYPE_CHECKING:
    from bubbleup.pipeline.count import Totals  # noqa: F401
    from bubbleup.pipeline.result import Result
    from bubbleup.pipeline.timewindow import Timeline

#: Colours of the two sides, everywhere (terminal styles are magenta and cyan).
SELECTION_COLOR = "#b0209b"
BASELINE_COLOR = "#1f8fb0"
#: Values drawn per categorical attribute before the rest are folded into "other".
TOP_VALUES = 8
#: Attributes named in the error for an attribute that was not analysed.
MAX_NAMED = 40


HISTOGRAM_SCHEMA: dict[str, pl.DataType] = {
    "value": pl.String(),
    "type": pl.String(),
    "low": pl.Float64(),
    "high": pl.Float64(),
    "selection_count": pl.Float64(),
    "baseline_count": pl.Float64(),
    "selection_share": pl.Float64(),
    "baseline_share": pl.Float64(),
}


def _attribute_row(result: Result, attribute: str) -> dict[str, Any]:
    attrs = result.attributes
    found = attrs.filter(pl.col("attribute") == attribute)
    if found.height:
        row: dict[str, Any] = found.row(0, named=True)
        return row
    names = attrs["attribute"].to_list()
    why = next((x.reason for x in result.left_out if x.column == attribute), None)
    head = f"attribute '{attribute}' was not analysed"
    sep = "; analysed: "
    if why:
        head += f" (left out: {why})"
    elif hint := did_you_mean(attribute, names):
        head, sep = head + hint, " Analysed: "
    shown = ", ".join(names[:MAX_NAMED])
    if len(names) > MAX_NAMED:
        shown += f" and {len(names) - MAX_NAMED} more (see Result.attributes)"
    raise ColumnError(f"{head}{sep}{shown or 'none'}")


def compact_number(x: float) -> str:
    """A number short enough for an axis: thousands separated, about 4 digits.

    Examples
    --------
    >>> compact_number(62245.8125), compact_number(2.25), compact_number(0.000123456)
    ('62,246', '2.25', '0.0001235')
    """
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return format_number(float(f"{x:.4g}"))


def _range_label(op: str, low: float | None, high: float | None, dtype: str = "") -> str:
    def show(x: float | None) -> str:
        value = float(x if x is not None else 0)
        return time_text(value, dtype) if is_time(dtype) else compact_number(value)

    if op == "<=":
        return f"≤ {show(high)}"
    if op == ">":
        return f"> {show(low)}"
    return f"{show(low)} – {show(high)}"


def histogram(result: Result, attribute: str, *, top: int = TOP_VALUES) -> pl.DataFrame:
    """One attribute's distribution in the selection and in the baseline.

    Returns one row per bar: ``value`` (text shown), ``type`` (``value``, ``range``,
    ``missing`` or ``other``), ``low`` / ``high`` (range bounds), weighted
    ``selection_count`` / ``baseline_count`` and ``selection_share`` /
    ``baseline_share`` (each side's shares add up to 1). Categorical and boolean
    attributes keep the ``top`` values most common on either side, by selection share,
    and fold the rest into ``other``; numeric attributes keep every value or range, in
    order, with missing last.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> h = histogram(r, "kernel_version")
    >>> h.select("value", "selection_share", "baseline_share").head(2).rows()[0][0]
    '5.15.0-91-generic'
    >>> round(h["selection_share"].sum(), 6), round(h["baseline_share"].sum(), 6)
    (1.0, 1.0)
    """
    meta = _attribute_row(result, attribute)
    if result.counts.is_empty():
        raise UsageError("this Result has no value counts; make it with bubbleup.analyze()")
    counts = result.counts.filter(pl.col("attribute") == attribute)
    t = result.totals
    n_s = t.selection_weight or 1.0
    n_b = t.baseline_weight or 1.0
    rows: list[tuple[str, str, float | None, float | None, float, float]] = []
    binned = bool(meta["binned"])
    # values already summed into one row (by keep_counts or the count stage)
    folded: int | None = 0
    other_row = (0.0, 0.0)
    for r in counts.iter_rows(named=True):
        if r["op"] == "other":
            folded = None if r["value"] is None else int(r["value"])
            other_row = (float(r["sel"]), float(r["base"]))
            continue
        if r["op"] == "is_null":
            rows.append(("(missing)", "missing", None, None, r["sel"], r["base"]))
        elif binned or r["op"] in ("<=", ">", "between"):
            label = _range_label(r["op"], r["low"], r["high"], str(meta.get("dtype", "")))
            rows.append((label, "range", r["low"], r["high"], r["sel"], r["base"]))
        else:
            rows.append((str(r["value"]), "value", None, None, r["sel"], r["base"]))
    frame = pl.DataFrame(
        rows,
        schema=["value", "type", "low", "high", "selection_count", "baseline_count"],
        orient="row",
    ).with_columns(
        selection_share=pl.col("selection_count") / n_s,
        baseline_share=pl.col("baseline_count") / n_b,
    )
    frame = frame.cast(dict(HISTOGRAM_SCHEMA.items()))
    missing_last = pl.col("type") == "missing"
    if meta["kind"] in ("numeric", "time"):
        if binned:
            return frame.with_row_index("_i").sort(missing_last, "_i").drop("_i")
        key = pl.col("value").cast(pl.Float64, strict=False)
        return frame.sort(missing_last, key, "value")
    ranked = frame.sort(
        pl.max_horizontal("selection_share", "baseline_share"), "value", descending=[True, False]
    )
    top = max(top, 1)
    keep = ranked.head(top).sort(
        "selection_share", "baseline_share", "value", descending=[True, True, False]
    )
    rest = ranked.slice(top)
    has_other = folded is None or folded > 0
    if rest.height or has_other:
        sel = float(rest["selection_count"].sum()) + other_row[0]
        base = float(rest["baseline_count"].sum()) + other_row[1]
        if folded is None:
            label = "other values"
        else:
            values = rest.height + folded
            label = f"other ({values:,} value{'' if values == 1 else 's'})"
        other = pl.DataFrame(
            [(label, "other", None, None, sel, base, sel / n_s, base / n_b)],
            schema=HISTOGRAM_SCHEMA,
            orient="row",
        )
        keep = pl.concat([keep, other])
    return keep


def top_attributes(result: Result, n: int) -> list[str]:
    """The first ``n`` context attributes in the Result's order (significant first, by
    distance); time columns are left to the timeline, outcomes to their own section."""
    attrs = result.attributes
    if "role" in attrs.columns:
        attrs = attrs.filter((pl.col("role") == "context") & (pl.col("kind") != "time"))
    return [str(a) for a in attrs["attribute"].head(max(n, 0))]


def _pct(x: float) -> str:
    if x == 0:
        return "0%"
    if x < 0.001:
        return f"{x * 100:.2g}%"
    return f"{x * 100:.1f}%"


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg_open(width: int, height: int, label: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_e(label)}" '
        'fill="currentColor" font-size="11" '
        'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif">'
    )


def timeline_svg(timeline: Timeline) -> str:
    """The timeline as an SVG: each side's share of its events per time bucket, the
    selection above the baseline (weighted), with the first and last bucket's start.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> svg = timeline_svg(r.timeline)
    >>> svg.startswith("<svg"), svg.count("<rect") <= 2 * len(r.timeline.starts)
    (True, True)
    """
    n = max(len(timeline.starts), 1)
    width, left, row_h, gap = 640, 70, 46, 10
    step = (width - left - 10) / n
    height = 2 * row_h + gap + 22
    parts = [_svg_open(width, height, f"selection and baseline per {timeline.every}")]
    for j, (side, values, color) in enumerate(
        (
            ("selection", timeline.selection, SELECTION_COLOR),
            ("baseline", timeline.baseline, BASELINE_COLOR),
        )
    ):
        total = sum(values) or 1.0
        biggest = max(values, default=0.0) / total or 1.0
        top = 4 + j * (row_h + gap)
        parts.append(f'<text x="{left - 8}" y="{top + row_h / 2 + 4:.0f}" text-anchor="end">'
                     f"{side}</text>")  # fmt: skip
        for i, (start, value) in enumerate(zip(timeline.starts, values, strict=True)):
            h = (value / total) / biggest * row_h
            if h <= 0:
                continue
            parts.append(
                f'<rect x="{left + i * step:.1f}" y="{top + row_h - h:.1f}" '
                f'width="{max(step - 1, 1):.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{_e(start)}: {value:,.0f} ({value / total:.1%})</title></rect>"
            )
    y = height - 6
    first = timeline.starts[0] if timeline.starts else ""
    last = timeline.starts[-1] if timeline.starts else ""
    parts.append(f'<text x="{left}" y="{y}">{_e(first)}</text>')
    parts.append(f'<text x="{width - 10}" y="{y}" text-anchor="end">{_e(last)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_paired(attribute: str, hist: pl.DataFrame) -> str:
    width, label_w, bar_w, row_h = 460, 150, 220, 24
    height = row_h * hist.height + 6
    biggest = max([*hist["selection_share"], *hist["baseline_share"], 1e-12])
    parts = [_svg_open(width, height, f"{attribute}: selection and baseline shares")]
    for i, r in enumerate(hist.iter_rows(named=True)):
        y = 3 + i * row_h
        style = ' font-style="italic"' if r["type"] in ("missing", "other") else ""
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end"{style}>'
            f"<title>{_e(cut(str(r['value'])))}</title>{_e(_short(str(r['value']), 24))}</text>"
        )
        for j, (side, color) in enumerate(
            (("selection", SELECTION_COLOR), ("baseline", BASELINE_COLOR))
        ):
            share = float(r[f"{side}_share"])
            w = max(share / biggest * bar_w, 0.0)
            yy = y + 2 + j * 10
            parts.append(
                f'<rect x="{label_w}" y="{yy}" width="{w:.1f}" height="9" fill="{color}">'
                f"<title>{_e(side)}: {_pct(share)}</title></rect>"
                f'<text x="{label_w + w + 4:.1f}" y="{yy + 8}" fill="{color}" '
                f'font-size="10">{_pct(share)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _svg_overlaid(attribute: str, hist: pl.DataFrame) -> str:
    width, height = 460, 178
    left, right, top, bottom = 44, 452, 12, 132
    n = hist.height
    gap = 10 if n > 1 and hist["type"][-1] == "missing" else 0
    slot = (right - left - gap) / max(n, 1)
    biggest = max([*hist["selection_share"], *hist["baseline_share"], 1e-12])
    plot_h = bottom - top
    parts = [_svg_open(width, height, f"{attribute}: selection and baseline distributions")]
    parts.append(
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>'
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" fill="#666">'
        f"{_pct(biggest)}</text>"
        f'<text x="{left - 4}" y="{bottom}" text-anchor="end" fill="#666">0</text>'
    )
    ranges = hist["type"][0] == "range" if n else False
    every = max(1, round(48 / slot)) if slot > 0 else 1
    for i, r in enumerate(hist.iter_rows(named=True)):
        x = left + i * slot + (gap if r["type"] == "missing" else 0)
        for side, color in (("baseline", BASELINE_COLOR), ("selection", SELECTION_COLOR)):
            share = float(r[f"{side}_share"])
            h = share / biggest * plot_h
            parts.append(
                f'<rect x="{x + 0.5:.1f}" y="{bottom - h:.1f}" width="{max(slot - 1, 1):.1f}" '
                f'height="{h:.1f}" fill="{color}" fill-opacity="0.45" stroke="{color}" '
                f'stroke-width="1"><title>{_e(r["value"])}: {side} {_pct(share)}</title></rect>'
            )
        if r["type"] == "missing":
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{bottom + 14}" text-anchor="middle" '
                'font-style="italic">missing</text>'
            )
        elif ranges:
            if i > 0 and r["low"] is not None and i % every == 0:
                parts.append(
                    f'<text x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">'
                    f"{_e(compact_number(float(r['low'])))}</text>"
                    f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 3}" '
                    'stroke="#888"/>'
                )
        elif i % every == 0:
            parts.append(
                f'<text x="{x + slot / 2:.1f}" y="{bottom + 14}" text-anchor="middle">'
                f"{_e(_short(str(r['value']), 10))}</text>"
            )
    if ranges:
        parts.append(
            f'<text x="{(left + right) / 2:.0f}" y="{bottom + 32}" text-anchor="middle" '
            'fill="#666" font-size="10">value ranges (quantile bins, drawn equally wide)</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def svg(result: Result, attribute: str, *, top: int = TOP_VALUES) -> str:
    """One attribute's selection-vs-baseline chart as an inline SVG element.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> svg(r, "build_tool").startswith("<svg")
    True
    """
    meta = _attribute_row(result, attribute)
    hist = histogram(result, attribute, top=top)
    if meta["kind"] in ("numeric", "time"):
        return _svg_overlaid(attribute, hist)
    return _svg_paired(attribute, hist)


def _bar(share: float, biggest: float, width: int) -> str:
    from bubbleup.outputs.render import bar

    return bar(share / biggest if biggest > 0 else 0.0, width)


def histograms_renderable(
    result: Result, *, attributes: int = 6, top: int = TOP_VALUES
) -> RenderableType:
    """Terminal view: per attribute, each value's selection and baseline share as bars.

    Bars are scaled to the largest share drawn for that attribute.
    """
    blocks: list[RenderableType] = []
    kinds = {str(a["attribute"]): a for a in result.attributes.iter_rows(named=True)}
    for name in top_attributes(result, attributes):
        meta = kinds[name]
        hist = histogram(result, name, top=top)
        biggest = max([*hist["selection_share"], *hist["baseline_share"], 1e-12])
        kind = str(meta["kind"]) + (" ranges" if meta["binned"] else "")
        table = Table(
            title=Text(f"{printable(name)}  ({kind}, distance {float(meta['distance']):.2f})"),
            title_justify="left",
            title_style="bold",
            show_edge=False,
            pad_edge=False,
            header_style="bold",
        )
        table.add_column("value", overflow="fold", max_width=40)
        table.add_column("selection", no_wrap=True)
        table.add_column("baseline", no_wrap=True)
        for r in hist.iter_rows(named=True):
            s, b = float(r["selection_share"]), float(r["baseline_share"])
            style = "italic" if r["type"] in ("missing", "other") else ""
            table.add_row(
                Text(printable(r["value"]), style=style),
                Text(_bar(s, biggest, 16), style="magenta") + f" {_pct(s):>6}",
                Text(_bar(b, biggest, 16), style="cyan") + f" {_pct(b):>6}",
            )
        blocks += [Text(""), table]
    return Group(
        Text("\nvalue distributions, selection vs baseline (bars scaled per attribute)"),
        *blocks,
    )
