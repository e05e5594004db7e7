"""The notebooks run end to end on a real Jupyter kernel, and what they show renders.

Each notebook in notebooks/ is executed with nbclient and ipykernel (a notebook that
raises fails the suite); then its HTML outputs and images are put in one page and loaded
in headless Chromium, which must show the charts and report no error.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from tests.browser import HANG_GUARD_SECONDS, Browser, chromium, file_url
from tests.conftest import ROOT

NOTEBOOKS = ROOT / "notebooks"
NAMES = ["incident-walkthrough.ipynb", "api-tour.ipynb"]


@pytest.fixture(scope="module")
def executed() -> dict[str, Any]:
    out = {}
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        client = NotebookClient(
            nb,
            timeout=HANG_GUARD_SECONDS,  # a guard against a hung kernel, not a threshold
            kernel_name="python3",
            resources={"metadata": {"path": str(NOTEBOOKS)}},
        )
        client.execute()  # raises CellExecutionError if any cell fails
        out[name] = nb
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def _outputs(nb: Any) -> list[dict[str, Any]]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def test_committed_notebooks_have_no_outputs() -> None:
    for name in NAMES:
        nb = nbformat.read(NOTEBOOKS / name, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [], name
                assert cell.execution_count is None, name


@pytest.mark.notebook
@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_cleanly(executed: dict[str, Any], name: str) -> None:
    outputs = _outputs(executed[name])
    assert not [o for o in outputs if o.output_type == "error"]
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert stderr == []  # no warnings either
    html = [o.data["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    views = [h for h in html if h.startswith("<div class='bubbleup'>")]
    assert len(views) == 1  # the Result's rich view
    assert views[0].count("<svg") == 5  # the timeline and four charts
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 1  # plot() figures are shown as images


@pytest.mark.notebook
def test_walkthrough_tells_the_story(executed: dict[str, Any]) -> None:
    cells = [c for c in executed["incident-walkthrough.ipynb"].cells if c.cell_type == "code"]
    text = "\n".join(o.data.get("text/plain", "") for c in cells for o in c.outputs if "data" in o)
    assert "build_tool = 'gradle'" in text  # the drill-down finds the second half
    assert "2026-11-20 14:00" in text  # and when the new kernel arrived
    assert "['oom-report.html', 'oom.json']" in text
    pngs = sum("image/png" in o.get("data", {}) for c in cells for o in c.outputs)
    assert pngs == 2


@pytest.mark.notebook
@pytest.mark.browser
@pytest.mark.parametrize("name", NAMES)
def test_notebook_outputs_render_in_chromium(
    executed: dict[str, Any], browser: Browser, tmp_path: Path, name: str
) -> None:
    parts = []
    for o in _outputs(executed[name]):
        data = o.get("data", {})
        if "text/html" in data:
            parts.append(f"<section>{data['text/html']}</section>")
        elif "image/png" in data:
            base64.b64decode(data["image/png"], validate=True)
            src = f"data:image/png;base64,{data['image/png']}"
            parts.append(f"<section><img alt='plot' src='{src}'></section>")
    page_path = tmp_path / "outputs.html"
    page_path.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>outputs</title></head><body>"
        + "".join(parts)
        + "</body></html>",
        encoding="utf-8",
    )
    page = browser.open(file_url(page_path))
    assert page.errors == []
    assert page.requests[0] == file_url(page_path)
    assert all(url.startswith("data:image/png") for url in page.requests[1:])
    assert page.evaluate("document.querySelectorAll('.bubbleup svg').length") == 5
    sizes = page.evaluate(
        "[...document.querySelectorAll('img')].map(i => i.complete && i.naturalWidth)"
    )
    assert sizes
    assert all(w > 100 for w in sizes)
