"""`newsdesk serve`: one warm newsdesk over HTTP (FastAPI on uvicorn), shared by every client.

    POST /v1/ask               {"question", "history"} -> the `newsdesk ask --json` object
    POST /v1/chat/completions  OpenAI's shape (``stream`` for server-sent events); the reply is the
                               cited answer with its sources, and ``newsdesk`` carries the Answer
    GET  /v1/models            the one model, "newsdesk" (what OpenAI clients and chat UIs list)
    GET  /v1/health            index, backend, model, queue
    POST /v1/ingest            re-index the server's corpus folder (off unless started with --allow-ingest)
    GET  /docs                 the generated OpenAPI page

Questions are answered one at a time by a single worker thread (the model is CPU-bound);
at most ``queue`` more wait, and the rest get 503 with ``Retry-After``. Every accepted request
gets exactly one response. Errors are JSON ``{"error": {"message", "type", "code"}}``, never a
traceback.
"""
from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Literal, Optional, Union

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from retrieval.errors import NewsdeskError
from retrieval.question import EmptyQuestion

log = logging.getLogger("newsdesk.serve")

MODEL_ID = "newsdesk"
MAX_HISTORY_TURNS = 20  # earlier turns a request may carry (only the last two are read)
MAX_ANSWER_CHARS = 8000  # per earlier answer in the history
MAX_BODY_BYTES = 1_000_000


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", headers=None):
        super().__init__(message)
        self.status, self.message, self.kind, self.headers = status, message, kind, headers or {}


def _error(status: int, message: str, kind: str = "invalid_request_error", headers=None) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status, headers=headers)


# ---------------------------------------------------------------------- request bodies
class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"question": "How old is he?", "history": [["Which Oil Ministry employee was quoted at the march?",
                                                    "Javier Terán"]]}]})
    question: str = Field(description="The question (at most NEWSDESK_MAX_QUESTION_CHARS characters).")
    history: list[list[str]] = Field(default_factory=list, description=(
        f"Earlier turns, oldest first, as [question, answer] pairs (at most {MAX_HISTORY_TURNS})."))


class CitationOut(BaseModel):
    id: int
    source: str = Field(description="File, relative to the corpus folder.")
    title: str
    start: int = Field(description="Character offset of the quote in the article's text.")
    end: int
    quote: str = Field(description="Exactly the article's text from start to end.")


class PassageOut(BaseModel):
    source: str
    title: str
    start: int
    end: int
    score: float
    text: str


class AnswerOut(BaseModel):
    """The `newsdesk ask --json` object."""
    question: str
    standalone_question: str = Field(description="The question with a follow-up's references resolved.")
    answer: str = Field(description="The answer with [n] markers, or the abstention message.")
    short_answer: Optional[str]
    abstained: bool
    citations: list[CitationOut]
    passages: list[PassageOut] = Field(description="What retrieval found (the closest passages on abstention).")
    timings_ms: dict[str, float]
    backend: str
    notes: list[str]
    confidence: float = Field(description="The judge's P(yes) for the best evidence.")


class ErrorBody(BaseModel):
    message: str
    type: str
    code: int


class ErrorOut(BaseModel):
    error: ErrorBody


ERRORS = {code: {"model": ErrorOut, "description": what} for code, what in (
    (400, "The body is not JSON"), (401, "Missing or wrong API key (when NEWSDESK_API_KEY is set)"),
    (413, "Body too large"), (422, "A field is missing, of the wrong type, empty or too long"),
    (503, "The queue is full (see Retry-After), or the index's store is unreachable"))}


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: Union[str, list[TextPart], None] = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(p.text for p in self.content)
        return self.content or ""


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens, ...: accepted and ignored
    model: str = MODEL_ID
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class IngestRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")  # no path can be named: the server's corpus folder only
    rebuild: bool = False


