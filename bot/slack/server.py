"""A small threaded HTTP server for the Events API: ``POST /slack/events`` -> ``App.dispatch``.

Like Bolt's development server (``app.start``) but threaded, bound to a chosen address,
and with ``GET /healthz`` for load balancers. Request signatures are checked by the App
(Bolt's RequestVerification): a bad or missing signature, or a timestamp more than five
minutes old, gets 401 and nothing else happens.
"""
from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from slack_bolt import App, BoltRequest

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller
log = logging.getLogger(__name__)


def make_server(app: App, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's name
            log.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, body: str | dict = "", headers: dict | None = None) -> None:
            data = (body if isinstance(body, str) else json.dumps(body)).encode("utf-8")
            self.send_response(status)
            for name, values in (headers or {}).items():
                for value in values if isinstance(values, (list, tuple)) else [values]:
                    if name.lower() != "content-length":
                        self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path.partition("?")[0] == "/healthz":
                self._send(200, "ok", {"Content-Type": "text/plain"})
            else:
                self._send(404, "not found", {"Content-Type": "text/plain"})

        def do_POST(self) -> None:  # noqa: N802
            path, _, query = self.path.partition("?")
            length = int(self.headers.get("Content-Length") or 0)
            if path != EVENTS_PATH:
                self.rfile.read(min(length, MAX_BODY))
                self._send(404, "not found", {"Content-Type": "text/plain"})
                return
            if length > MAX_BODY:
                self.close_connection = True
                self._send(413, "too large", {"Content-Type": "text/plain"})
                return
            body = self.rfile.read(length).decode("utf-8")
            resp = app.dispatch(BoltRequest(body=body, query=query, headers=dict(self.headers.items())))
            self._send(resp.status, resp.body, resp.headers)

    server = _Server((host, port), Handler)
    server.daemon_threads = True
    return server


class _Server(ThreadingHTTPServer):
    # http.server listens with a backlog of 5: a burst of Slack deliveries would see refused or
    # retransmitted connections (a second or more). Each request is handled in its own thread
    # and acked within milliseconds; the slow work is bounded by the pools (limits.py).
    request_queue_size = 128
