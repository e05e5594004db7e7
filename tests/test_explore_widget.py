"""``bubbleup.explore(df)``: the notebook widget, on a real Jupyter kernel and in Chromium.

What is checked: the widget is made and displayed on a real kernel (nbclient, ipykernel);
``w.where`` and ``w.result`` hold the selection and its Result; a request set on the
``request`` trait (what the ES module sets from the browser) is answered in ``response``.
Then the shipped ES module's anywidget ``render`` runs in headless Chromium against a model
object that replays the kernel's real trait values, and must draw the heatmap and the
answer with no console error.

What is not checked here: a JupyterLab front end with the widget manager and the comm
between browser and kernel (no JupyterLab runs offline in the tests); the model object in
the browser is a stand-in with anywidget's interface (get, set, save_changes, on).
"""

from __future__ import annotations

import functools
import json
import shutil
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.browser import HANG_GUARD_SECONDS, chromium
from tests.conftest import ROOT

pytest.importorskip("anywidget")

CELLS = [
    f"import json, sys\nsys.path.insert(0, {str(ROOT)!r})\nimport bubbleup\n"
    "from tests.test_explore import band_events",
    'w = bubbleup.explore(band_events(), where="duration_ms > 1000")\nw',
    "print(json.dumps({'where': w.where, 'first': w.result.explanations['label'][0],"
    " 'view': w.view}))",
    "w.request = {'id': 7, 'view': {'where': \"flag = 'weird'\","
    " 'steps': [['only', \"region = 'us'\"]], 'y': None}}\n"
    "data = w.response['data']\n"
    "print(json.dumps({'id': w.response['id'], 'where': w.where, 'scope': w.scope,"
    " 'error': data.get('error'), 'rows': w.result.totals.scope_events}))",
    "r = w.select(\"route = '/b'\")\n"
    "print(json.dumps({'where': w.where, 'view': w.view, 'same': r is w.result,"
    " 'selected': r.totals.selection_events}))",
    "first = w._answer(bubbleup.interfaces.explore.state.View('duration_ms > 1000'))\n"
    "open('widget_response.json', 'w').write(json.dumps(first))",
]

HARNESS = """<!DOCTYPE html><html><head><meta charset="utf-8">
<link rel="stylesheet" href="explore.css">
<script type="module" src="harness.js"></script></head>
<body><div id="host"></div></body></html>
"""
# A stand-in for anywidget's model: it answers each request with the kernel's response.
HARNESS_JS = """import widget from "./explore.js";
const recorded = await (await fetch("widget_response.json")).json();
const traits = { view: %s, request: {}, response: {} };
const listeners = {};
const model = {
  get: (name) => traits[name],
  set: (name, value) => { traits[name] = value; },
  on: (event, callback) => { (listeners[event] = listeners[event] || []).push(callback); },
  save_changes: () => {
    const request = traits.request;
    if (!request || request.id === undefined) return;
    setTimeout(() => {
      traits.response = { id: request.id, data: recorded };
      (listeners["change:response"] || []).forEach((f) => f());
    }, 10);
  },
};
window.__model = model;
window.__listeners = listeners;
widget.render({ model, el: document.getElementById("host") });
"""


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    folder = tmp_path_factory.mktemp("widget")
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    client = NotebookClient(
        nb,
        timeout=HANG_GUARD_SECONDS,  # a guard against a hung kernel, not a threshold
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    client.execute()
    return nb, folder


def _stdout(cell: Any) -> dict[str, Any]:
    text = "".join(o.text for o in cell.outputs if o.output_type == "stream")
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.mark.notebook
def test_widget_runs_on_a_kernel_and_exposes_its_selection(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    outputs = [o for c in nb.cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    shown = nb.cells[1].outputs[0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in shown
    assert shown["application/vnd.jupyter.widget-view+json"]["model_id"]
    state = _stdout(nb.cells[2])
    assert state["where"] == "duration_ms > 1000"
    assert state["first"] == "host = 'h-bad'"
    assert state["view"] == {"where": "duration_ms > 1000", "steps": [], "y": None}
    answered = _stdout(nb.cells[3])
    assert answered["id"] == 7
    assert answered["error"] is None
    assert answered["where"] == "flag = 'weird'"
    assert answered["scope"] == "(region = 'us')"
    assert 0 < answered["rows"] < 20_000


@pytest.mark.notebook
def test_a_selection_made_from_python_is_the_widget_view(executed: tuple[Any, Path]) -> None:
    nb, _ = executed
    chosen = _stdout(nb.cells[4])
    assert chosen["where"] == "route = '/b'"
    assert chosen["view"] == {
        "where": "route = '/b'",
        "steps": [["only", "region = 'us'"]],
        "y": None,
    }
    assert chosen["same"] is True
    assert 0 < chosen["selected"] < 20_000


@pytest.mark.notebook
def test_widget_module_renders_the_kernel_answer_in_chromium(
    executed: tuple[Any, Path],
) -> None:
    _, folder = executed
    static = ROOT / "bubbleup" / "interfaces" / "explore" / "static"
    for name in ("explore.js", "explore.css"):
        shutil.copy(static / name, folder / name)
    (folder / "index.html").write_text(HARNESS, encoding="utf-8")
    view = json.dumps({"where": "duration_ms > 1000", "steps": [], "y": None})
    (folder / "harness.js").write_text(HARNESS_JS % view, encoding="utf-8")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *_a: None  # type: ignore[attr-defined]
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        with chromium() as browser:
            page = browser.open(f"http://127.0.0.1:{httpd.server_address[1]}/index.html")
            deadline = time.monotonic() + HANG_GUARD_SECONDS
            state = None
            while time.monotonic() < deadline:
                state = page.evaluate(
                    "(document.querySelector('.bubbleup-explore') || {dataset: {}}).dataset.state"
                )
                if state in ("ready", "error"):
                    break
                time.sleep(0.05)
            assert state == "ready"
            first = page.evaluate(
                "document.querySelector('table.explanations tbody tr td code').textContent"
            )
            assert first == "host = 'h-bad'"
            cells = page.evaluate("document.querySelector('canvas.bx-heat').dataset.cells")
            assert int(cells) > 100
            assert page.evaluate("document.querySelectorAll('.bx-only').length") > 10
            # a view set from Python (w.select) reaches the page through change:view
            shown = page.evaluate(
                "(() => { window.__model.set('view', {where: `route = '/b'`, steps: [],"
                " y: null}); window.__listeners['change:view'].forEach((f) => f());"
                " return document.querySelector('.bx-where').value; })()"
            )
            assert shown == "route = '/b'"
            assert page.errors == []
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(HANG_GUARD_SECONDS)