# ---------------------------------------------------------------------- the one worker
class Worker:
    """Runs jobs one at a time; admits at most ``1 + queue`` jobs at once."""

    def __init__(self, queue: int):
        self.limit = queue + 1
        self.pending = 0
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsdesk-worker")
        self._mean_s = 3.0

    def submit(self, job: Callable[[], Any]) -> Future:
        with self._lock:
            if self.pending >= self.limit:
                wait = max(1, math.ceil(self.pending * self._mean_s))
                raise ApiError(503, f"The server is busy: {self.pending} questions are being answered or waiting "
                               f"(limit {self.limit}, NEWSDESK_SERVER_QUEUE). Retry in about {wait} s.",
                               "server_busy", {"Retry-After": str(wait)})
            self.pending += 1

        def run():
            started = time.perf_counter()
            try:
                return job()
            finally:
                with self._lock:
                    self.pending -= 1
                    self._mean_s = 0.8 * self._mean_s + 0.2 * (time.perf_counter() - started)

        return self._pool.submit(run)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


# ---------------------------------------------------------------------- helpers
def _question(text: str, limit: int) -> str:
    if not text.strip():
        raise ApiError(422, "question is empty: ask something about the articles.")
    if len(text) > limit:
        raise ApiError(422, f"question is {len(text):,} characters long; the limit is {limit:,} "
                       "(NEWSDESK_MAX_QUESTION_CHARS).")
    return text


def _history(turns: list[list[str]], limit: int) -> list[list[str]]:
    if len(turns) > MAX_HISTORY_TURNS:
        raise ApiError(422, f"history has {len(turns)} turns; at most {MAX_HISTORY_TURNS} are accepted "
                       "(only the last two are read).")
    for i, turn in enumerate(turns):
        if len(turn) != 2:
            raise ApiError(422, f"history[{i}] has {len(turn)} items; each turn is [question, answer].")
        if len(turn[0]) > limit or len(turn[1]) > MAX_ANSWER_CHARS:
            raise ApiError(422, f"history[{i}] is too long: questions up to {limit:,} characters, answers up "
                           f"to {MAX_ANSWER_CHARS:,}.")
    return turns


def chat_text(answer: dict) -> str:
    """The assistant message for an Answer: the cited answer, then its sources (or the closest passages)."""
    lines = [answer["answer"]]
    if answer["citations"]:
        lines += ["", "Sources:"] + [f"[{c['id']}] {c['title']} ({c['source']}, chars {c['start']}-{c['end']}): "
                                     f"“{c['quote']}”" for c in answer["citations"]]
    elif answer["abstained"] and answer["passages"]:
        lines += ["", "Closest passages:"] + [f"{i}. {p['title']} ({p['source']}, chars {p['start']}-{p['end']}): "
                                              f"{' '.join(p['text'].split())[:240]}"
                                              for i, p in enumerate(answer["passages"][:3], 1)]
    return "\n".join(lines)


def _strip_sources(text: str) -> str:
    for marker in ("\n\nSources:\n", "\n\nClosest passages:\n"):
        text = text.split(marker, 1)[0]
    return text


def chat_turns(messages: list[ChatMessage], limit: int) -> tuple[str, list[list[str]]]:
    """(question, history) from OpenAI messages: the last user message is the question; earlier
    user messages, each with the assistant reply that follows it, are the history."""
    talk = [m for m in messages if m.role in ("user", "assistant")]
    if not talk or talk[-1].role != "user":
        raise ApiError(422, "messages must end with a user message: the question.")
    history, pending = [], None
    for m in talk[:-1]:
        if m.role == "user":
            pending = m.text()
        elif pending is not None:
            history.append([pending, _strip_sources(m.text())])
            pending = None
    return _question(talk[-1].text(), limit), _history(history[-MAX_HISTORY_TURNS:], limit)


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "The body is not valid JSON: send a JSON object, e.g. {\"question\": \"Who is Juan Guaido?\"}."
    if any(tuple(e.get("loc", ())) == ("body",) for e in errors):
        return 422, ("The body must be a JSON object (Content-Type: application/json), e.g. "
                     "{\"question\": \"Who is Juan Guaido?\"}.")
    parts = []
    for e in errors[:5]:
        where = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{where}: {e.get('msg', 'invalid')}")
    return 422, "; ".join(parts)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# ---------------------------------------------------------------------- the app
