"""The ``bubbleup`` namespace on polars frames: ``df.bubbleup.analyze(where=...)``.

Registered on DataFrame and LazyFrame alike as soon as both :mod:`bubbleup` and polars are
imported, in either order, without ``import bubbleup`` importing polars itself (polars
takes a fifth of a second to import, and ``bubbleup --help`` needs none of it):

- polars already imported: :func:`register_when_polars_loads` registers at once;
- polars not imported yet: it puts :class:`_AfterPolars` first on :data:`sys.meta_path`, an
  import hook that registers the moment the ``polars`` module has finished executing and
  then takes itself off :data:`sys.meta_path`.

Why a hook on :data:`sys.meta_path` and not something simpler: polars has no entry points
or plugin discovery for namespaces (a namespace exists once ``pl.api.register_*_namespace``
has run), and a ``DataFrame`` has no fallback for unknown attributes, so the registration
has to run when polars loads; the import system's own extension point for "code that runs
when a module is imported" is a finder on :data:`sys.meta_path`. The hook finds polars
with the finders that follow it (so the spec, the loader, ``polars.__spec__`` and
``polars.__loader__`` are exactly what they would be without it) and only wraps that
loader's ``exec_module`` for this one spec. It takes itself off when polars has *executed*,
not when polars is merely *found*: code that only asks whether polars is installed
(``importlib.util.find_spec("polars")``) must not use it up. It leaves
:data:`sys.meta_path` by replacing the list, not by mutating it, so that another thread
iterating the list at that moment misses no finder.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    import polars as pl

    from bubbleup.pipeline.result import Result

#: The attribute the namespace takes on polars frames.
NAME = "bubbleup"

_lock = threading.Lock()
_registered = False


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


class DataFrameNamespace(_Namespace):
    """``DataFrame.bubbleup``: :meth:`analyze` and :meth:`columns` on this frame."""


class LazyFrameNamespace(_Namespace):
    """``LazyFrame.bubbleup``: :meth:`analyze` and :meth:`columns` on this frame."""


def register() -> None:
    """Register ``df.bubbleup`` and ``lf.bubbleup`` on polars frames (once; imports polars).

    Examples
    --------
    >>> import polars as pl
    >>> register()  # a second time is a no-op, not a warning
    >>> type(pl.DataFrame({"a": [1]}).bubbleup).__name__
    'DataFrameNamespace'
    """
    global _registered
    with _lock:
        if _registered:
            return
        import polars as pl

        pl.api.register_dataframe_namespace(NAME)(DataFrameNamespace)
        pl.api.register_lazyframe_namespace(NAME)(LazyFrameNamespace)
        _registered = True


class _AfterPolars:
    """Finds ``polars`` as the finders after it would, and registers once it has run.

    A meta path finder by protocol (``find_spec``); not a subclass of
    :class:`importlib.abc.MetaPathFinder`, whose module costs 10 ms to import.
    """

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        """``polars``'s own spec, its loader set to register after executing it."""
        if fullname != "polars":
            return None
        finders = list(sys.meta_path)
        after = finders[finders.index(self) + 1 :] if self in finders else finders
        spec: ModuleSpec | None = None
        for finder in after:
            find = getattr(finder, "find_spec", None)
            if find is not None and (spec := find(fullname, path, target)) is not None:
                break
        loader = spec.loader if spec is not None else None
        if loader is None or not hasattr(loader, "exec_module"):
            return spec  # not found, or an old-style loader (polars has none): left alone
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            self.remove()
            register()

        with suppress(AttributeError):  # on this one loader object: other specs' are untouched
            loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def remove(self) -> None:
        """Take this finder off :data:`sys.meta_path` (a new list: see the module's notes)."""
        sys.meta_path = [finder for finder in sys.meta_path if finder is not self]


def register_when_polars_loads() -> None:
    """Register the namespace now if polars is imported, else as soon as it is.

    Examples
    --------
    >>> import polars as pl
    >>> register_when_polars_loads()
    >>> hasattr(pl.LazyFrame, "bubbleup")
    True
    """
    if _registered:
        return
    if "polars" in sys.modules:
        register()
    elif not any(isinstance(finder, _AfterPolars) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterPolars())
