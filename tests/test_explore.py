"""``bubbleup explore``: the view state, the heatmap, the server's safety, and the real page.

The server runs in a thread on 127.0.0.1 with a random port; the page is loaded by a real
headless Chromium (tests/browser.py), and a box is dragged with real mouse events sent
over the DevTools protocol.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from bubbleup.interfaces.cli import app
from bubbleup.interfaces.explore.heatmap import box_sql
from bubbleup.interfaces.explore.server import MAX_BODY, Server, serve
from bubbleup.interfaces.explore.state import Explorer, Step, SupersededError, View
from bubbleup.options import Options
from tests.browser import HANG_GUARD_SECONDS, Browser, Page, chromium

START = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
LONG = "L" * 20_000
HOSTILE = [
    "<script>window.__pwned = 1</script>",
    '"\'><img src=x onerror="window.__pwned = 2">',
    "שלום مرحبا \u202eevil",
    "bell\x07 and escape\x1b[31m",
    LONG,
]


def band_events(n: int = 20_000, seed: int = 3) -> pl.DataFrame:
    """Events over four hours; host ``h-bad`` is slow after 14:00 (the planted band)."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.uniform(0, 4 * 3600, n))
    host = rng.choice([f"h-{i}" for i in range(9)] + ["h-bad"], n)
    slow = (host == "h-bad") & (seconds > 2 * 3600)
    duration = rng.lognormal(4.5, 0.5, n) * np.where(slow, 60, 1)
    hostile = rng.random(n) < 0.15
    return pl.DataFrame(
        {
            "ts": [START + dt.timedelta(seconds=float(s)) for s in seconds],
            "duration_ms": duration.round().astype(np.int64),
            "host": host,
            "bytes": rng.integers(100, 5000, n),
            "route": rng.choice(["/a", "/b", "/c", "/d"], n),
            "region": rng.choice(["us", "eu", "ap"], n),
            "payload": np.where(hostile, rng.choice(np.array(HOSTILE, dtype=object), n), "ok"),
            "flag": np.where(hostile, "weird", "plain"),
            HOSTILE[0]: rng.choice(["x", "y"], n),
        }
    )


@pytest.fixture(scope="module")
def events_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("explore") / "events.parquet"
    band_events().write_parquet(path)
    return path


@contextlib.contextmanager
def running(explorer: Explorer) -> Iterator[Server]:
    """A server of ``explorer`` on 127.0.0.1, in a thread, for the duration."""
    s = Server(explorer)
    thread = threading.Thread(target=serve, args=(s,), daemon=True)
    thread.start()
    try:
        yield s
    finally:
        s.shutdown()
        thread.join(HANG_GUARD_SECONDS)


@pytest.fixture(scope="module")
def server(events_path: Path) -> Iterator[Server]:
    with running(Explorer(str(events_path))) as s:
        yield s


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


def request(
    s: Server,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=HANG_GUARD_SECONDS)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        reply = conn.getresponse()
        return reply.status, reply.read()
    finally:
        conn.close()


# -- state and heatmap ------------------------------------------------------------------------


def test_view_round_trips_through_the_address() -> None:
    view = View("a > 1 AND b = 'x&y'", (Step("only", "k = '='"), Step("not", "m IS NULL")), "d")
    address = "/?token=t&" + urlencode(view.to_query())
    assert View.from_query(parse_qsl(urlsplit(address).query)) == view
    assert View.from_dict(json.loads(json.dumps(view.to_dict()))) == view


def test_heatmap_counts_every_event_and_boxes_select_their_cells(events_path: Path) -> None:
    ex = Explorer(str(events_path))
    frame = ex.frame
    view = View("host = 'h-bad'")
    h = ex.heatmap(view)
    assert h is not None
    assert (h.time_column, h.value_column, h.log) == ("ts", "duration_ms", True)
    sel, base = np.array(h.selection), np.array(h.baseline)
    assert sel.sum() == (frame["host"] == "h-bad").sum()
    assert sel.sum() + base.sum() == frame.height
    # each value row of the heatmap holds the events its box's SQL selects
    for j in (0, 7, len(h.value_edges) - 2):
        picked = frame.filter(pl.sql_expr(box_sql(h, 0, len(h.time_edges) - 2, j, j)))
        counted = sel[j].sum() + base[j].sum()
        assert picked.height == counted


