"""The client side of ``newsdesk serve``: the same ``ask`` as ``Pipeline``, answered over HTTP.

``get_pipeline`` returns a ``RemotePipeline`` when ``NEWSDESK_SERVER_URL`` is set, so `ask`,
`chat`, `eval` and `slack` need no change to use a server. Only the standard library is
imported here: a client process starts in a fraction of a second and loads no model.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Sequence

from retrieval.errors import NewsdeskError
from retrieval.types import Answer


class ServerError(NewsdeskError):
    """The server is down, refused the request, or answered with an error."""


class RemotePipeline:
    def __init__(self, url: str, timeout: float = 300.0, api_key: str | None = None):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.api_key = os.environ.get("NEWSDESK_API_KEY", "").strip() if api_key is None else api_key
        health = self.info()  # fail now, with the URL in the message, rather than on the first question
        self.backend = str(health.get("backend", ""))
        self.root = Path(health.get("index", {}).get("corpus_root", "."))

    def _call(self, method: str, path: str, body: dict | None = None, timeout: float | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode("utf-8")
        request = urllib.request.Request(self.url + path, data=data, method=method)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.api_key:
            request.add_header("Authorization", f"Bearer {self.api_key}")
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:
                return json.loads(response.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            raise ServerError(f"The newsdesk server at {self.url} (NEWSDESK_SERVER_URL) answered {exc.code}: "
                              f"{_message(exc)}{_hint(exc.code)}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ServerError(f"The newsdesk server at {self.url} (NEWSDESK_SERVER_URL) is not reachable "
                              f"({reason}); start it with `newsdesk serve`, or unset NEWSDESK_SERVER_URL to "
                              "answer in-process.") from None

    def info(self) -> dict:
        """The server's ``GET /v1/health``: index, backend, model, queue."""
        return self._call("GET", "/v1/health", timeout=min(self.timeout, 10.0))

    def count(self) -> int:
        return int(self.info().get("index", {}).get("chunks", 0))

    def ask(self, question: str, history: Sequence[Sequence[str]] = ()) -> Answer:
        turns = [[str(t[0]), str(t[1])] for t in history]
        return Answer.from_json(self._call("POST", "/v1/ask", {"question": question, "history": turns}))


def _message(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode("utf-8"))
        error = body.get("error", body)
        return str(error.get("message") or error.get("detail") or body) if isinstance(error, dict) else str(error)
    except (ValueError, OSError, AttributeError):
        return exc.reason or "no message"


def _hint(code: int) -> str:
    if code == 401:
        return " (set NEWSDESK_API_KEY to the server's key)"
    if code == 503:
        return " (the server is busy; try again shortly)"
    return ""
