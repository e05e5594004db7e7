"""The HTML report: self-contained, escaped, deterministic, and rendered by a real browser.

Hostile data (markup, quotes, a 20,000-character value, right-to-left text, emoji, a
right-to-left override, a column named like an HTML tag, a path with markup in it) goes
through the whole pipeline, and a headless Chromium loads the page: nothing may execute,
no request may leave the file, no console error may appear, and the page must not grow
wider than the window.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

import bubbleup
from bubbleup.interfaces.cli import app
from bubbleup.outputs.render import LABEL_CHARS
from bubbleup.outputs.report import to_html
from bubbleup.printable import cut
from tests.browser import Browser, chromium, file_url
from tests.conftest import SAMPLE

LONG = "A" * 20_000
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '"><img src=x onerror="window.__pwned = 2">',
    "'; DROP TABLE events; --",
    "</svg></figure><script>window.__pwned = 3</script>",
    "שלום עולם مرحبا بالعالم",
    "🔥💥👩‍👩‍👧 emoji",
    "\u202eevil override",
    "&amp; &lt;not a tag&gt;",
    LONG,
]
TAG_COLUMN = '<img src=x onerror="window.__pwned=4">'
WHERE = "outcome = 'bad' OR outcome = '<script>window.__pwned = 5</script>'"


def hostile_frame(n: int = 3000, seed: int = 5) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    bad = rng.random(n) < 0.12
    payload = np.where(
        bad, rng.choice(np.array(HOSTILE, dtype=object), size=n), rng.choice(["fine", "ok"], n)
    )
    return pl.DataFrame(
        {
            "outcome": np.where(bad, "bad", "good").tolist(),
            "payload": payload.tolist(),
            TAG_COLUMN: np.where(bad, 'x"y', "z").tolist(),
            "emoji 🔥": np.where(bad & (rng.random(n) < 0.8), "💥", "🙂").tolist(),
            "rtl": np.where(bad, "مرحبا", "hello").tolist(),
            '"quoted" latency': np.round(rng.lognormal(5, 1, n) * np.where(bad, 3, 1), 2),
            "long": np.where(bad & (rng.random(n) < 0.7), LONG, "short").tolist(),
        }
    )


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bubbleup.Result]:
    folder = tmp_path_factory.mktemp("hostile") / "<b>ev'ents<i>"
    folder.mkdir()
    path = folder / "events.parquet"
    hostile_frame().write_parquet(path)
    return path, bubbleup.analyze(path, where=WHERE)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def test_hostile_values_reach_the_report(hostile: tuple[Path, bubbleup.Result]) -> None:
    _, result = hostile
    labels = " ".join(result.explanations["label"].head(20))
    assert "<script>" in labels  # the test is only worth something if they are shown
    shown = set(result.attributes["attribute"].head(6))
    assert {"payload", TAG_COLUMN, "long"} <= shown


def test_report_escapes_every_string(hostile: tuple[Path, bubbleup.Result]) -> None:
    _, result = hostile
    page = to_html(result)
    lowered = page.lower()
    assert "<script" not in lowered
    assert "<img" not in lowered
    assert "onerror=" not in lowered.replace("onerror=&quot;", "")
    for value in HOSTILE[:4]:
        assert value not in page
    assert html.escape(HOSTILE[0]) in page
    assert html.escape(TAG_COLUMN) in page
    assert "&lt;b&gt;ev&#x27;ents&lt;i&gt;" in page  # the source path
    assert page.count("<svg") == 5  # six attributes, one an outcome (latency): no chart
    assert page.count("<svg") == page.count("</svg>")


def test_report_is_deterministic(hostile: tuple[Path, bubbleup.Result]) -> None:
    path, result = hostile
    again = bubbleup.analyze(path, where=WHERE)
    assert to_html(result) == to_html(again)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.styles: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.attributes.update(name for name, _ in attrs)
        self.styles += [v or "" for name, v in attrs if name == "style"]
        self._in_style = tag == "style"

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)


def test_report_is_self_contained(hostile: tuple[Path, bubbleup.Result]) -> None:
    _, result = hostile
    parser = _Tags()
    parser.feed(to_html(result))
    assert not parser.tags & {
        "script",
        "img",
        "link",
        "iframe",
        "object",
        "embed",
        "base",
        "video",
        "audio",
        "source",
        "form",
        "input",
        "a",
    }
    assert not {a for a in parser.attributes if a in ("src", "href", "srcset", "action")}
    assert not {a for a in parser.attributes if a.startswith("on")}
    assert not [s for s in parser.styles if "url(" in s or "@import" in s]
    assert "Content-Security-Policy" in to_html(result)


def _check_page(browser: Browser, path: Path, *, svgs: int, texts: list[str]) -> None:
    page = browser.open(file_url(path))
    assert page.errors == []
    assert page.requests == [file_url(path)]
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.evaluate("document.querySelectorAll('script, img, iframe, object').length") == 0
    handlers = page.evaluate(
        "[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
        ".some(a => a.name.startsWith('on'))).length"
    )
    assert handlers == 0
    text = page.evaluate("document.body.innerText")
    for expected in texts:
        assert expected in text
    widths = page.evaluate(
        "[...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().width)"
    )
    assert len(widths) == svgs
    assert all(w > 100 for w in widths)
    scroll, client = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert scroll <= client, "the page is wider than the window"


@pytest.mark.browser
def test_hostile_report_renders_in_chromium(
    browser: Browser, hostile: tuple[Path, bubbleup.Result], tmp_path: Path
) -> None:
    _, result = hostile
    path = tmp_path / "report.html"
    path.write_text(to_html(result), encoding="utf-8")
    labels = result.explanations["label"].head(20).to_list()
    assert any(value in " ".join(labels) for value in HOSTILE)
    assert any(LONG in label for label in labels)  # shown cut, with a marker
    shown = [cut(label, LABEL_CHARS) for label in labels]
    _check_page(browser, path, svgs=5, texts=[WHERE, TAG_COLUMN, *shown])


@pytest.mark.browser
def test_hostile_notebook_view_renders_in_chromium(
    browser: Browser, hostile: tuple[Path, bubbleup.Result], tmp_path: Path
) -> None:
    _, result = hostile
    path = tmp_path / "view.html"
    page = "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{}</body></html>"
    path.write_text(page.format(result._repr_html_()), encoding="utf-8")
    labels = result.explanations["label"].head(10).to_list()
    _check_page(browser, path, svgs=4, texts=[cut(label, LABEL_CHARS) for label in labels])


@pytest.mark.browser
def test_sample_report_from_the_cli_renders(
    browser: Browser, runner: CliRunner, tmp_path: Path
) -> None:
    target = tmp_path / "report.html"
    out = runner.invoke(app, ["analyze", str(SAMPLE), "--where", "exit_reason = 'oom'",
                              "--format", "html", "--output", str(target)])  # fmt: skip
    assert out.exit_code == 0, out.stderr
    assert out.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    page = browser.open(file_url(target))
    assert page.errors == []
    assert page.requests == [file_url(target)]
    assert page.evaluate("document.title") == "bubbleup: exit_reason = 'oom'"
    rows = page.evaluate("document.querySelector('table.explanations tbody').rows.length")
    assert rows == 20
    first = page.evaluate("document.querySelector('table.explanations tbody').rows[0].innerText")
    top = bubbleup.analyze(SAMPLE, where="exit_reason = 'oom'").explanations.row(0, named=True)
    assert top["label"] in first
    assert f"{top['selection_share'] * 100:.1f}%" in first
    figures = page.evaluate(
        "[...document.querySelectorAll('figcaption code')].map(c => c.innerText)"
    )
    assert figures[:2] == ["kernel_version", "build_tool"]
    reproduce = page.evaluate("document.querySelector('pre').innerText")
    assert reproduce == (
        f"bubbleup analyze {SAMPLE} --where \"exit_reason = 'oom'\" --format html --output {target}"
    )


def test_report_header_says_what_was_compared() -> None:
    result = bubbleup.analyze(SAMPLE, where="exit_reason = 'oom'")
    page = to_html(result)
    assert "2,421" in page
    assert "197,579" in page
    assert "1,018,559" in page  # weighted baseline
    assert "sample_rate" in page
    assert "detected automatically" in page
    assert "ts</bdi>: 2026-11-19 00:00:01+00:00 to 2026-11-20 23:59:57+00:00" in page
    assert "used in a predicate" in page
    assert "q &lt; 0.05, lift &ge; 1.5" in page


def test_report_from_a_frame_says_no_command_reproduces_it() -> None:
    frame = pl.read_parquet(SAMPLE)
    page = bubbleup.analyze(frame, where=pl.col("exit_reason") == "oom").to_html()
    assert "no command" in page
    assert "bubbleup analyze" not in page


@pytest.mark.browser
def test_report_on_a_phone_keeps_the_figures(browser: Browser, tmp_path: Path) -> None:
    """At 390 CSS pixels every explanation's shares, lift and q are on screen, whatever
    the source's path (a long one, as a checkout in a deep folder has, once overflowed)."""
    deep = tmp_path / "a_checkout_in_a_folder_with_a_rather_long_name" / "sample_data"
    deep.mkdir(parents=True)
    source = deep / "builds.parquet"
    source.symlink_to(SAMPLE)
    result = bubbleup.analyze(source, where="exit_reason = 'oom'")
    path = tmp_path / "report.html"
    path.write_text(to_html(result), encoding="utf-8")
    phone = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
    page = browser.open(file_url(path), device=phone)
    assert page.evaluate("window.innerWidth") == 390
    cells = page.evaluate(
        "[...document.querySelectorAll('table.explanations tbody tr')].map(tr =>"
        " [...tr.querySelectorAll('td.share, td.lift, td.q, td.sig')].map(td => {"
        " const r = td.getBoundingClientRect();"
        " return [td.innerText.trim(), r.left, r.right, r.width]; }))"
    )
    assert len(cells) == 20
    for row in cells:
        assert len(row) == 5
        for text, left, right, width in row[:4]:
            assert text, row
            assert width > 0, row
            assert left >= 0, row
            assert right <= 390, row
    first = " ".join(text for text, *_ in cells[0])
    assert "86.0%" in first
    assert "259x" in first
    assert "<1e-300" in first
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 390, "the page scrolls sideways"
