"""Slack without Slack: a real local HTTP server that plays Slack's Web API and records
every call, signed requests to the app, and a fake answer function.

Modelled on bolt-python's tests/mock_web_api_server: a ``http.server`` in a thread on
127.0.0.1 (a random port), answering ``/api/<method>`` like Slack does.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from retrieval.types import Answer, Citation, Passage

BOT_USER = "UBOT"
BOT_ID = "BBOT"
TEAM = "T0001"
BOT_TOKEN = "xoxb-test"  # what the bot fixture's WebClient sends
SIGNING_SECRET = "test-secret"  # what SlackSender signs with in the bot fixture


@dataclass
class Call:
    method: str  # "chat.postMessage", or "response_url" for posts to a response_url
    body: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)  # when the call arrived
    status: int = 200  # the HTTP status the fake answered with (see MockSlackAPI.fail)
    response: Any = None  # what the fake answered (for 200s)


@dataclass
class Fault:
    """The HTTP error a method answers with for its next ``times`` calls."""

    status: int  # 429, 500, 503...
    times: int
    retry_after: int | None = None  # seconds, for 429


class MockSlackAPI:
    """Slack's Web API on 127.0.0.1. ``url`` is the base URL for ``WebClient(base_url=...)``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.replies: dict[tuple[str, str], list[dict]] = {}  # (channel, thread_ts) -> messages
        self.errors: dict[str, str] = {}  # method -> Slack error code to answer with
        self.faults: dict[str, Fault] = {}  # method -> HTTP error for its next calls (see fail)
        self._ts = 0
        self._lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = (payload if isinstance(payload, str) else json.dumps(payload)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8"
                                 if not isinstance(payload, str) else "text/plain")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self) -> None:
                parsed = urllib.parse.urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                body: dict[str, Any] = {k: v[0] for k, v in urllib.parse.parse_qs(parsed.query).items()}
                if raw.startswith("{"):
                    body.update(json.loads(raw))
                elif raw:
                    body.update({k: v[0] for k, v in urllib.parse.parse_qs(raw).items()})
                if isinstance(body.get("blocks"), str):
                    body["blocks"] = json.loads(body["blocks"])
                headers = {k.lower(): v for k, v in self.headers.items()}
                if parsed.path.startswith("/response/"):
                    api._record(Call("response_url", body, headers))
                    self._reply(200, "ok")
                    return
                method = parsed.path.rsplit("/", 1)[-1]
                fault = api._take_fault(method)
                if fault is not None:
                    api._record(Call(method, body, headers, status=fault.status))
                    if fault.status == 429:
                        extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                        self._reply(429, {"ok": False, "error": "ratelimited"}, extra)
                    else:  # Slack's 5xx pages are not JSON
                        self._reply(fault.status, f"<html>{fault.status} Server Error</html>")
                    return
                call = Call(method, body, headers)
                call.response = api.answer(method, body, headers)
                api._record(call)
                self._reply(200, call.response)

            do_GET = do_POST = _handle

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # bursts of connections are not refused

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/api/"
        self.response_url = f"http://127.0.0.1:{self.port}/response/"
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # ------------------------------------------------------------------ server
    def start(self) -> "MockSlackAPI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, status: int, times: int = 1, retry_after: int | None = None) -> None:
        """The next ``times`` calls of ``method`` get HTTP ``status`` (429: with Retry-After)."""
        with self._lock:
            self.faults[method] = Fault(status, times, retry_after)

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            fault = self.faults.get(method)
            if fault is None or fault.times <= 0:
                return None
            fault.times -= 1
            return fault

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def _next_ts(self) -> str:
        with self._lock:
            self._ts += 1
            return f"1700000000.{self._ts:06d}"

    def answer(self, method: str, body: dict, headers: dict) -> dict:
        token = headers.get("authorization", "")
        if not token.startswith("Bearer xox") or token.endswith("invalid"):
            return {"ok": False, "error": "invalid_auth"}
        if method in self.errors:
            return {"ok": False, "error": self.errors[method]}
        if method == "auth.test":
            return {"ok": True, "url": "https://example.slack.com/", "team": "Newsroom", "user": "newsdesk",
                    "team_id": TEAM, "user_id": BOT_USER, "bot_id": BOT_ID}
        if method == "chat.postMessage":
            ts = self._next_ts()
            return {"ok": True, "channel": body.get("channel"), "ts": ts,
                    "message": {"text": body.get("text"), "user": BOT_USER, "bot_id": BOT_ID, "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": body.get("channel"), "ts": body.get("ts"), "text": body.get("text")}
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "conversations.replies":
            return {"ok": True, "has_more": False,
                    "messages": self.replies.get((body.get("channel"), body.get("ts")), [])}
        if method == "apps.connections.open":
            return {"ok": False, "error": "invalid_auth"}
        return {"ok": True}

    # ------------------------------------------------------------------ asserts
    def methods(self) -> list[str]:
        with self._lock:
            return [c.method for c in self.calls]

    def of(self, method: str, ok_only: bool = False) -> list[Call]:
        """The calls of ``method`` in order of arrival (``ok_only``: only those answered 200)."""
        with self._lock:
            return [c for c in self.calls if c.method == method and (c.status == 200 or not ok_only)]

    def wait_for(self, method: str, count: int = 1, timeout: float = 10.0, ok_only: bool = False) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(method, ok_only)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"expected {count} {method} call(s) within {timeout}s; got {self.methods()}")