class Service:
    """The state behind the app: the pipeline (rebuilt after an ingest), the worker, the settings."""

    def __init__(self, load: Callable[[], Any], *, max_question_chars: int, queue: int,
                 ingest: Optional[Callable[[bool], dict]] = None):
        self._load = load
        self.pipeline = None
        self.max_question_chars = max_question_chars
        self.worker = Worker(queue)
        self.ingest = ingest
        self.started = time.time()

    def start(self) -> None:
        if self.pipeline is None:
            self.pipeline = self._load()

    def answer(self, question: str, history: list[list[str]]) -> Future:
        return self.worker.submit(lambda: self.pipeline.ask(question, history).to_json())

    def reindex(self, rebuild: bool) -> Future:
        def job():
            counts = self.ingest(rebuild)
            self.pipeline = self._load()  # new keyword index and store; models are cached
            return counts

        return self.worker.submit(job)


def create_app(service: Service, api_key: str = "") -> FastAPI:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await asyncio.get_running_loop().run_in_executor(None, service.start)
        yield
        service.worker.shutdown()

    from fastapi_offline import FastAPIOffline  # /docs with Swagger UI served from the package, not a CDN

    app = FastAPIOffline(title="newsdesk", version=_version(), lifespan=lifespan, description=(
        "Answers questions from a folder of news articles, citing the exact passages it used, and says so when "
        "the articles do not hold the answer. `/v1/chat/completions` speaks OpenAI's chat API, so any OpenAI "
        "client can use newsdesk as a model. See README 'HTTP API'."))

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if api_key:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return _error(401, "Missing or wrong API key: send 'Authorization: Bearer <NEWSDESK_API_KEY>'.",
                              "authentication_error", {"WWW-Authenticate": "Bearer"})
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > MAX_BODY_BYTES:
            return _error(413, f"The body is {int(size):,} bytes; at most {MAX_BODY_BYTES:,} are accepted.")
        return await call_next(request)

    @app.exception_handler(ApiError)
    async def api_error(_: Request, exc: ApiError):
        return _error(exc.status, exc.message, exc.kind, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError):
        return _error(*_validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        message = {404: f"No such endpoint: {request.method} {request.url.path}. The API is listed at /docs.",
                   405: f"{request.url.path} does not take {request.method}. The API is listed at /docs."}
        return _error(exc.status_code, message.get(exc.status_code, str(exc.detail)),
                      "not_found" if exc.status_code == 404 else "invalid_request_error")

    @app.exception_handler(Exception)
    async def crashed(_: Request, exc: Exception):
        log.exception("request failed")
        return _error(500, f"The server failed to answer ({type(exc).__name__}); the server log has the details.",
                      "server_error")

    async def run(future: Future) -> Any:
        try:
            return await asyncio.wrap_future(future)
        except EmptyQuestion as exc:
            raise ApiError(422, str(exc)) from None
        except NewsdeskError as exc:  # e.g. the Chroma server went away: say so, the server carries on
            raise ApiError(503, str(exc), "server_error", {"Retry-After": "5"}) from None

    @app.post("/v1/ask", summary="Answer a question (the `newsdesk ask --json` object)", response_model=AnswerOut,
              responses=ERRORS)
    async def ask(body: AskRequest) -> dict:
        limit = service.max_question_chars
        return await run(service.answer(_question(body.question, limit), _history(body.history, limit)))

    @app.post("/v1/chat/completions", summary="OpenAI-compatible chat: the cited answer as the assistant message",
              responses=ERRORS)
    async def chat(body: ChatRequest):
        question, history = chat_turns(body.messages, service.max_question_chars)
        future = service.answer(question, history)
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if not body.stream:
            answer = await run(future)
            return {"id": ident, "object": "chat.completion", "created": created, "model": MODEL_ID,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": chat_text(answer)}}],
                    "newsdesk": answer}
        return StreamingResponse(_events(run(future), ident, created), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.get("/v1/models", summary="The one model this server offers")
    async def models() -> dict:
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": int(service.started),
                                            "owned_by": "newsdesk"}]}

    @app.get("/v1/health", summary="Index, backend, model and queue")
    async def health() -> dict:
        info = await asyncio.get_running_loop().run_in_executor(None, service.pipeline.info)
        return {"status": "ok", "version": _version(), **info,
                "queue": {"active_or_waiting": service.worker.pending, "limit": service.worker.limit},
                "ingest_enabled": service.ingest is not None}

    @app.post("/v1/ingest", summary="Re-index the corpus folder the server was started with",
              responses={**ERRORS, 403: {"model": ErrorOut, "description": "Started without --allow-ingest"}})
    async def ingest(body: Optional[IngestRequest] = None) -> dict:
        if service.ingest is None:
            raise ApiError(403, "Ingest over HTTP is off: start the server with `newsdesk serve --allow-ingest`.",
                           "permission_error")
        return await run(service.reindex(bool(body and body.rebuild)))

    return app


