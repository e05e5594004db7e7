"""Render stage: a Result as a terminal table, CSV, Markdown or an HTML fragment.

These functions return text or rich renderables; only the CLI prints them. Text from the
data or the user goes through :func:`~bubbleup.printable.printable` (control characters
escaped, long values cut) and into :class:`rich.text.Text`, never through rich markup.
"""

from __future__ import annotations

import html
import io
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import polars as pl
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.table import Table
from rich.text import Text

from bubbleup.pipeline.result import Result
from bubbleup.printable import cut, printable
from bubbleup.printable import percent as percent  # re-exported: the formatting of shares

_BLOCKS = " ▏▎▍▌▋▊▉█"
#: Characters of an explanation's label shown in the table, Markdown and HTML views.
LABEL_CHARS = 400
#: Characters of a header line (source, predicates, columns left out) shown.
HEADER_CHARS = 2000
BAR_WIDTH = 12


def bar(share: float, width: int = BAR_WIDTH) -> str:
    """A horizontal bar of ``share`` (0..1) in eighth-of-a-cell steps.

    Examples
    --------
    >>> bar(0.5, 4)
    '██  '
    >>> bar(0.0, 3)
    '   '
    """
    share = min(max(share, 0.0), 1.0)
    eighths = round(share * width * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_BLOCKS[part] if part else "")
    return text.ljust(width)


def pvalue(x: float) -> str:
    """Format a p- or q-value.

    Examples
    --------
    >>> pvalue(0.0), pvalue(1.2e-50), pvalue(0.0312), pvalue(1.0)
    ('<1e-300', '1.2e-50', '0.031', '1')
    """
    if x < 1e-300:
        return "<1e-300"
    if x < 1e-3:
        return f"{x:.2g}"
    return f"{x:.2g}" if x < 1 else "1"


def lift_text(x: float) -> str:
    """Format a lift (prevalence ratio)."""
    return f"{x:,.0f}x" if x >= 100 else f"{x:.1f}x"


def header_lines(result: Result) -> list[tuple[str, str]]:
    """The (label, text) lines that say what was compared."""
    t = result.totals

    def events(n: int, w: float) -> str:
        weighted = f"{w:,.0f}" if w == int(w) else f"{w:,.1f}"
        return f"{n:,} events ({weighted} weighted)" if result.weight_column else f"{n:,} events"

    lines = [("source", result.source)]
    if result.filter:
        lines.append(("scope", f"{result.filter}: {t.scope_events:,} events"))
    lines.append(("selection", f"{result.where}: {events(t.selection_events, t.selection_weight)}"))
    lines.append(("baseline", f"{result.baseline}: {events(t.baseline_events, t.baseline_weight)}"))
    if result.weight_column:
        how = "auto-detected; --no-weight to ignore" if result.weight_auto else "--weight"
        if "weight_scale" in result.parameters:  # see bubbleup.pipeline.split.weight_scale
            exponent = math.frexp(result.parameters["weight_scale"])[1] - 1
            how += f"; weighted counts in units of 2**{-exponent}"
        lines.append(("weight", f"{result.weight_column} ({how})"))
    else:
        lines.append(("weight", "none (every event counts 1)"))
    if result.timeline is not None:
        lines.extend(result.timeline.header_lines())
    if result.skipped_lines:
        lines.append(("skipped", skipped_text(result.skipped_lines)))
    if result.left_out:
        lines.append(("left out", "; ".join(f"{x.column} ({x.reason})" for x in result.left_out)))
    if result.outcomes.height:
        lines.append(("outcomes", outcomes_text(result)))
    for text in restatement_lines(result):
        lines.append(("restates", text))
    return lines


def outcomes_text(result: Result) -> str:
    """Which columns were taken as outcomes, and why (a header line).

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> outcomes_text(r).split("; ")[0]
    'exit_code (exit code or signal)'
    """
    named = [
        f"{r['attribute']} ({r['reason'].removeprefix('convention: ')})"
        for r in result.outcomes.iter_rows(named=True)
    ]
    return "; ".join(named)


def restatement_lines(result: Result, *, top: int = 5) -> list[str]:
    """ "The selection is also ...": one line per restatement (the best ``top``).

    Examples
    --------
    >>> import bubbleup
    >>> r = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
    >>> restatement_lines(r)[0]
    'the selection is also exit_code = 137 (100.0% of it, 0% of the baseline)'
    """
    out = []
    for r in result.restatements.head(top).iter_rows(named=True):
        out.append(
            f"the selection is also {r['label']} ({percent(r['selection_share'])} of it, "
            f"{percent(r['baseline_share'])} of the baseline)"
        )
    if result.restatements.height > top:
        out.append(f"... and {result.restatements.height - top:,} more restatements")
    return out


