"""bubbleup: find what the weird events have in common.

>>> import bubbleup
>>> result = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
>>> result.explanations.height > 0
True

Importing bubbleup is quick: the names that need polars, pyarrow or scipy (:func:`analyze`,
:class:`Result`, :func:`describe_columns`, :func:`explore`) are imported the first time one
is used (PEP 562), so ``bubbleup --help`` loads none of them. The errors are imported at
once, and ``df.bubbleup`` is registered on polars frames as soon as polars is imported,
before or after bubbleup (:mod:`bubbleup.interfaces.namespace`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bubbleup import _interrupt  # first: Ctrl-C while the CLI starts exits 130 quietly
from bubbleup._version import __version__
from bubbleup.errors import (
    BubbleupError,
    ColumnError,
    EngineError,
    PredicateError,
    SelectionError,
    SourceError,
    UsageError,
    WeightError,
)
from bubbleup.interfaces.namespace import register_when_polars_loads
from bubbleup.options import Options  # cheap: no polars

if TYPE_CHECKING:  # what mypy and editors see; at run time, __getattr__ below
    from bubbleup.interfaces.explore import explore  # bubbleup.explore(df_or_path): the widget
    from bubbleup.pipeline.analyze import analyze
    from bubbleup.pipeline.columns import describe_columns
    from bubbleup.pipeline.result import Result

#: The names imported on first use, and the module each comes from.
_LAZY: dict[str, str] = {
    "Result": "bubbleup.pipeline.result",
    "analyze": "bubbleup.pipeline.analyze",
    "describe_columns": "bubbleup.pipeline.columns",
    "explore": "bubbleup.interfaces.explore",
}

register_when_polars_loads()  # df.bubbleup
del _interrupt, register_when_polars_loads  # imported for their side effects


def __getattr__(name: str) -> Any:
    """Import a name of :data:`_LAZY` on first use (PEP 562); later uses find it here."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The module's names, the ones not imported yet included."""
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "BubbleupError",
    "ColumnError",
    "EngineError",
    "Options",
    "PredicateError",
    "Result",
    "SelectionError",
    "SourceError",
    "UsageError",
    "WeightError",
    "__version__",
    "analyze",
    "describe_columns",
    "explore",
]
