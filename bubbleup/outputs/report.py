"""The HTML report and the notebook view of a Result.

:func:`to_html` makes one self-contained page (inline CSS and SVG; no script, no font, no
image or style from the network; a Content-Security-Policy forbids them), to attach to an
incident or a post-mortem: what was compared, the explanations with share bars, the
attributes by distance, selection-vs-baseline charts of the top attributes, and the
command that reproduces it. :func:`view_html` is the smaller view Jupyter shows for a
Result. Every string that comes from the data or from the user is escaped, and wrapped in
``<bdi>`` so that right-to-left text cannot reorder the page around it. The same input
gives the same bytes (no timestamp).
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import TYPE_CHECKING

from bubbleup._version import __version__
from bubbleup.outputs import charts
from bubbleup.outputs.render import (
    LABEL_CHARS,
    lift_text,
    outcome_cells,
    percent,
    pvalue,
    summary_line,
)
from bubbleup.printable import cut

if TYPE_CHECKING:
    from bubbleup.pipeline.result import Result

#: Charts drawn in the report / the notebook view.
REPORT_CHARTS = 6
VIEW_CHARTS = 4

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_MONO = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
_CSS = f"""
:root {{ color-scheme: light dark; }}
body {{ font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  margin: 0 auto; max-width: 1120px; padding: 20px 24px 48px; }}
h1 {{ font-size: 1.45em; margin: 0 0 4px; }}
h2 {{ font-size: 1.15em; margin: 28px 0 8px; border-bottom: 1px solid #8884;
  padding-bottom: 4px; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 3px 8px; text-align: left; vertical-align: top; }}
