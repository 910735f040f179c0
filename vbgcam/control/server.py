"""The local control server: the web page, and the JSON API behind it and ``vbgcam ctl``.

Every request is answered through the ``Controller`` protocol (``control_api.py``), so the
server never touches the pipeline. It is meant for the person at this computer only:

- it binds to a loopback address, never to the network;
- a request whose ``Host`` is not ``127.0.0.1:PORT`` or ``localhost:PORT`` is refused (403),
  so a web site that re-points its own name at 127.0.0.1 (DNS rebinding) gets nothing;
- a request with an ``Origin`` other than this server's is refused (403);
- every request but ``GET /`` (the page, which holds no secret) carries
  ``Authorization: Bearer TOKEN`` (none: 401, wrong: 403). The token is in a file only this
  user can read (``write_token_file``) and in the page's address after ``#``, which a
  browser never sends to a server.

Threads: ``start()`` runs the accept loop in ``vbgcam-control-PORT`` and each connection in a
``vbgcam-control-PORT-request-N`` thread, all daemons; ``close()`` ends the preview streams, stops
the loop, cuts open connections and joins every one of them.
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import ipaddress
import itertools
import json
import logging
import math
import os
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import cv2
import numpy as np

from vbgcam.control.api import Controller
from vbgcam.control.token import page_url
from vbgcam.errors import ConfigError, VbgcamError

log = logging.getLogger("vbgcam.control.server")

# An upload is one picture; 20 MB holds a 4K PNG with room to spare.
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_JSON_BYTES = 64 * 1024
# A refused body this small is read and dropped, so the client sees our 413 instead of a reset
# connection; anything larger is cut off.
MAX_DISCARD_BYTES = 64 * 1024 * 1024
PREVIEW_FPS = 10.0
THUMB_SIZE = (320, 180)
MAX_THUMB_SOURCE_BYTES = 64 * 1024 * 1024
THUMB_CACHE_ENTRIES = 64
# Requests are short; the preview stream writes at least every 100 ms.
SOCKET_TIMEOUT_S = 30.0
# How long serve_forever() may take to notice close(); also its idle wake-up period.
POLL_INTERVAL_S = 0.1
JOIN_TIMEOUT_S = 5.0
BOUNDARY = "vbgcamframe"


# --- the server -----------------------------------------------------------------------------


class _HttpError(Exception):
    """A request refused before it reaches the controller: an HTTP status and a message."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _without_nan(value: Any) -> Any:
    """NaN and infinities as null: a browser's JSON.parse rejects them (fps before a frame)."""
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _without_nan(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_nan(item) for item in value]
    return value


