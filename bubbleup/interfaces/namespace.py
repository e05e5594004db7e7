"""The ``bubbleup`` namespace on polars frames: ``df.bubbleup.analyze(where=...)``.

Registered when :mod:`bubbleup` is imported, on DataFrame and LazyFrame alike.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from bubbleup.pipeline.result import Result


class _Namespace:
    def __init__(self, frame: pl.DataFrame | pl.LazyFrame) -> None:
        self._frame = frame

    def analyze(self, *, where: Any, **options: Any) -> Result:
        """Run :func:`bubbleup.analyze` on this frame; same keyword options.

        Examples
        --------
        >>> import polars as pl
        >>> import bubbleup
        >>> df = pl.read_parquet("sample_data/builds.parquet")
        >>> df.bubbleup.analyze(where="exit_reason = 'oom'").explanations["label"][1]
        "kernel_version = '5.15.0-91-generic'"
        """
        from bubbleup.pipeline.analyze import analyze

        return analyze(self._frame, where=where, **options)

    def columns(self) -> pl.DataFrame:
        """Run :func:`bubbleup.describe_columns` on this frame."""
        from bubbleup.pipeline.columns import describe_columns

        return describe_columns(self._frame)


@pl.api.register_dataframe_namespace("bubbleup")
class DataFrameNamespace(_Namespace):
    """``DataFrame.bubbleup``: :meth:`analyze` and :meth:`columns` on this frame."""


@pl.api.register_lazyframe_namespace("bubbleup")
class LazyFrameNamespace(_Namespace):
    """``LazyFrame.bubbleup``: :meth:`analyze` and :meth:`columns` on this frame."""
