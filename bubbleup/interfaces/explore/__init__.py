"""``bubbleup explore``: draw a box around the weird events and see what they share.

- :mod:`bubbleup.interfaces.explore.heatmap`: events per (time, value) cell, on each side;
- :mod:`bubbleup.interfaces.explore.state`: the view (selection, drill path, value axis),
  kept in the address, and the :class:`~bubbleup.interfaces.explore.state.Explorer` that
  reads the source once and answers each view with :func:`bubbleup.analyze`;
- :mod:`bubbleup.interfaces.explore.server`: the local web server (standard library);
- :mod:`bubbleup.interfaces.explore.widget`: the Jupyter widget (anywidget), same ES module.

``bubbleup.explore(df_or_path)`` (this package's :func:`explore`) makes the widget.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bubbleup.errors import UsageError
from bubbleup.options import Options

if TYPE_CHECKING:
    from bubbleup.interfaces.explore.widget import ExploreWidget
    from bubbleup.pipeline.load import Source


def explore(
    source: Source, *, where: str | None = None, value: str | None = None, **options: Any
) -> ExploreWidget:
    """Explore events in a notebook: a heatmap to draw a box on, and the answer beside it.

    Parameters
    ----------
    source
        What :func:`bubbleup.analyze` takes (a path, or a polars/pandas/pyarrow frame). It
        is read once and kept in memory.
    where
        An optional first selection (SQL), as if typed in the predicate box.
    value
        The heatmap's value column (default: the first duration-like numeric column).
    options
        Fixed options of every view, as :func:`bubbleup.analyze` takes them
        (``baseline``, ``filter``, ``weight``, ``columns``, ``exclude``...).

    Returns
    -------
    The widget; ``w.where`` is the current selection, ``w.result`` its
    :class:`bubbleup.Result`.
    """
    try:
        from bubbleup.interfaces.explore.widget import ExploreWidget
    except ImportError:
        raise UsageError(
            "the notebook widget needs anywidget: pip install 'bubbleup[notebook]'"
        ) from None
    from bubbleup.interfaces.explore.state import Explorer, View

    return ExploreWidget(Explorer(source, Options.build(None, **options)), View(where, (), value))


__all__ = ["explore"]