async def _events(answer_coro, ident: str, created: int):
    def event(delta: dict, finish: Optional[str] = None, **extra) -> str:
        chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"

    yield event({"role": "assistant", "content": ""})
    try:
        answer = await answer_coro
    except ApiError as exc:
        yield f"data: {json.dumps({'error': {'message': exc.message, 'type': exc.kind, 'code': exc.status}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    for line in chat_text(answer).splitlines(keepends=True):
        yield event({"content": line})
    yield event({}, "stop", newsdesk=answer)
    yield "data: [DONE]\n\n"


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("newsdesk")
    except PackageNotFoundError:
        return "0"


def serve(host: str, port: int, corpus=None, allow_ingest: bool = False, say: Callable[[str], None] = print) -> None:
    """Load the index and models once, then serve until interrupted (``newsdesk serve``)."""
    import dataclasses
    import os
    from pathlib import Path

    import uvicorn

    from retrieval.config import Settings, env
    from retrieval.errors import ConfigError
    from retrieval.ingest import ingest as run_ingest
    from retrieval.pipeline import Pipeline

    api_key = os.environ.get("NEWSDESK_API_KEY", "").strip()
    if not is_loopback(host) and not api_key:
        raise ConfigError(f"Binding to {host} exposes newsdesk beyond this machine: set NEWSDESK_API_KEY to a "
                          "secret first (clients send it as 'Authorization: Bearer ...'), or bind to 127.0.0.1.")
    settings = dataclasses.replace(Settings.from_env(), server_url="")  # the server answers in-process
    if corpus is None:
        from retrieval.store import MANIFEST

        try:
            corpus = json.loads((settings.home / MANIFEST).read_text(encoding="utf-8")).get("corpus_root")
        except (OSError, ValueError):
            corpus = None
        corpus = corpus or settings.corpus
    corpus = Path(corpus)

    def reindex(rebuild: bool = False) -> dict:
        report = run_ingest([corpus], settings, rebuild=rebuild)
        return {"corpus": str(corpus), "files": report.files, "articles": report.documents,
                "chunks_added": report.chunks_added, "chunks_removed": report.chunks_removed,
                "chunks_unchanged": report.chunks_unchanged, "skipped": [list(s) for s in report.skipped],
                "seconds": round(report.seconds, 2)}

    from retrieval.search import KeywordIndex

    if not KeywordIndex.exists(settings.home / "bm25"):
        say(f"No index in {settings.home}/ yet: indexing {corpus}/ first...")
        counts = reindex()
        say(f"Indexed {counts['files']} files, {counts['chunks_added']} chunks.")
    service = Service(lambda: Pipeline(settings), max_question_chars=settings.max_question_chars,
                      queue=int(env("NEWSDESK_SERVER_QUEUE")), ingest=reindex if allow_ingest else None)
    say(f"Loading the models and the index ({settings.home}/)...")
    service.start()
    shown = f"[{host}]" if ":" in host else host
    say(f"newsdesk is serving on http://{shown}:{port} (API page: http://{shown}:{port}/docs). "
        f"Clients: export NEWSDESK_SERVER_URL=http://{shown}:{port}")
    uvicorn.run(create_app(service, api_key), host=host, port=port, log_level="info")