def compact_number(x: float) -> str:
    """A number as it reads best in a quantile list.

    Examples
    --------
    >>> compact_number(97629.0), compact_number(0.5), compact_number(98.7)
    ('97,629', '0.5', '98.7')
    """
    if x != x:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def outcome_cells(result: Result, row: dict[str, object]) -> tuple[str, str]:
    """The selection's and the baseline's side of one outcome, as text.

    Numbers in ranges read ``median 97,629 · p90 309,397 · p99 728,907``; values read
    ``137 100%`` (the three most common on that side).
    """
    from bubbleup.pipeline.outcomes import QUANTILES

    names = ["median" if q == 0.5 else f"p{round(q * 100)}" for q in QUANTILES]
    if row.get("selection_quantiles") is not None:
        sides = []
        for key in ("selection_quantiles", "baseline_quantiles"):
            values: list[float] = list(row[key] or [])  # type: ignore[call-overload]
            pairs = zip(names, values, strict=False)
            sides.append(" · ".join(f"{n} {compact_number(float(v))}" for n, v in pairs))
        return sides[0], sides[1]
    shares: list[dict[str, Any]] = list(row.get("values") or [])  # type: ignore[call-overload]
    cells = []
    for key in ("selection_share", "baseline_share"):
        ranked = sorted(shares, key=lambda v: (-v[key], str(v["value"])))
        shown = [
            f"{'(missing)' if v['value'] is None else cut(str(v['value']), 60)} {percent(v[key])}"
            for v in ranked[:3]
            if v[key] > 0
        ]
        cells.append(" · ".join(shown) or "-")
    return cells[0], cells[1]


def skipped_text(skipped: dict[str, int]) -> str:
    """Malformed lines skipped, per file.

    Examples
    --------
    >>> skipped_text({"a.ndjson": 2, "b.ndjson": 1})
    '3 malformed lines (a.ndjson: 2; b.ndjson: 1)'
    """
    total = sum(skipped.values())
    files = "; ".join(f"{k}: {v:,}" for k, v in skipped.items())
    return f"{total:,} malformed line{'s' if total != 1 else ''} ({files})"


def summary_line(result: Result, *, shown: int) -> str:
    """One line: how many explanations were shown, reported, tested and significant."""
    ex = result.explanations
    n_sig = int(ex["significant"].sum())
    n_lead = int((ex["significant"] & ex["explained_by"].is_null()).sum())
    tested = result.parameters.get("tested", ex.height)
    return (
        f"{shown:,} of {ex.height:,} explanations shown ({tested:,} tested); {n_sig:,} "
        f"significant ({_criteria(result)}), {n_lead:,} of them not explained by another."
    )


def _label_cell(row: dict[str, object], ranks: dict[str, int]) -> Text:
    text = Text(printable(row["label"], limit=LABEL_CHARS))
    aliases = row.get("aliases") or []
    if aliases:
        same = ", ".join(printable(a, limit=LABEL_CHARS) for a in aliases)  # type: ignore[attr-defined]
        text.append("\n  same events as: " + same, style="dim italic")
    by = row.get("explained_by")
    if by:
        text.append(f"\n  explained by #{ranks.get(str(by), '?')}", style="dim italic")
    return text


def _share_cell(share: float, style: str, width: int = BAR_WIDTH) -> Text:
    if width <= 0:
        return Text(f"{percent(share):>6}", style=style)
    return Text(bar(share, width), style=style) + f" {percent(share):>6}"


#: Columns the explanations table needs besides its label and bars: rank, two shares,
#: lift, q, the significance mark and the separators between seven columns.
_FIXED_COLUMNS = 3 + 2 * 7 + 6 + 8 + 4 + 6 * 3
#: The label column keeps at least this many characters before the bars get any.
_LABEL_MIN = 30