def test_drill_steps_narrow_the_scope_and_the_command(events_path: Path) -> None:
    ex = Explorer(str(events_path))
    view = View("duration_ms > 1000", (Step("not", "region = 'eu'"),))
    answer = ex.answer(view)
    assert answer["result"].filter == "NOT (region = 'eu')"
    assert answer["result"].totals.scope_events == ex.frame.filter(pl.col("region") != "eu").height
    assert "--filter \"NOT (region = 'eu')\"" in answer["command"]
    assert answer["sql"].endswith("WHERE NOT (region = 'eu') AND (duration_ms > 1000)")


# -- safety -----------------------------------------------------------------------------------


def test_no_token_or_a_wrong_token_is_refused_without_data(server: Server) -> None:
    host = {"Host": f"127.0.0.1:{server.port}"}
    for path in (
        "/",
        "/static/explore.js",
        "/api/view?where=host%20%3D%20%27h-bad%27",
        "/api/heatmap?where=host%20%3D%20%27h-bad%27",
    ):
        for query in ("", "token=wrong", f"token={server.token[:-1]}"):
            sep = "&" if "?" in path else "?"
            status, body = request(server, "GET", f"{path}{sep}{query}", headers=host)
            assert status == 403, (path, query)
            assert b"h-bad" not in body
            assert b"explanations" not in body
            assert b"selection" not in body
    ok, body = request(
        server, "GET", f"/api/view?token={server.token}&where=host%20%3D%20%27h-bad%27",
        headers=host,
    )  # fmt: skip
    assert ok == 200
    data = json.loads(body)
    assert data["view"]["where"] == "host = 'h-bad'"
    # the slow band: its time window explains the host; its duration is an outcome
    assert data["explanations"][0]["label"].startswith("ts > TIMESTAMPTZ ")
    assert "duration_ms" in data["html"]["outcomes"]


def test_a_foreign_host_header_is_refused(server: Server) -> None:
    path = f"/?token={server.token}"
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1:1"):
        status, body = request(server, "GET", path, headers={"Host": host})
        assert status == 403, host
        assert b"explore.js" not in body
    status, _ = request(server, "GET", path, headers={"Host": f"localhost:{server.port}"})
    assert status == 200


def test_oversized_or_unsized_bodies_are_refused(server: Server) -> None:
    headers = {"Host": f"127.0.0.1:{server.port}", "X-Bubbleup-Token": server.token}
    big = json.dumps({"where": "x" * (MAX_BODY + 10)}).encode()
    status, body = request(server, "POST", "/api/view", body=big, headers=headers)
    assert status == 413
    assert b"body over" in body
    good = json.dumps({"where": "host = 'h-bad'", "steps": [], "y": None}).encode()
    status, _ = request(server, "POST", "/api/view", body=good, headers=headers)
    assert status == 200
    status, body = request(server, "POST", "/api/view", body=b"{nope", headers=headers)
    assert (status, json.loads(body)["error"]) == (400, "the body is not JSON")


def test_bad_predicates_are_one_line_errors(server: Server) -> None:
    headers = {"Host": f"127.0.0.1:{server.port}", "X-Bubbleup-Token": server.token}
    for where in ("host = ", "nope = 1", "duration_ms"):
        body = json.dumps({"where": where}).encode()
        status, reply = request(server, "POST", "/api/view", body=body, headers=headers)
        error = json.loads(reply)["error"]
        assert status == 400
        assert "\n" not in error
        assert "Traceback" not in error


def _other_addresses() -> list[str]:
    out = set()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:  # no packet is sent: this only asks the kernel which interface would be used
            probe.connect(("192.0.2.1", 9))
            out.add(probe.getsockname()[0])
        except OSError:
            pass
    with contextlib.suppress(OSError):
        out.update(a[4][0] for a in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET))
    return sorted(a for a in out if not a.startswith("127."))


def test_not_listening_on_other_interfaces(server: Server) -> None:
    assert server.server_address[0] == "127.0.0.1"
    others = _other_addresses()
    if not others:
        pytest.skip("this machine has no interface besides loopback")
    for address in others:
        with socket.socket() as s:
            s.settimeout(5)
            with pytest.raises(OSError):
                s.connect((address, server.port))


