"""A real headless Chromium, driven over the DevTools protocol on a pipe.

No port is opened and nothing is downloaded: Debian's ``chromium`` is started with
``--remote-debugging-pipe`` and spoken to through file descriptors 3 and 4 (the protocol
messages are JSON separated by NUL bytes). A page load records what a person would miss:
console errors, uncaught exceptions, log entries of level error (failed loads, blocked
content) and every URL the page asked for.

Used by the report and notebook tests, and by ``docs/make_screenshot.py``.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A guard against a hung browser, not a performance threshold: no test checks durations.
HANG_GUARD_SECONDS = 180

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1280,900",
    "--remote-debugging-pipe",
)


def find_chromium() -> str | None:
    """The Chromium executable: $BUBBLEUP_CHROMIUM, or chromium on PATH."""
    env = os.environ.get("BUBBLEUP_CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _high(fd: int) -> int:
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


@dataclass
class Page:
    """One loaded page: what happened while it loaded, and a way to ask it questions."""

    browser: Browser
    session: str
    events: list[dict[str, Any]] = field(default_factory=list)

    def evaluate(self, expression: str) -> Any:
        """Evaluate JavaScript in the page and return its (JSON) value."""
        reply = self.browser.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=self.session,
        )
        if "exceptionDetails" in reply:
            raise RuntimeError(f"evaluation failed: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error log entries, as text."""
        out = []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                args = " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                out.append(f"console.{params['type']}: {args}")
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                text = details.get("exception", {}).get("description", details.get("text"))
                out.append(f"exception: {text}")
            elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
                out.append(f"log: {params['entry']['text']} {params['entry'].get('url', '')}")
        return out

    @property
    def console(self) -> list[str]:
        """Every console message, whatever its level."""
        return [
            f"{e['params']['type']}: {e['params']['args']}"
            for e in self.events
            if e.get("method") == "Runtime.consoleAPICalled"
        ]

    @property
    def requests(self) -> list[str]:
        """Every URL the page requested (the page itself included)."""
        return [
            e["params"]["request"]["url"]
            for e in self.events
            if e.get("method") == "Network.requestWillBeSent"
        ]

    def screenshot(self, width: int) -> bytes:
        """A PNG of the whole page laid out at ``width`` CSS pixels."""
        self.browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": 800, "deviceScaleFactor": 1, "mobile": False},
            session=self.session,
        )
        height = int(self.evaluate("document.documentElement.scrollHeight"))
        self.browser.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=self.session,
        )
        data = self.browser.call("Page.captureScreenshot", {"format": "png"}, session=self.session)[
            "data"
        ]
        return base64.b64decode(data)


class Browser:
    """A headless Chromium process and its DevTools pipe."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="bubbleup-chromium-")
        to_child, self._write = os.pipe()
        self._read, from_child = os.pipe()
        # move the child's ends above 9, so that the redirections below cannot clobber them
        to_child, from_child = (_high(fd) for fd in (to_child, from_child))
        args = [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"]
        # the DevTools pipe must be file descriptors 3 (commands in) and 4 (replies out);
        # bash, unlike dash, redirects from descriptors above 9
        shell = f'exec "$@" 3<&{to_child} 4>&{from_child}'
        self.process = subprocess.Popen(
            ["bash", "-c", shell, "bash", *args],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_child)
        os.close(from_child)
        self._buffer = b""
        self._id = 0
        self._pending: list[dict[str, Any]] = []
        self.version = self.call("Browser.getVersion")["product"]

    def _receive(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], HANG_GUARD_SECONDS)
            if not ready:
                raise RuntimeError("chromium stopped answering on its DevTools pipe")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError(f"chromium exited (code {self.process.poll()})")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None
    ) -> dict[str, Any]:
        """Send one command and wait for its reply; events that arrive meanwhile are kept."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._receive()
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self._pending.append(reply)

    def open(self, url: str, *, device: dict[str, Any] | None = None) -> Page:
        """Open ``url`` in a new tab and wait for its load event.

        ``device`` (the parameters of ``Emulation.setDeviceMetricsOverride``) is set before
        the page loads, as on a real phone: set afterwards, a mobile viewport may keep the
        width the page had while it was laid out for the desktop.
        """
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self._pending.clear()
        page = Page(self, session)
        if device is not None:
            self.call("Emulation.setDeviceMetricsOverride", device, session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        while not any(
            e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session
            for e in self._pending
        ):
            self._pending.append(self._receive())
        # one more round trip, so that messages logged during the load have arrived
        self.call("Runtime.evaluate", {"expression": "1"}, session=session)
        page.events = [e for e in self._pending if e.get("sessionId") == session]
        return page

    def close(self) -> None:
        """Close the browser and remove its profile."""
        with suppress(RuntimeError):
            self.call("Browser.close")
        try:
            self.process.wait(timeout=HANG_GUARD_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._read)
        os.close(self._write)
        shutil.rmtree(self.profile, ignore_errors=True)


@contextmanager
def chromium() -> Iterator[Browser]:
    """Start a headless Chromium for the duration of a ``with`` block."""
    executable = find_chromium()
    if executable is None:
        raise RuntimeError(
            "chromium not found: install it (apt-get install -y chromium; .ci/run does) "
            "or set BUBBLEUP_CHROMIUM"
        )
    browser = Browser(executable)
    try:
        yield browser
    finally:
        browser.close()


def file_url(path: Path) -> str:
    """The file:// URL of a local file."""
    return path.resolve().as_uri()