# ---------------------------------------------------------------------- requests to the app
def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """Slack's request signing: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), f"v0:{ts}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": f"v0={digest}"}


@dataclass
class Reply:
    status: int
    body: str
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SlackSender:
    """Posts signed requests to the app, as Slack would."""

    url: str  # http://127.0.0.1:PORT/slack/events
    secret: str
    _n: int = field(default=0)

    def post(self, body: str, content_type: str, headers: dict[str, str] | None = None,
             signed: bool = True, timestamp: int | None = None) -> Reply:
        all_headers = {"Content-Type": content_type, **(sign(self.secret, body, timestamp) if signed else {}),
                       **(headers or {})}
        request = urllib.request.Request(self.url, data=body.encode(), headers=all_headers, method="POST")
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return Reply(resp.status, resp.read().decode(), time.monotonic() - started)
        except urllib.error.HTTPError as err:
            return Reply(err.code, err.read().decode(), time.monotonic() - started)

    def event(self, event: dict, event_id: str | None = None, headers: dict[str, str] | None = None,
              **kwargs) -> Reply:
        self._n += 1
        body = {"token": "unused", "team_id": TEAM, "api_app_id": "A0001", "type": "event_callback",
                "event": event, "event_id": event_id or f"Ev{self._n:04d}", "event_time": int(time.time()),
                "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}]}
        return self.post(json.dumps(body), "application/json", headers, **kwargs)

    def command(self, text: str, response_url: str, channel: str = "C0001", user: str = "U0001") -> Reply:
        form = {"token": "unused", "team_id": TEAM, "channel_id": channel, "user_id": user,
                "command": "/newsdesk", "text": text, "response_url": response_url, "trigger_id": "1.2.3"}
        return self.post(urllib.parse.urlencode(form), "application/x-www-form-urlencoded")

    def action(self, payload: dict) -> Reply:
        return self.post(urllib.parse.urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded")


def mention(text: str, ts: str, channel: str = "C0001", user: str = "U0001", thread_ts: str | None = None,
            **extra) -> dict:
    event = {"type": "app_mention", "user": user, "text": text, "ts": ts, "channel": channel, "event_ts": ts}
    if thread_ts:
        event["thread_ts"] = thread_ts
    return {**event, **extra}


def dm(text: str, ts: str, channel: str = "D0001", user: str = "U0001", **extra) -> dict:
    return {"type": "message", "channel_type": "im", "user": user, "text": text, "ts": ts, "channel": channel,
            "event_ts": ts, **extra}


# ---------------------------------------------------------------------- the answer function
def cited_answer(question: str = "How long were US diplomats given to leave Venezuela?") -> Answer:
    return Answer(
        question=question, standalone_question=question,
        answer="Maduro gave the U.S. delegation 72 hours to leave [1].",
        short_answer="72 hours", abstained=False, backend="local",
        citations=[Citation(id=1, source="000_d11bcdd6ba81869e.txt",
                            title="Maduro breaks diplomatic relations with US", start=120, end=200,
                            quote="giving the U.S. delegation 72 hours to quit the country")],
        passages=[Passage(source="000_d11bcdd6ba81869e.txt", title="Maduro breaks diplomatic relations with US",
                          start=100, end=300, text="giving the U.S. delegation 72 hours to quit", score=0.9)])


def abstained_answer(question: str = "Who won the 1950 World Cup?") -> Answer:
    return Answer(
        question=question, standalone_question=question,
        answer=f"The articles don't say. Nothing in them answers “{question.rstrip('?')}?”. "
               "The closest passages are listed below.",
        short_answer=None, abstained=True, backend="local", notes=["weak match (similarity 0.21)"],
        passages=[Passage(source="003_747ea242d0380afb.txt", title="Football results", start=0, end=80,
                          text="The match ended in a draw after extra time.", score=0.2),
                  Passage(source="004_29819ce6b5f17083.txt", title="Sports roundup", start=10, end=90,
                          text="Fans gathered outside the stadium.", score=0.1)])


class FakeAnswer:
    """Records (question, history) calls; returns ``make(question)``; can hold until released,
    or take ``delay`` seconds like a real pipeline."""

    def __init__(self, make: Callable[[str], Answer] = cited_answer, delay: float = 0.0):
        self.make = make
        self.delay = delay
        self.calls: list[tuple[str, list[tuple[str, str]]]] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, question: str, history: list[tuple[str, str]]) -> Answer:
        self.calls.append((question, list(history)))
        self.started.set()
        if not self.release.wait(timeout=10):
            raise TimeoutError("the test never released the fake answer function")
        if self.delay:
            time.sleep(self.delay)
        return self.make(question)
