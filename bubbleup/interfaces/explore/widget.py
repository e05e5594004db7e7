"""The notebook widget of ``bubbleup explore`` (needs ``bubbleup[notebook]``: anywidget).

The widget runs the same ES module as the web page (``static/explore.js``); instead of
``fetch`` it sets the ``request`` trait, and Python answers in the ``response`` trait with
the same JSON the server sends. The current view is readable from Python:
``w.where``, ``w.view``, and ``w.result`` (the :class:`bubbleup.Result` of the view).
"""

from __future__ import annotations

from typing import Any

import anywidget
import traitlets

from bubbleup.errors import BubbleupError
from bubbleup.interfaces.explore.server import payload, static_text
from bubbleup.interfaces.explore.state import Explorer, SupersededError, View
from bubbleup.pipeline.result import Result


class ExploreWidget(anywidget.AnyWidget):
    """The heatmap, the box and the answer, in a notebook."""

    _esm = static_text("explore.js")
    _css = static_text("explore.css")
    view = traitlets.Dict().tag(sync=True)
    request = traitlets.Dict().tag(sync=True)
    response = traitlets.Dict().tag(sync=True)

    def __init__(self, explorer: Explorer, view: View, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._explorer = explorer
        self._result: Result | None = None
        self._shown = view
        self.observe(self._on_request, names="request")
        self.view = view.to_dict()
        if view.where:
            self._answer(view)

    def _answer(self, view: View) -> dict[str, Any]:
        try:
            answer = self._explorer.view(view)
        except SupersededError:
            return {"superseded": True}
        except BubbleupError as exc:
            return {"error": str(exc).splitlines()[0]}
        self._result = answer.get("result")
        self._shown = view
        return payload(answer)

    def _on_request(self, change: dict[str, Any]) -> None:
        request = change["new"]
        try:
            view = View.from_dict(request.get("view"))
        except BubbleupError as exc:
            self.response = {"id": request.get("id"), "data": {"error": str(exc)}}
            return
        data = self._answer(view)
        self.response = {"id": request.get("id"), "data": None if "superseded" in data else data}

    def select(self, where: str) -> Result | None:
        """Select the events matching ``where`` (SQL), as typing it in the box would."""
        view = View(where, self._shown.steps, self._shown.value)
        data = self._answer(view)
        if "error" in data:
            raise BubbleupError(data["error"])
        self.view = view.to_dict()
        return self._result

    @property
    def where(self) -> str | None:
        """The selection's SQL condition (a box becomes one), or ``None``."""
        return self._shown.where

    @property
    def scope(self) -> str | None:
        """The drill path as one SQL condition on the scope, or ``None``."""
        return self._explorer.scope_text(self._shown)

    @property
    def result(self) -> Result | None:
        """The :class:`bubbleup.Result` of the current view (``None`` before a selection)."""
        return self._result
