"""The local web server of ``bubbleup explore`` (standard library only).

One page, one ES module and one style sheet shipped in ``bubbleup/interfaces/explore/static/``, and
two JSON endpoints: ``/api/view``, the heatmap and the answer of a view, and
``/api/heatmap``, the heatmap alone (fast: the page draws it while the answer is being
counted). Each takes the view as a GET query string or as a POST JSON body. Safe by
default:

- it binds 127.0.0.1 unless told otherwise;
- every request must carry the random token (``?token=`` or the ``X-Bubbleup-Token``
  header), else 403 and no data;
- the Host header must name the address it was bound to (or ``localhost``), which
  defeats DNS rebinding;
- request bodies are bounded (:data:`MAX_BODY`), and so is the request line;
- every response carries a Content-Security-Policy that allows only its own script and
  style sheet: no inline script, no remote load, no ``eval``;
- only the files it was given are served.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
import socket
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from bubbleup.errors import BubbleupError
from bubbleup.interfaces.explore.state import Explorer, SupersededError, View

#: The largest request body accepted (a view is a few predicates).
MAX_BODY = 256 * 1024
#: The longest address accepted (the view travels in it).
MAX_URL = 64 * 1024
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
STATIC = {"explore.js": "text/javascript", "explore.css": "text/css"}

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>bubbleup explore</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/explore.css?token={token}">
<script type="module" src="/static/explore.js?token={token}"></script>
</head><body data-bubbleup-page="1"><div id="bubbleup-explore"></div></body></html>
"""


def static_text(name: str) -> str:
    """One of the files shipped in ``bubbleup/interfaces/explore/static/``."""
    return (resources.files("bubbleup.interfaces.explore") / "static" / name).read_text(
        encoding="utf-8"
    )


def payload(answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON part of an answer (the Result object stays in Python)."""
    return {k: v for k, v in answer.items() if k != "result"}


class Server(ThreadingHTTPServer):
    """A threading HTTP server that knows its explorer, token and allowed Host headers."""

    daemon_threads = True

    def __init__(self, explorer: Explorer, host: str = "127.0.0.1", port: int = 0) -> None:
        family_v6 = ":" in host
        if family_v6:
            self.address_family = socket.AF_INET6
        super().__init__((host, port), Handler)
        self.explorer = explorer
        self.token = secrets.token_urlsafe(24)
        self.host = host
        self.port = int(self.server_address[1])
        shown = f"[{host}]" if family_v6 else host
        names = {shown, "localhost", "127.0.0.1", "[::1]"}
        if host in ("0.0.0.0", "::"):  # every interface: the names this machine answers to
            names |= _machine_names()
        self.allowed_hosts = {f"{n}:{self.port}" for n in names}

    @property
    def url(self) -> str:
        """The address of the page, token included."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}/?{urlencode({'token': self.token})}"

    def url_for(self, view: View) -> str:
        """The address of one view."""
        return self.url + "".join(f"&{k}={quote(v, safe='')}" for k, v in view.to_query())


class Handler(BaseHTTPRequestHandler):
    """Requests: the page, its two static files and ``/api/view``."""

    server: Server
    protocol_version = "HTTP/1.1"
    server_version = "bubbleup-explore"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing per request (the terminal shows the address and errors only)."""

    # -- responses -----------------------------------------------------------------------
    def _send(self, status: int, body: bytes, kind: str) -> None:
        try:
            self._write(status, body, kind)
        except (BrokenPipeError, ConnectionResetError):
            # the page gave up on this answer (a newer view superseded it): nothing to say
            self.close_connection = True

    def _write(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=True, allow_nan=False).encode()
        self._send(status, body, "application/json")

    def _refuse(self, status: HTTPStatus, message: str) -> None:
        self.close_connection = True
        self._json(status, {"error": message})

    # -- checks --------------------------------------------------------------------------
    def _allowed(self) -> bool:
        if len(self.path) > MAX_URL:
            self._refuse(HTTPStatus.REQUEST_URI_TOO_LONG, "address too long")
            return False
        host = self.headers.get("Host", "")
        if host not in self.server.allowed_hosts:
            self._refuse(HTTPStatus.FORBIDDEN, "unknown Host header")
            return False
        given = self.headers.get("X-Bubbleup-Token") or dict(
            parse_qsl(urlsplit(self.path).query)
        ).get("token", "")
        if not hmac.compare_digest(given.encode(), self.server.token.encode()):
            self._refuse(HTTPStatus.FORBIDDEN, "a valid token is required")
            return False
        return True

    # -- methods -------------------------------------------------------------------------
    def do_GET(self) -> None:
        """The page, a static file or the JSON of a view."""
        if not self._allowed():
            return
        parts = urlsplit(self.path)
        if parts.path == "/":
            page = PAGE.format(token=quote(self.server.token, safe=""))
            self._send(HTTPStatus.OK, page.encode(), "text/html; charset=utf-8")
        elif parts.path.startswith("/static/") and parts.path[8:] in STATIC:
            name = parts.path[8:]
            kind = f"{STATIC[name]}; charset=utf-8"
            self._send(HTTPStatus.OK, static_text(name).encode(), kind)
        elif parts.path in ("/api/view", "/api/heatmap"):
            query = parse_qsl(parts.query, keep_blank_values=True)
            self._view(lambda: View.from_query(query), heat_only=parts.path == "/api/heatmap")
        else:
            self._refuse(HTTPStatus.NOT_FOUND, "not found")

    def do_HEAD(self) -> None:
        """As GET, without the body."""
        self.do_GET()

    def do_POST(self) -> None:
        """``/api/view`` with the view as a JSON body."""
        if not self._allowed():
            return
        path = urlsplit(self.path).path
        if path not in ("/api/view", "/api/heatmap"):
            self._refuse(HTTPStatus.NOT_FOUND, "not found")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None or not length_text.isdigit():
            self._refuse(HTTPStatus.LENGTH_REQUIRED, "a Content-Length is required")
            return
        length = int(length_text)
        if length > MAX_BODY:
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY:,} bytes")
            return
        body = self.rfile.read(length)

        def parse() -> View:
            try:
                data = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                raise BubbleupError("the body is not JSON") from None
            return View.from_dict(data)

        self._view(parse, heat_only=path == "/api/heatmap")

    def _view(self, parse: Callable[[], View], *, heat_only: bool = False) -> None:
        explorer = self.server.explorer
        try:
            view = parse()
            answer = explorer.heatmap_view(view) if heat_only else payload(explorer.view(view))
        except SupersededError:
            self._json(HTTPStatus.CONFLICT, {"superseded": True})
            return
        except BubbleupError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc).splitlines()[0]})
            return
        self._json(HTTPStatus.OK, answer)


def _machine_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None)
    except OSError:
        infos = []
    for info in infos:
        address = str(info[4][0])
        names.add(f"[{address}]" if ":" in address else address)
    return names


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (``127.0.0.1``, ``::1``, ``localhost``).

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, False)
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(server: Server, *, ready: Callable[[Server], object] | None = None) -> None:
    """Serve until Ctrl-C (or ``server.shutdown()``), then close the socket."""
    if ready is not None:
        threading.Thread(target=ready, args=(server,), daemon=True).start()
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