thead th {{ border-bottom: 1px solid #8886; }}
tbody tr:nth-child(even) {{ background: #8881; }}
code, pre {{ font-family: {_MONO}; font-size: 0.92em; }}
pre {{ white-space: pre-wrap; overflow-wrap: anywhere; background: #8882; padding: 10px 12px;
  border-radius: 6px; }}
.subtitle {{ color: #777; margin: 0 0 12px; }}
.legend span {{ display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -1px;
  margin: 0 4px 0 12px; }}
.notes {{ color: #777; font-size: 0.92em; max-width: 52em; }}
svg {{ max-width: 100%; height: auto; }}
@media (max-width: 640px) {{
  body {{ padding: 12px 8px 32px; font-size: 13px; }}
  th, td {{ padding: 3px 4px; overflow-wrap: anywhere; }}  /* long paths wrap */
  td.share {{ min-width: 0 !important; }}
  td.share .bar {{ display: none !important; }}
  td.label {{ overflow-wrap: break-word !important; max-width: none !important; }}
  table.sides, table.outcomes {{ display: block; overflow-x: auto; }}
  /* one explanation a card: its label, then every figure on one line, named */
  table.explanations, table.explanations tbody {{ display: block; }}
  table.explanations thead {{ display: none; }}
  table.explanations tr {{ display: grid; grid-template-columns: 1.8em repeat(4, auto) 1em;
    column-gap: 12px; padding: 4px 0; }}
  table.explanations td {{ padding: 1px 0; }}
  table.explanations td.label {{ grid-column: 2 / -1; grid-row: 1; }}
  table.explanations td:first-child {{ grid-row: 1 / span 2; }}
  table.explanations td[data-h]::before {{ content: attr(data-h) " "; color: #777;
    font-size: 0.85em; }}
}}
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _bdi(text: object) -> str:
    """Text from the data (a name, a value, a label), cut when long, in its own bidi box."""
    return f"<bdi>{_e(cut(str(text), LABEL_CHARS))}</bdi>"


def _num(x: float) -> str:
    return f"{x:,.0f}" if x == int(x) else f"{x:,.1f}"


def _bar(
    share: float, color: str, note: str = "", *, text: str | None = None, side: str = ""
) -> str:
    width = max(0.0, min(share, 1.0)) * 100
    title = f" title='{_e(note)}'" if note else ""
    if side:
        title += f" data-h='{_e(side)}'"
    shown = percent(share) if text is None else text
    return (
        f"<td class='share' style='min-width:11em;white-space:nowrap'{title}>"
        f"<span class='bar' style='display:inline-block;width:6em;background:#8882;height:0.8em;"
        f"vertical-align:-1px'><span style='display:block;background:{color};height:100%;"
        f"width:{width:.1f}%'></span></span> {_e(shown)}</td>"
    )


def _legend() -> str:
    return (
        "<p class='legend' style='margin:4px 0'>"
        f"<span style='background:{charts.SELECTION_COLOR};display:inline-block;width:.9em;"
        "height:.9em;margin:0 4px 0 0;vertical-align:-1px'></span>selection"
        f"<span style='background:{charts.BASELINE_COLOR};display:inline-block;width:.9em;"
        "height:.9em;margin:0 4px 0 14px;vertical-align:-1px'></span>baseline</p>"
    )


def _time_text(result: Result, side: str) -> str:
    parts = []
    for tr in result.time_ranges:
        lo, hi = getattr(tr, side)
        if lo is None:
            continue
        parts.append(f"{_bdi(tr.column)}: {_e(lo)} to {_e(hi)}")
    return "<br>".join(parts)


def _criteria(result: Result) -> str:
    p = result.parameters
    return (
        f"q &lt; {p.get('alpha', 0.05):g}, lift &ge; {p.get('min_lift', 1.5):g}, "
        f"selection share &ge; {_e(percent(p.get('min_share', 0.05)))}"
    )


def compared_html(result: Result, *, compact: bool = False) -> str:
    """What was compared: source, predicates, events raw and weighted, weights, time."""
    t = result.totals
    weighted = result.weight_column is not None
    sides = [
        ("scope", result.filter or "every event", t.scope_events, None, "scope"),
        ("selection", result.where, t.selection_events, t.selection_weight, "selection"),
        ("baseline", result.baseline, t.baseline_events, t.baseline_weight, "baseline"),
    ]
    has_time = any(tr.scope[0] is not None for tr in result.time_ranges)
    head = "<th></th><th>predicate</th><th style='text-align:right'>events</th>"
    if weighted:
        head += "<th style='text-align:right'>weighted</th>"
    if has_time and not compact:
        head += "<th>time range</th>"
    body = []
    for name, pred, events, weight, side in sides:
        cells = (
            f"<th>{name}</th><td><code>{_bdi(pred)}</code></td>"
            f"<td style='text-align:right'>{events:,}</td>"
        )
        if weighted:
            cells += f"<td style='text-align:right'>{'' if weight is None else _num(weight)}</td>"
        if has_time and not compact:
            cells += f"<td style='white-space:nowrap'>{_time_text(result, side)}</td>"
        body.append(f"<tr>{cells}</tr>")
    if result.weight_column:
        how = "detected automatically" if result.weight_auto else "given with --weight"
        weight_text = (
            f"each event counts as many times as its <code>{_bdi(result.weight_column)}</code> "
            f"({how}); tests use effective sample sizes"
        )
    else:
        weight_text = "none: every event counts once"
    facts = [("source", f"<code>{_bdi(result.source)}</code>"), ("weights", weight_text)]
    if result.left_out and not compact:
        facts.append(
            (
                "left out",
                "; ".join(
                    f"<code>{_bdi(x.column)}</code> ({_e(x.reason)})" for x in result.left_out
                ),
            )
        )
    if not compact:
        facts.append(("significant", _criteria(result)))
    fact_rows = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts)
    return (
        f"<table>{fact_rows}</table>"
        f"<table class='sides' style='margin-top:8px'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _label_html(row: dict[str, object], ranks: dict[str, int]) -> str:
    out = f"<code>{_bdi(row['label'])}</code>"
    aliases = row.get("aliases") or []
    if isinstance(aliases, list | tuple) and aliases:
        same = ", ".join(f"<code>{_bdi(a)}</code>" for a in aliases)
        out += f"<br><small style='color:#777'>same events as: {same}</small>"
    by = row.get("explained_by")
    if by:
        rank = ranks.get(str(by))
        where = f"#{rank}" if rank else f"<code>{_bdi(by)}</code>"
        out += f"<br><small style='color:#777'>explained by {where}</small>"
    return out


def explanations_html(result: Result, *, top: int | None = 20) -> str:
    """The explanations table with selection and baseline share bars.

    Explanations that are not significant, or that another explanation accounts for
    (``explained_by``), are dimmed; ``aliases`` (the same events) are listed under a label.
    """
    ex = result.explanations
    rows = ex if top is None else ex.head(top)
    ranks = dict(zip(ex["label"], ex["rank"], strict=True))
    t = result.totals
    out = []
    for r in rows.iter_rows(named=True):
        lead = r["significant"] and not r.get("explained_by")
        dim = "" if lead else " style='opacity:0.6'"
        sel_note = f"{_num(r['selection_count'])} of {_num(t.selection_weight)} selected"
        base_note = f"{_num(r['baseline_count'])} of {_num(t.baseline_weight)} baseline"
        out.append(
            f"<tr{dim}><td style='text-align:right'>{r['rank']}</td>"
            f"<td class='label' style='overflow-wrap:anywhere;max-width:36em'>"
            f"{_label_html(r, ranks)}</td>"
            f"{_bar(r['selection_share'], charts.SELECTION_COLOR, sel_note, side='selection')}"
            f"{_bar(r['baseline_share'], charts.BASELINE_COLOR, base_note, side='baseline')}"
            f"<td class='lift' data-h='lift' style='text-align:right'>"
            f"{_e(lift_text(r['lift']))}</td>"
            f"<td class='q' data-h='q' style='text-align:right'>{_e(pvalue(r['q_value']))}</td>"
            f"<td class='sig'>{'✔' if r['significant'] else ''}</td></tr>"
        )
    if "explained_by" in ex.columns:
        summary = summary_line(result, shown=rows.height)
    else:
        n_sig = int(ex["significant"].sum())
        summary = f"{rows.height:,} of {ex.height:,} explanations shown; {n_sig:,} significant."
    foot = f"<p class='notes' style='margin:6px 0'>{_e(summary)}</p>"
    return (
        "<table class='explanations'><thead><tr><th>#</th><th>explanation</th>"
        "<th>selection</th><th>baseline</th>"
        "<th style='text-align:right'>lift</th><th style='text-align:right'>q</th><th></th>"
        f"</tr></thead><tbody>{''.join(out)}</tbody></table>{foot}"
    )


def timeline_html(result: Result) -> str:
    """The timeline of both sides, when the events have a time column ('' otherwise)."""
    t = result.timeline
    if t is None or not t.starts:
        return ""
    return (
        f"<div class='timeline' style='margin-top:8px'><b>When</b> "
        f"<span class='notes'>(<code>{_bdi(t.column)}</code>, share of each side's events "
        f"per {_e(t.every)})</span><br>{charts.timeline_svg(t)}</div>"
    )


def restatements_html(result: Result, *, top: int = 5) -> str:
    """ "The selection is also ...": the restatements, never explanations ('' if none)."""
    rows = result.restatements.head(top)
    if not rows.height:
        return ""
    items = "".join(
        f"<li><code>{_bdi(cut(r['label'], LABEL_CHARS))}</code> <span class='notes'>"
        f"({_e(percent(r['selection_share']))} of the selection, "
        f"{_e(percent(r['baseline_share']))} of the baseline)</span></li>"
        for r in rows.iter_rows(named=True)
    )
    more = result.restatements.height - rows.height
    tail = f"<li class='notes'>and {more:,} more</li>" if more > 0 else ""
    return (
        "<div class='restatements'><b>The selection is also</b> (other names for the same "
        f"events, not explanations):<ul style='margin:4px 0'>{items}{tail}</ul></div>"
    )


def outcomes_html(result: Result) -> str:
    """What happened to the selection and to the baseline, per outcome ('' if none)."""
    if not result.outcomes.height:
        return ""
    out = []
    for o in result.outcomes.iter_rows(named=True):
        sel, base = outcome_cells(result, o)
        out.append(
            f"<tr><td><code>{_bdi(cut(o['attribute']))}</code><br><small class='notes'>"
            f"{_e(o['reason'])}</small></td><td style='color:{charts.SELECTION_COLOR}'>"
            f"{_e(cut(sel, LABEL_CHARS))}</td><td style='color:{charts.BASELINE_COLOR}'>"
            f"{_e(cut(base, LABEL_CHARS))}</td>"
            f"<td style='text-align:right'>{o['distance']:.2f}</td>"
            f"<td style='text-align:right'>{_e(pvalue(o['q_value']))}</td></tr>"
        )
    return (
        "<table class='outcomes'><thead><tr><th>outcome</th><th>selection</th>"
        "<th>baseline</th><th style='text-align:right'>distance</th>"
        f"<th style='text-align:right'>q</th></tr></thead><tbody>{''.join(out)}</tbody></table>"
    )


def attributes_html(result: Result, *, top: int = 15) -> str:
    """The attributes by distance between their selection and baseline distributions."""
    out = []
    for a in result.attributes.head(top).iter_rows(named=True):
        kind = str(a["kind"]) + (" (ranges)" if a["binned"] else "")
        distance = float(a["distance"])
        out.append(
            f"<tr><td><code>{_bdi(a['attribute'])}</code></td><td>{_e(kind)}</td>"
            f"{_bar(distance, '#777', text=f'{distance:.2f}')}"
            f"<td style='text-align:right'>{_e(pvalue(a['q_value']))}</td></tr>"
        )
    more = result.attributes.height - min(top, result.attributes.height)
    foot = f"<p class='notes'>and {more:,} more attributes.</p>" if more > 0 else ""
    return (
        "<table class='attributes'><thead><tr><th>attribute</th><th>kind</th><th>distance</th>"
        f"<th style='text-align:right'>q</th></tr></thead><tbody>{''.join(out)}</tbody>"
        f"</table>{foot}"
    )


def charts_html(result: Result, attributes: Iterable[str]) -> str:
    """Selection-vs-baseline charts of some attributes, in a wrapping grid."""
    meta = {str(a["attribute"]): a for a in result.attributes.iter_rows(named=True)}
    figures = []
    for name in attributes:
        a = meta[name]
        kind = str(a["kind"]) + (" ranges" if a["binned"] else "")
        figures.append(
            "<figure style='margin:0;padding:8px 10px;border:1px solid #8884;border-radius:6px'>"
            f"<figcaption style='margin-bottom:4px'><code style='font-weight:600'>"
            f"{_bdi(name)}</code> <span style='color:#777'>{_e(kind)}, distance "
            f"{float(a['distance']):.2f}</span></figcaption>"
            f"{charts.svg(result, name)}</figure>"
        )
    grid = "display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start"
    return f"{_legend()}<div style='{grid}'>{''.join(figures)}</div>"


def command_text(result: Result, *, output: str = "report.html", top: int | None = 20) -> str:
    """The command line that makes this report again, or a note saying why there is none."""
    extra: tuple[str, ...] = ("--format", "html", "--output", output)
    if top != 20:
        extra = ("--top", str(top or 0), *extra)
    command = result.origin.command(extra=extra) if result.origin else None
    if command is None:
        return (
            "# made in Python from an in-memory frame or a polars expression: no command\n"
            "# line reproduces it; the predicates are shown above"
        )
    return command


def to_html(
    result: Result,
    *,
    top: int | None = 20,
    attributes: int = REPORT_CHARTS,
    output: str = "report.html",
) -> str:
    """The self-contained HTML report of a Result.

    Parameters
    ----------
    top
        Explanations in the table (``None``: all).
    attributes
        Attributes drawn as selection-vs-baseline charts, in the Result's order.
    output
        File name shown in the command that reproduces the report.

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> page = to_html(r)
    >>> page.startswith("<!DOCTYPE html>"), "<script" in page, page.count("<svg")  # + timeline
    (True, False, 7)
    """
    title = f"bubbleup: {result.where}"
    names = charts.top_attributes(result, attributes)
    parts = [
        "<!DOCTYPE html>",
        "<html lang='en'><head><meta charset='utf-8'>",
        f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<meta name='generator' content='bubbleup {_e(__version__)}'>",
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>",
        "<h1>What the selected events have in common</h1>",
        f"<p class='subtitle'>selection <code>{_bdi(result.where)}</code> compared with "
        f"baseline <code>{_bdi(result.baseline)}</code></p>",
        "<h2>What was compared</h2>",
        compared_html(result),
        timeline_html(result),
        "<h2>Explanations</h2>",
        restatements_html(result),
        _legend(),
        explanations_html(result, top=top),
    ]
    if result.outcomes.height:
        parts += [
            "<h2>Outcomes</h2>",
            "<p class='notes'>What happened to the events (status, errors, exit codes, "
            "durations...): described here, never taken as explanations.</p>",
            outcomes_html(result),
        ]
    if names:
        parts += [
            "<h2>Selection and baseline, attribute by attribute</h2>",
            charts_html(result, names),
        ]
    parts += [
        "<h2>Attributes by distance</h2>",
        "<p class='notes'>Total variation distance between the attribute's values in the "
        "selection and in the baseline: the share of events that would have to change "
        "value to make the two alike.</p>",
        attributes_html(result),
        "<h2>Reproduce</h2>",
        f"<pre><code>{_e(command_text(result, output=output, top=top))}</code></pre>",
        "<p class='notes'>Shares are weighted; <b>lift</b> is selection share over baseline "
        "share; <b>q</b> is the Benjamini-Hochberg false discovery rate over every "
        "explanation tested. Made by "
        f"bubbleup {_e(__version__)}.</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def view_html(result: Result, *, top: int | None = 10, attributes: int = VIEW_CHARTS) -> str:
    """The notebook view of a Result: summary, explanations, charts (inline styles only).

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> view = view_html(r)
    >>> view.startswith("<div class='bubbleup'>"), view.count("<svg")  # + timeline
    (True, 5)
    """
    names = charts.top_attributes(result, attributes)
    hint = (
        "<p style='color:#777;font-size:0.9em'>More: <code>result.explanations</code>, "
        "<code>result.plot(attribute)</code>, <code>result.rows()</code>, "
        "<code>result.drill(n)</code>, <code>result.to_html()</code>.</p>"
    )
    return (
        "<div class='bubbleup'>"
        + compared_html(result, compact=True)
        + timeline_html(result)
        + "<div style='margin-top:10px'></div>"
        + restatements_html(result)
        + explanations_html(result, top=top)
        + outcomes_html(result)
        + (charts_html(result, names) if names else "")
        + hint
        + "</div>"
    )