def test_cli_explore_errors_are_one_line(events_path: Path) -> None:
    result = CliRunner().invoke(app, ["explore", str(events_path), "--value", "host"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: column 'host' is String, not a number")
    assert "Traceback" not in result.stderr
    assert "╭─" not in result.stderr


# -- the page in a real browser ---------------------------------------------------------------


def wait_ready(page: Page, *, after: int = 0) -> dict[str, Any]:
    """Wait until the page has drawn the answer of a request made after ``after`` ones."""
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while time.monotonic() < deadline:
        state = page.evaluate(
            "(() => { const r = document.getElementById('bubbleup-explore');"
            " return {state: r.dataset.state, href: location.href,"
            " error: r.querySelector('.bx-error').textContent,"
            " command: r.querySelector('.bx-command').textContent,"
            " sql: r.querySelector('.bx-sql').textContent,"
            " where: r.querySelector('.bx-where').value,"
            " crumbs: [...r.querySelectorAll('.bx-crumb')].map(b => b.textContent),"
            " first: (r.querySelector('table.explanations tbody tr td code') || {}).textContent,"
            " rows: r.querySelectorAll('table.explanations tbody tr').length}; })()"
        )
        if state["state"] in ("ready", "error"):
            return dict(state)
        time.sleep(0.05)
    raise AssertionError("the page never became ready")


def drag(page: Page, cell_from: tuple[int, int], cell_to: tuple[int, int]) -> None:
    """Drag the mouse from one heatmap cell to another, as a person would."""
    geometry = page.evaluate(
        "(() => { const c = document.querySelector('canvas.bx-heat');"
        " const r = c.getBoundingClientRect(); return [r.left, r.top, r.width, r.height,"
        " c.width, c.height]; })()"
    )
    left, top, width, height, cw, ch = geometry
    heat = page.evaluate("window.__heat")
    nx, ny = len(heat["time_edges"]) - 1, len(heat["value_edges"]) - 1
    margin = (64, 8, 8, 34)  # left, right, top, bottom, as in explore.js
    cell_w = (cw - margin[0] - margin[1]) / nx
    cell_h = (ch - margin[2] - margin[3]) / ny

    def point(i: int, j: int) -> tuple[float, float]:
        x = margin[0] + (i + 0.5) * cell_w
        y = margin[2] + (ny - 1 - j + 0.5) * cell_h
        return left + x * width / cw, top + y * height / ch

    steps = [("mousePressed", point(*cell_from)), ("mouseMoved", point(*cell_to)),
             ("mouseReleased", point(*cell_to))]  # fmt: skip
    for kind, (x, y) in steps:
        page.browser.call(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "buttons": 1, "clickCount": 1},
            session=page.session,
        )


def test_page_loads_offline_without_errors(server: Server, browser: Browser) -> None:
    page = browser.open(server.url)
    state = wait_ready(page)
    assert state["state"] == "ready"
    assert page.errors == []
    hosts = {urlsplit(u).hostname for u in page.requests if not u.startswith("data:")}
    assert hosts == {"127.0.0.1"}
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    # the CSP forbids inline scripts: one injected now does not run
    page.evaluate(
        "(() => { const s = document.createElement('script');"
        " s.textContent = 'window.__inline = 1'; document.body.append(s); })()"
    )
    assert page.evaluate("window.__inline === undefined")


def fetch_heat(page: Page) -> dict[str, Any]:
    """The heatmap of the page's first view, from the page's own JSON endpoint (the drag
    helper reads its edges from ``window.__heat``)."""
    page.evaluate(
        "void fetch('/api/heatmap', {method: 'POST', headers: {'X-Bubbleup-Token':"
        " new URLSearchParams(location.search).get('token')}, body: '{}'})"
        ".then(r => r.json()).then(d => { window.__heat = d.heatmap; })"
    )
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while page.evaluate("window.__heat === undefined") and time.monotonic() < deadline:
        time.sleep(0.05)
    heat: dict[str, Any] = page.evaluate("window.__heat")
    return heat


def test_drag_a_box_over_the_band_drill_back_and_share(server: Server, browser: Browser) -> None:
    page = browser.open(server.url)
    wait_ready(page)
    heat = fetch_heat(page)
    edges = heat["value_edges"]
    # the band: after 14:00 (the second half of the time axis), above 2,000 ms
    j0 = next(j for j, e in enumerate(edges) if e >= 2000)
    i0 = (len(heat["time_edges"]) - 1) // 2 + 1
    drag(page, (i0, j0), (len(heat["time_edges"]) - 2, len(edges) - 2))
    boxed = wait_ready(page)
    assert boxed["error"] == ""
    assert boxed["where"].startswith("ts >= TIMESTAMPTZ '2026-11-20 ")
    assert " AND ts < TIMESTAMPTZ '2026-11-20 " in boxed["where"]
    assert "AND duration_ms >= " in boxed["where"]
    assert boxed["first"] == "host = 'h-bad'"  # the planted cause, at rank 1
    assert "where=ts+%3E%3D+TIMESTAMPTZ" in boxed["href"]
    assert boxed["command"].startswith("bubbleup analyze ")
    assert "--where" in boxed["command"]
    assert boxed["sql"].startswith("SELECT * FROM events WHERE ts >= TIMESTAMPTZ")

    # "only these" on a chart value: region = 'us'
    clicked = page.evaluate(
        "(() => { for (const li of document.querySelectorAll('.bx-values li')) {"
        " if (li.querySelector('bdi').textContent === 'us') {"
        " li.querySelector('.bx-only').click(); return true; } } return false; })()"
    )
    assert clicked
    drilled = wait_ready(page)
    assert drilled["crumbs"] == ["all events", "only region = 'us'"]
    assert "only=region" in drilled["href"]
    assert "--filter \"(region = 'us')\"" in drilled["command"]
    assert "(region = 'us') AND (ts >= TIMESTAMPTZ" in drilled["sql"]
    assert drilled["first"] == "host = 'h-bad'"

    # a copied address opened in a new tab shows the same answer
    tab = browser.open(drilled["href"])
    again = wait_ready(tab)
    assert {k: again[k] for k in ("first", "command", "sql", "crumbs", "where", "rows")} == {
        k: drilled[k] for k in ("first", "command", "sql", "crumbs", "where", "rows")
    }
    assert tab.errors == []

    # back restores the view before the drill
    page.evaluate("history.back()")
    deadline = time.monotonic() + HANG_GUARD_SECONDS
    while page.evaluate("location.href") == drilled["href"] and time.monotonic() < deadline:
        time.sleep(0.05)
    back = wait_ready(page)
    assert back["crumbs"] == ["all events"]
    assert back["command"] == boxed["command"]
    assert back["href"] == boxed["href"]

    # "not these" on explanation 1, then undo it from the breadcrumbs
    page.evaluate("document.querySelector('table.explanations tbody tr .bx-not').click()")
    excluded = wait_ready(page)
    assert excluded["crumbs"] == ["all events", "not host = 'h-bad'"]
    assert excluded["state"] == "error"
    assert excluded["error"].startswith("the selection is empty")
    assert excluded["rows"] == 0  # no stale answer stays on the page
    assert page.evaluate("document.querySelector('canvas.bx-heat').dataset.cells") != "0"
    page.evaluate("document.querySelector('.bx-undo').click()")
    undone = wait_ready(page)
    assert undone["crumbs"] == ["all events"]
    assert undone["first"] == "host = 'h-bad'"
    assert page.errors == []


def test_hostile_values_are_shown_as_text(server: Server, browser: Browser) -> None:
    where = "flag = 'weird'"
    page = browser.open(server.url_for(View(where)))
    state = wait_ready(page)
    assert state["error"] == ""
    assert page.evaluate("window.__pwned === undefined")
    text = page.evaluate("document.getElementById('bubbleup-explore').textContent")
    assert "<script>window.__pwned = 1</script>" in text
    assert "\\x07" in text  # control characters shown escaped
    assert "\x07" not in text
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('#bubbleup-explore script').length") == 0
    # a 20,000-character value does not make the page wider than the window
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # nor do the drill buttons of a hostile value run anything when used
    page.evaluate(
        "(() => { for (const li of document.querySelectorAll('.bx-values li')) {"
        " if (li.querySelector('bdi').textContent.startsWith('<script>')) {"
        " li.querySelector('.bx-only').click(); return; } } })()"
    )
    drilled = wait_ready(page)
    assert drilled["crumbs"][1].startswith("only payload = '<script>")
    assert page.evaluate("window.__pwned === undefined")
    assert page.errors == []


def _start_cli(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bubbleup", "explore", *args, "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )


def test_cli_warns_when_told_to_listen_beyond_loopback(events_path: Path) -> None:
    others = _other_addresses()
    if not others:
        pytest.skip("this machine has no interface besides loopback")
    process = _start_cli(str(events_path), "--host", others[0])
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith(f"http://{others[0]}:")
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=HANG_GUARD_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert stderr.startswith(f"Warning: listening on {others[0]}: anyone who can reach it")
    assert process.returncode == 0


def test_cli_serves_until_ctrl_c_then_stops_cleanly(events_path: Path) -> None:
    process = _start_cli(str(events_path), "--where", "host = 'h-bad'")
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert "token=" in url
        assert "where=host%20%3D%20%27h-bad%27" in url
        with urllib.request.urlopen(url, timeout=HANG_GUARD_SECONDS) as reply:
            assert reply.status == 200
            assert "explore.js" in reply.read().decode()
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=HANG_GUARD_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert stderr.strip().endswith("bubbleup explore: stopped")


def test_a_newer_view_supersedes_an_older_one(events_path: Path) -> None:
    ex = Explorer(str(events_path))
    outcomes: dict[str, object] = {}

    def ask(name: str, view: View) -> None:
        try:
            outcomes[name] = ex.view(view)["view"]["where"]
        except SupersededError:
            outcomes[name] = "superseded"

    def wait_generation(n: int) -> None:
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        while ex._generation < n and time.monotonic() < deadline:
            time.sleep(0.01)

    with ex._lock:  # the machine is busy counting something else
        old = threading.Thread(target=ask, args=("old", View("duration_ms > 500")))
        old.start()
        wait_generation(1)
        new = threading.Thread(target=ask, args=("new", View("duration_ms > 900")))
        new.start()
        wait_generation(2)
    old.join(HANG_GUARD_SECONDS)
    new.join(HANG_GUARD_SECONDS)
    assert outcomes == {"old": "superseded", "new": "duration_ms > 900"}
    # and an analysis already running stops at its next stage
    with pytest.raises(SupersededError):
        ex.answer(View("duration_ms > 700"), cancelled=lambda: True)


def test_the_page_shows_progress_and_keeps_only_the_newest_answer(
    server: Server, browser: Browser
) -> None:
    page = browser.open(server.url)
    wait_ready(page)
    status = page.evaluate(
        "(() => { const r = document.getElementById('bubbleup-explore');"
        " const w = r.querySelector('.bx-where'), f = r.querySelector('.bx-form');"
        " w.value = `route = '/a'`; f.requestSubmit();"
        " const during = r.querySelector('.bx-status').textContent;"
        " w.value = `route = '/b' AND region = 'eu'`; f.requestSubmit();"
        " return [during, r.dataset.state]; })()"
    )
    assert status[0].startswith("counting")
    assert status[1] == "loading"
    final = wait_ready(page)
    assert final["where"] == "route = '/b' AND region = 'eu'"
    assert final["sql"].endswith("WHERE route = '/b' AND region = 'eu'")
    assert "route+%3D+%27%2Fb%27" in final["href"]
    assert page.errors == []


def test_the_newest_view_asks_again_when_the_server_saw_an_older_one_last(
    server: Server, browser: Browser
) -> None:
    """Two requests sent close together may reach the server out of order: the server then
    answers the newest one "superseded" (409), and the page must ask again, not hang."""
    page = browser.open(server.url)
    wait_ready(page)
    page.evaluate(
        "(() => { const real = window.fetch; let once = true;"
        " window.fetch = (url, options) => {"
        "  if (once && String(url).endsWith('/api/view')) { once = false;"
        "   return Promise.resolve(new Response('{\"superseded\": true}', {status: 409})); }"
        "  return real(url, options); };"
        " const r = document.getElementById('bubbleup-explore');"
        " r.querySelector('.bx-where').value = `route = '/c'`;"
        " r.querySelector('.bx-form').requestSubmit(); })()"
    )
    final = wait_ready(page)
    assert final["state"] == "ready"
    assert final["where"] == "route = '/c'"
    assert final["sql"].endswith("WHERE route = '/c'")
    assert page.errors == []


def test_any_numeric_column_can_be_the_value_axis(server: Server, browser: Browser) -> None:
    page = browser.open(server.url)
    first = wait_ready(page)
    assert page.evaluate("document.querySelector('.bx-y').value") == "duration_ms"
    options = page.evaluate("[...document.querySelectorAll('.bx-y option')].map(o => o.value)")
    assert options == ["duration_ms", "bytes"]
    page.evaluate(
        "(() => { const s = document.querySelector('.bx-y'); s.value = 'bytes';"
        " s.dispatchEvent(new Event('change')); })()"
    )
    picked = wait_ready(page)
    assert picked["href"] != first["href"]
    assert picked["href"].endswith("&y=bytes")
    note = page.evaluate("document.querySelector('.bx-heat + .bx-legend + .bx-note').textContent")
    assert note == "ts × bytes"  # a linear axis: 100 to 5,000 spans less than 50x
    assert page.errors == []


def test_heatmap_with_a_baseline_option_and_a_scope(events_path: Path) -> None:
    ex = Explorer(str(events_path), Options(baseline="region = 'eu'"))
    frame = ex.frame
    view = View("duration_ms > 1000", (Step("not", "route = '/a'"),))
    h = ex.heatmap(view)
    assert h is not None
    scope = frame.filter(pl.col("route") != "/a")
    selected = scope.filter(pl.col("duration_ms") > 1000)
    baseline = scope.filter((pl.col("region") == "eu") & ~(pl.col("duration_ms") > 1000))
    assert np.array(h.selection).sum() == selected.height
    assert np.array(h.baseline).sum() == baseline.height
    # a second box over the same scope reuses the cells and counts the same way
    again = ex.heatmap(View("duration_ms > 2000", view.steps))
    assert again is not None
    assert np.array(again.selection).sum() == scope.filter(pl.col("duration_ms") > 2000).height
    assert again.value_edges == h.value_edges


def test_the_heatmap_is_drawn_while_the_answer_is_counted(server: Server, browser: Browser) -> None:
    page = browser.open(server.url)
    wait_ready(page)
    where = "region = 'ap' AND route = '/c'"
    frame = server.explorer.frame
    expected = frame.filter((pl.col("region") == "ap") & (pl.col("route") == "/c")).height
    with server.explorer._lock:  # the answer cannot be counted until the lock is released
        page.evaluate(
            "(() => { const r = document.getElementById('bubbleup-explore');"
            f' r.querySelector(".bx-where").value = "{where}";'
            " r.querySelector('.bx-form').requestSubmit(); })()"
        )
        deadline = time.monotonic() + HANG_GUARD_SECONDS
        drawn: list[Any] = []
        while time.monotonic() < deadline:
            drawn = page.evaluate(
                "(() => { const r = document.getElementById('bubbleup-explore');"
                " return [r.dataset.state, r.querySelector('.bx-status').textContent,"
                " r.querySelector('canvas.bx-heat').dataset.selected]; })()"
            )
            if drawn[2] == str(expected):
                break
            time.sleep(0.05)
        assert drawn[2] == str(expected)  # the new selection is on the heatmap...
        assert drawn[0] == "loading"  # ...while the answer is still being counted
        assert drawn[1].startswith("counting")
    done = wait_ready(page)
    assert done["state"] == "ready"
    assert done["sql"].endswith(f"WHERE {where}")


def test_a_new_box_reuses_its_scopes_statistics_and_gives_the_same_answer(
    events_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scope's column statistics do not depend on the box: kept per scope, they are
    not measured again, and every answer is the one a fresh analysis gives."""
    from bubbleup.pipeline import count as counting
    from bubbleup.pipeline.analyze import analyze

    ex = Explorer(str(events_path))
    measured: list[int] = []
    real = counting._collect

    def spy(frames: list[pl.LazyFrame], what: str, *args: Any, **kwargs: Any) -> list[pl.DataFrame]:
        if what == "measuring columns":
            measured.append(len(frames))
        return real(frames, what, *args, **kwargs)

    monkeypatch.setattr(counting, "_collect", spy)
    eu = (Step("only", "region = 'eu'"),)
    not_eu = (Step("not", "region = 'eu'"),)
    views = [
        View("duration_ms > 2000"),
        View("duration_ms > 3000"),  # same scope as the first
        View("duration_ms > 2000", eu),
        View("duration_ms > 2000", not_eu),
        View("duration_ms > 3000", eu),  # same scope as the third
    ]
    queries = []
    for view in views:
        measured.clear()
        kept = ex.analyze(view).to_json()
        by_kept = sum(measured)  # queries of the scope (unless kept) and of the selection
        measured.clear()
        on_own = analyze(ex.frame, ex.options_for(view)).to_json()  # no statistics kept
        assert kept == on_own, view
        queries.append((by_kept, sum(measured)))
    new_scope = [queries[i] for i in (0, 2, 3)]
    assert all(kept == fresh for kept, fresh in new_scope), queries
    assert all(kept < fresh for kept, fresh in (queries[1], queries[4])), queries


def test_the_page_names_its_icon_so_the_browser_asks_for_no_favicon() -> None:
    """Without an icon in the page, Chromium fetches /favicon.ico, which the server refuses
    (403: no token), and the page's log shows an error (a browser test failed on it)."""
    from bubbleup.interfaces.explore.server import CSP, PAGE

    assert '<link rel="icon" href="data:,">' in PAGE
    assert "img-src 'self' data:" in CSP  # the policy lets the page use that icon