def bar_width(width: int | None) -> int:
    """How wide the share bars can be at a terminal width: the figures always fit first.

    Examples
    --------
    >>> bar_width(None), bar_width(120), bar_width(100), bar_width(80)
    (12, 12, 7, 0)
    """
    if width is None:
        return BAR_WIDTH
    spare = width - _FIXED_COLUMNS - _LABEL_MIN - 2  # a space between a bar and its share
    return max(0, min(BAR_WIDTH, spare // 2))


def _criteria(result: Result) -> str:
    p = result.parameters
    return (
        f"q < {p['alpha']:g}, lift >= {p['min_lift']:g}, "
        f"selection share >= {percent(p['min_share'])}"
    )


class _Fitted:
    """A renderable built for the width it is given (rich protocol)."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        yield self.build(options.max_width)


def table_renderable(
    result: Result, *, top: int | None = 20, width: int | None = None
) -> RenderableType:
    """The terminal view: header, explanations with share bars, top attributes.

    ``width``: the terminal's (by default, whatever console prints it): narrower bars
    (none at 80 columns) leave the label, the shares, the lift, the q-value and the
    significance mark whole.
    """
    if width is None:
        return _Fitted(lambda w: table_renderable(result, top=top, width=w))
    bars = bar_width(width)
    head = Text()
    for label, text in header_lines(result):
        head.append(f"{label:>10}  ", style="bold")
        head.append(printable(text, limit=HEADER_CHARS) + "\n")
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("explanation", overflow="fold", min_width=20, max_width=60)
    table.add_column("selection", no_wrap=True, justify="right")
    table.add_column("baseline", no_wrap=True, justify="right")
    table.add_column("lift", justify="right")
    table.add_column("q", justify="right")
    table.add_column("sig.", no_wrap=True)
    rows = result.explanations if top is None else result.explanations.head(top)
    ranks = dict(zip(result.explanations["label"], result.explanations["rank"], strict=True))
    for r in rows.iter_rows(named=True):
        style = "" if r["significant"] and not r["explained_by"] else "dim"
        table.add_row(
            str(r["rank"]),
            _label_cell(r, ranks),
            _share_cell(r["selection_share"], "magenta", bars),
            _share_cell(r["baseline_share"], "cyan", bars),
            lift_text(r["lift"]),
            pvalue(r["q_value"]),
            "✔" if r["significant"] else "",
            style=style,
        )
    foot = Text(summary_line(result, shown=rows.height), style="dim")
    attrs = Table(show_edge=False, pad_edge=False, header_style="bold", title_justify="left")
    attrs.add_column("attribute")
    attrs.add_column("kind")
    attrs.add_column("distance", no_wrap=True)
    attrs.add_column("q", justify="right")
    context = result.attributes.filter(pl.col("role") == "context")
    for a in context.head(10).iter_rows(named=True):
        attrs.add_row(
            Text(printable(a["attribute"])),
            a["kind"] + (" (ranges)" if a["binned"] else ""),
            bar(a["distance"], 10) + f" {a['distance']:.2f}",
            pvalue(a["q_value"]),
        )
    parts: list[RenderableType] = [head, table, foot]
    if result.outcomes.height:
        parts += [
            Text("\noutcomes: what happened to the selection, and to the baseline", style="bold"),
            outcomes_table(result),
        ]
    parts += [
        Text(
            "\nattributes by distance between selection and baseline (total variation)",
            style="bold",
        ),
        attrs,
    ]
    return Group(*parts)


def outcomes_table(result: Result) -> Table:
    """The outcomes section of the terminal view."""
    table = Table(show_edge=False, pad_edge=False, header_style="bold")
    table.add_column("outcome", overflow="fold")
    table.add_column("selection", style="magenta", overflow="fold")
    table.add_column("baseline", style="cyan", overflow="fold")
    table.add_column("distance", justify="right", no_wrap=True)
    table.add_column("q", justify="right", no_wrap=True)
    for r in result.outcomes.iter_rows(named=True):
        sel, base = outcome_cells(result, r)
        table.add_row(
            Text(printable(r["attribute"])),
            Text(printable(sel)),
            Text(printable(base)),
            f"{r['distance']:.2f}",
            pvalue(r["q_value"]),
        )
    return table


def _flat(result: Result, top: int | None) -> pl.DataFrame:
    rows = result.explanations if top is None else result.explanations.head(top)
    items = [
        json.dumps(result.to_dict(top=top)["explanations"][i]["items"]) for i in range(rows.height)
    ]
    return rows.drop("items").with_columns(
        items=pl.Series(items, dtype=pl.String),
        aliases=pl.col("aliases").list.join(" | "),
    )


def to_csv(result: Result, *, top: int | None = None) -> str:
    """The explanations as CSV (``items`` as a JSON list)."""
    buf = io.StringIO()
    _flat(result, top).write_csv(buf)
    return buf.getvalue()


def _md_escape(text: str, limit: int = LABEL_CHARS) -> str:
    return printable(text, limit=limit).replace("|", "\\|")


def to_markdown(result: Result, *, top: int | None = 20) -> str:
    """The header, the explanations (with what explains them and their aliases), the
    outcomes and the attributes, as Markdown."""
    lines = [
        f"- **{label}**: {_md_escape(text, HEADER_CHARS)}" for label, text in header_lines(result)
    ]
    lines += [
        "",
        "| # | explanation | selection | baseline | lift | q | significant |",
        "|---:|---|---:|---:|---:|---:|:---:|",
    ]
    rows = result.explanations if top is None else result.explanations.head(top)
    ranks = dict(zip(result.explanations["label"], result.explanations["rank"], strict=True))

    def code(text: str) -> str:
        return "`" + _md_escape(text).replace("`", "'") + "`"

    for r in rows.iter_rows(named=True):
        label = code(r["label"])
        if r["aliases"]:
            label += "<br>same events as: " + ", ".join(code(a) for a in r["aliases"])
        if r["explained_by"]:
            label += f"<br>explained by #{ranks.get(r['explained_by'], '?')}"
        lines.append(
            f"| {r['rank']} | {label} | {percent(r['selection_share'])} | "
            f"{percent(r['baseline_share'])} | {lift_text(r['lift'])} | {pvalue(r['q_value'])} | "
            f"{'yes' if r['significant'] else ''} |"
        )
    lines += ["", summary_line(result, shown=rows.height)]
    if result.outcomes.height:
        lines += [
            "",
            "Outcomes (what happened to the selection, and to the baseline):",
            "",
            "| outcome | selection | baseline | distance | q |",
            "|---|---|---|---:|---:|",
        ]
        for o in result.outcomes.iter_rows(named=True):
            sel, base = outcome_cells(result, o)
            lines.append(
                f"| `{_md_escape(o['attribute'])}` | {_md_escape(sel)} | {_md_escape(base)} | "
                f"{o['distance']:.2f} | {pvalue(o['q_value'])} |"
            )
    lines += [
        "",
        "Attributes by distance between selection and baseline (total variation):",
        "",
        "| attribute | kind | distance | q |",
        "|---|---|---:|---:|",
    ]
    context = result.attributes.filter(pl.col("role") == "context")
    for a in context.head(10).iter_rows(named=True):
        kind = a["kind"] + (" (ranges)" if a["binned"] else "")
        lines.append(
            f"| `{_md_escape(a['attribute'])}` | {kind} | {a['distance']:.2f} | "
            f"{pvalue(a['q_value'])} |"
        )
    return "\n".join(lines) + "\n"


def to_html_fragment(result: Result, *, top: int | None = 20) -> str:
    """An HTML table with share bars (Jupyter's view of a Result). Data is escaped."""
    e = html.escape
    head = "".join(
        f"<tr><th style='text-align:right'>{e(k)}</th><td>{e(cut(v, HEADER_CHARS))}</td></tr>"
        for k, v in header_lines(result)
    )

    def cell(share: float, color: str) -> str:
        width = max(0.0, min(share, 1.0)) * 100
        return (
            f"<td style='min-width:9em'><div style='background:{color};height:0.8em;"
            f"width:{width:.1f}%;display:inline-block'></div> {e(percent(share))}</td>"
        )

    rows = result.explanations if top is None else result.explanations.head(top)
    dim = ' style="opacity:0.55"'
    body = "".join(
        f"<tr{'' if r['significant'] else dim}><td>{r['rank']}</td>"
        f"<td><code>{e(cut(r['label'], LABEL_CHARS))}</code></td>"
        f"{cell(r['selection_share'], '#b0209b')}"
        f"{cell(r['baseline_share'], '#1f8fb0')}<td>{e(lift_text(r['lift']))}</td>"
        f"<td>{e(pvalue(r['q_value']))}</td><td>{'✔' if r['significant'] else ''}</td></tr>"
        for r in rows.iter_rows(named=True)
    )
    return (
        "<div class='bubbleup'><table>" + head + "</table>"
        "<table><thead><tr><th>#</th><th>explanation</th><th>selection</th><th>baseline</th>"
        "<th>lift</th><th>q</th><th></th></tr></thead><tbody>" + body + "</tbody></table>"
        f"<p><small>{e(_criteria(result))}</small></p></div>"
    )
