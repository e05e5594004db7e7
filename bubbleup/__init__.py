"""bubbleup: find what the weird events have in common.

>>> import bubbleup
>>> result = bubbleup.analyze("sample_data/builds.parquet", where="exit_reason = 'oom'")
>>> result.explanations.height > 0
True
"""

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
from bubbleup.interfaces.explore import explore  # bubbleup.explore(df_or_path): the widget
from bubbleup.interfaces.namespace import DataFrameNamespace as _DataFrameNamespace  # df.bubbleup
from bubbleup.options import Options
from bubbleup.pipeline.analyze import analyze
from bubbleup.pipeline.columns import describe_columns
from bubbleup.pipeline.result import Result

del _DataFrameNamespace, _interrupt  # imported for its side effect: registering the namespace

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
