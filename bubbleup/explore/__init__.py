"""``bubbleup explore``: draw a box around the weird events and see what they share.

- :mod:`bubbleup.explore.heatmap`: events per (time, value) cell, on each side;
- :mod:`bubbleup.explore.state`: the view (selection, drill path, value axis), kept in the
  address, and the :class:`~bubbleup.explore.state.Explorer` that reads the source once and
  answers each view with :func:`bubbleup.analyze`;
- :mod:`bubbleup.explore.server`: the local web server (standard library);
- :mod:`bubbleup.explore.widget`: the Jupyter widget (anywidget), same ES module.

``bubbleup.explore(df_or_path)`` (this module's :func:`explore`) makes the widget.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from bubbleup.errors import UsageError

if TYPE_CHECKING:
    from bubbleup.explore.widget import ExploreWidget
    from bubbleup.load import Source


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
        from bubbleup.explore.widget import ExploreWidget
    except ImportError:
        raise UsageError(
            "the notebook widget needs anywidget: pip install 'bubbleup[notebook]'"
        ) from None
    from bubbleup.explore.state import Explorer, View

    return ExploreWidget(Explorer(source, options), View(where, (), value))


class _CallableModule(types.ModuleType):
    """This package, callable: ``bubbleup.explore(df)`` is :func:`explore`.

    The package keeps its modules importable (``bubbleup.explore.server``...), which a
    function of the same name in ``bubbleup`` would hide.
    """

    def __call__(
        self, source: Source, *, where: str | None = None, value: str | None = None, **options: Any
    ) -> ExploreWidget:
        return explore(source, where=where, value=value, **options)


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["explore"]