class _ThumbnailCache:
    """Small JPEGs of gallery pictures, keyed by path, size and modification time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[tuple[str, int, int], bytes] = (
            collections.OrderedDict()
        )

    def get(self, path: str) -> bytes:
        try:
            info = os.stat(path)
        except OSError as exc:
            raise _HttpError(404, f"cannot read {path}: {exc.strerror}") from exc
        key = (path, info.st_size, info.st_mtime_ns)
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        jpeg = self._make(path, info.st_size)
        with self._lock:
            self._entries[key] = jpeg
            while len(self._entries) > THUMB_CACHE_ENTRIES:
                self._entries.popitem(last=False)
        return jpeg

    @staticmethod
    def _make(path: str, size_bytes: int) -> bytes:
        if size_bytes > MAX_THUMB_SOURCE_BYTES:
            raise _HttpError(404, f"{path} is too large for a thumbnail")
        try:
            data = np.fromfile(path, np.uint8)
        except OSError as exc:
            raise _HttpError(404, f"cannot read {path}: {exc.strerror}") from exc
        # Half-size decoding: 2-4x faster for photos, and a thumbnail needs far less.
        image = cv2.imdecode(data, cv2.IMREAD_REDUCED_COLOR_2) if data.size else None
        if image is None:
            raise _HttpError(404, f"{path} is not a picture")
        height, width = image.shape[:2]
        scale = min(THUMB_SIZE[0] / width, THUMB_SIZE[1] / height, 1.0)
        if scale < 1.0:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
        if not ok:
            raise _HttpError(500, f"cannot encode a thumbnail of {path}")
        return encoded.tobytes()


def _load_page() -> bytes:
    return (resources.files("vbgcam.control") / "static" / "index.html").read_bytes()


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.version == 4 and address.is_loopback


class ControlServer:
    """Serves the page and the API for one ``Controller`` on ``host:port`` (loopback only).

    ``port=0`` takes any free port; after ``start()`` the bound one is in ``.port``. Use as a
    context manager or call ``close()``, which is idempotent and joins every thread.
    """

    def __init__(
        self, controller: Controller, port: int, token: str, host: str = "127.0.0.1"
    ) -> None:
        if not _is_loopback(host):
            raise ConfigError(
                f"the control server listens only on this computer (127.0.0.1), not on {host}"
            )
        if len(token) < 16:
            raise ValueError("the control token must be at least 16 characters (make_token())")
        self.controller = controller
        self.host = host
        self.port = port
        self.token = token
        self.page = _load_page()
        self.thumbnails = _ThumbnailCache()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._state = "new"  # new -> serving -> closed
        self._httpd: _HTTPServer | None = None
        self._serve_thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address with the token, to print at start."""
        return page_url(self.port, self.token)

    def start(self) -> None:
        """Bind and serve in daemon threads; a port in use is a ConfigError."""
        with self._lock:
            if self._state != "new":
                raise RuntimeError(f"ControlServer.start() on a server that is {self._state}")
            try:
                httpd = _HTTPServer((self.host, self.port), self)
            except OSError as exc:
                raise ConfigError(
                    f"cannot serve the control page on {self.host}:{self.port}: {exc.strerror} "
                    "(is another vbgcam running? set another port with [control] port)"
                ) from exc
            self._httpd = httpd
            self.port = int(httpd.server_address[1])
            self._serve_thread = threading.Thread(
                target=httpd.serve_forever,
                kwargs={"poll_interval": POLL_INTERVAL_S},
                name=f"vbgcam-control-{self.port}",
                daemon=True,
            )
            self._serve_thread.start()
            self._state = "serving"
        log.debug("control server on http://%s:%d/", self.host, self.port)

    def close(self) -> None:
        """End the preview streams, stop serving, and join every thread; idempotent."""
        with self._lock:
            if self._state == "closed":
                return
            self._state = "closed"
            httpd, serve_thread = self._httpd, self._serve_thread
        self.stopping.set()
        if httpd is None or serve_thread is None:
            return
        httpd.shutdown()
        httpd.server_close()
        httpd.end_connections()
        serve_thread.join()

    def __enter__(self) -> ControlServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer whose connection threads are named and can be cut and joined."""

    daemon_threads = True
    block_on_close = False  # close() joins the threads itself, after cutting their sockets

    def __init__(self, address: tuple[str, int], control: ControlServer) -> None:
        self.control = control
        self._numbers = itertools.count(1)
        self._connections_lock = threading.Lock()
        self._connections: dict[threading.Thread, socket.socket] = {}
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the address up in DNS (getfqdn), which can stall for
        # seconds on a machine with no network; a loopback server has no use for the name.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = str(self.server_address[0]), self.server_address[1]

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name=f"vbgcam-control-{self.server_address[1]}-request-{next(self._numbers)}",
            daemon=True,
        )
        with self._connections_lock:
            self._connections[thread] = request
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.pop(threading.current_thread(), None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("control: connection from %s failed", client_address, exc_info=True)

    def end_connections(self) -> None:
        """Wake every connection still reading (it sees the end of its request) and join it;
        one still blocked after that (a client that stopped reading a stream) is cut."""
        with self._connections_lock:
            open_now = list(self._connections.items())
        for how in (socket.SHUT_RD, socket.SHUT_RDWR):
            for _, connection in open_now:
                with contextlib.suppress(OSError):  # already closed by its own thread
                    connection.shutdown(how)
            deadline_s = time.monotonic() + JOIN_TIMEOUT_S / 2
            for thread, _ in open_now:
                thread.join(max(0.0, deadline_s - time.monotonic()))
            open_now = [(thread, c) for thread, c in open_now if thread.is_alive()]
        for thread, _ in open_now:
            log.warning("control: %s did not end within %.0f s", thread.name, JOIN_TIMEOUT_S)


class _Handler(BaseHTTPRequestHandler):
    """One connection: checks Host, Origin and token, then runs the route's function."""

    server: _HTTPServer
    server_version = "vbgcam-control"
    sys_version = ""
    protocol_version = "HTTP/1.0"  # one request per connection; the stream ends with it
    timeout = SOCKET_TIMEOUT_S

    responded = False

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path  # never the query: it may hold a file name
        log.debug("control: %s %s -> %s", self.command, path, code)

    def log_error(self, format: str, *args: Any) -> None:
        pass  # the status line logged by log_request says enough

    def _dispatch(self) -> None:
        control = self.server.control
        url = urlsplit(self.path)
        try:
            self._check_access(control, url.path)
            methods = ROUTES.get(url.path)
            if methods is None:
                raise _HttpError(404, f"no such address: {url.path}")
            route = methods.get(self.command)
            if route is None:
                allowed = ", ".join(sorted(methods))
                raise _HttpError(
                    405, f"{self.command} is not allowed here; use {allowed}", {"Allow": allowed}
                )
            route(self, control, parse_qs(url.query))
        except VbgcamError as exc:
            self._send_error(400, f"{type(exc).__name__}: {exc}")
        except _HttpError as exc:
            self._send_error(exc.status, exc.message, exc.headers)
        except (ConnectionError, TimeoutError):
            log.debug("control: %s %s: client went away", self.command, url.path)
            self.close_connection = True
        except Exception:
            log.exception("control: %s %s failed", self.command, url.path)
            self._send_error(500, "internal error in vbgcam; see its log")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

    def _check_access(self, control: ControlServer, path: str) -> None:
        port = control.port
        hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"{control.host}:{port}"}
        if self.headers.get("Host", "").lower() not in hosts:
            raise _HttpError(403, f"wrong Host; open the page at http://127.0.0.1:{port}/")
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in {f"http://{host}" for host in hosts}:
            raise _HttpError(403, f"requests from {origin} are not allowed")
        if path == "/" and self.command == "GET":
            return  # the page itself; it holds no secret
        header = self.headers.get("Authorization")
        if header is None:
            raise _HttpError(
                401,
                "missing token; open the address vbgcam printed at start (vbgcam ctl url)",
                {"WWW-Authenticate": 'Bearer realm="vbgcam"'},
            )
        scheme, _, given = header.partition(" ")
        expected = control.token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode("utf-8", "replace"), expected
        ):
            raise _HttpError(403, "wrong token; is this the address of the running vbgcam?")

    # --- reading and writing ---

    def read_body(self, limit: int, required: bool = False) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            raise _HttpError(411, "send the body with a Content-Length, not chunked")
        text = self.headers.get("Content-Length")
        if text is None:
            if required:
                raise _HttpError(411, "a Content-Length is required")
            return b""
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            raise _HttpError(400, f"bad Content-Length {text!r}")
        if length > limit:
            self._discard(length)
            raise _HttpError(413, f"the body is {length} bytes; at most {limit} are accepted")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _HttpError(400, "the body is shorter than its Content-Length")
        return body

    def _discard(self, length: int) -> None:
        if length > MAX_DISCARD_BYTES:
            self.close_connection = True
            return
        while length > 0:
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                break
            length -= len(chunk)

    def read_json_object(self) -> dict[str, Any]:
        body = self.read_body(MAX_JSON_BYTES)
        try:
            value = json.loads(body)
        # ValueError also covers a number of over 4300 digits; RecursionError, deep nesting.
        except (ValueError, RecursionError) as exc:
            raise _HttpError(400, f"malformed JSON in the body: {exc}") from exc
        if not isinstance(value, dict):
            raise _HttpError(400, "expected a JSON object in the body")
        return value

    def send_bytes(
        self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.responded = True
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        try:
            text = json.dumps(value, default=_jsonable, allow_nan=False)
        except ValueError:
            text = json.dumps(_without_nan(value), default=_jsonable, allow_nan=False)
        body = text.encode()
        self.send_bytes(status, body, "application/json; charset=utf-8", headers)

    def _send_error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        if self.responded:  # the headers are out (a stream); all we can do is end it
            self.close_connection = True
            return
        try:
            self.send_json(status, {"error": message}, headers)
        except (ConnectionError, TimeoutError):
            self.close_connection = True


# --- routes: each takes the request, the server and the query, and answers ------------------

Query = dict[str, list[str]]
Route = Callable[[_Handler, ControlServer, Query], None]

OK = {"ok": True}
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; "
    "style-src 'unsafe-inline'; img-src 'self' blob: data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _page(request: _Handler, control: ControlServer, query: Query) -> None:
    request.send_bytes(200, control.page, "text/html; charset=utf-8", PAGE_HEADERS)


def _status(request: _Handler, control: ControlServer, query: Query) -> None:
    request.send_json(200, control.controller.status())


def _set_background(request: _Handler, control: ControlServer, query: Query) -> None:
    spec = request.read_json_object()
    control.controller.set_background(spec)
    request.send_json(200, OK)


def _upload_background(request: _Handler, control: ControlServer, query: Query) -> None:
    data = request.read_body(MAX_UPLOAD_BYTES, required=True)
    kept = control.controller.upload_background(data)
    request.send_json(200, {"ok": True, "path": str(kept)})


def _next_background(request: _Handler, control: ControlServer, query: Query) -> None:
    request.read_body(MAX_JSON_BYTES)
    control.controller.next_background()
    request.send_json(200, OK)


def _gallery(request: _Handler, control: ControlServer, query: Query) -> None:
    request.send_json(200, {"paths": [str(path) for path in control.controller.gallery()]})


def _thumbnail(request: _Handler, control: ControlServer, query: Query) -> None:
    paths = query.get("path", [])
    if len(paths) != 1:
        raise _HttpError(400, "give one picture as ?path=")
    # Only what the gallery lists: the token must not open every file of the user's.
    if paths[0] not in {str(path) for path in control.controller.gallery()}:
        raise _HttpError(404, f"{paths[0]} is not in the gallery")
    request.send_bytes(200, control.thumbnails.get(paths[0]), "image/jpeg")


def _update_settings(request: _Handler, control: ControlServer, query: Query) -> None:
    changes = request.read_json_object()
    control.controller.update_settings(changes)
    request.send_json(200, OK)


def _pause(request: _Handler, control: ControlServer, query: Query) -> None:
    request.read_body(MAX_JSON_BYTES)
    control.controller.pause()
    request.send_json(200, OK)


def _resume(request: _Handler, control: ControlServer, query: Query) -> None:
    request.read_body(MAX_JSON_BYTES)
    control.controller.resume()
    request.send_json(200, OK)


def _preview_frame(request: _Handler, control: ControlServer, query: Query) -> None:
    jpeg = control.controller.preview_jpeg()
    if jpeg is None:
        raise _HttpError(503, "no picture yet", {"Retry-After": "1"})
    request.send_bytes(200, jpeg, "image/jpeg")


def _preview_stream(request: _Handler, control: ControlServer, query: Query) -> None:
    """multipart/x-mixed-replace JPEGs, each part with its Content-Length, at most 10 per
    second and only new ones; it ends when the client leaves or the server closes."""
    request.send_response(200)
    request.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
    request.send_header("Cache-Control", "no-store")
    request.send_header("X-Content-Type-Options", "nosniff")
    request.end_headers()
    request.responded = True
    request.close_connection = True
    period_s = 1.0 / PREVIEW_FPS
    due = time.monotonic()
    sent: bytes | None = None
    while not control.stopping.is_set():
        jpeg = control.controller.preview_jpeg()
        # Identity, not equality: a controller hands out the same object until a new frame.
        if jpeg is not None and jpeg is not sent:
            head = (
                f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
            ).encode()
            request.wfile.write(head + jpeg + b"\r\n")
            sent = jpeg
        due += period_s
        now = time.monotonic()
        if due < now:  # fell behind (a slow client): carry on from now, no burst
            due = now
        control.stopping.wait(due - now)
    request.wfile.write(f"--{BOUNDARY}--\r\n".encode())


ROUTES: dict[str, dict[str, Route]] = {
    "/": {"GET": _page},
    "/api/status": {"GET": _status},
    "/api/background": {"POST": _set_background},
    "/api/background/upload": {"POST": _upload_background},
    "/api/background/next": {"POST": _next_background},
    "/api/gallery": {"GET": _gallery},
    "/api/gallery/thumb": {"GET": _thumbnail},
    "/api/settings": {"POST": _update_settings},
    "/api/pause": {"POST": _pause},
    "/api/resume": {"POST": _resume},
    "/preview.jpg": {"GET": _preview_frame},
    "/preview.mjpg": {"GET": _preview_stream},
}
