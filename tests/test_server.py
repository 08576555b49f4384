"""`newsdesk serve` over real HTTP on 127.0.0.1, with a stub pipeline (fast): the API's shapes,
its errors, the key, the queue, a load of 50 concurrent questions, the openai client, and the
NEWSDESK_SERVER_URL clients. tests/test_server_model.py does the same with the real reader."""
from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn

from bot.server import Service, chat_turns, create_app, ChatMessage
from retrieval.types import Answer, Citation, Passage


class StubPipeline:
    """Answers instantly with one citation; records each question; can be held on a gate."""

    def __init__(self, gate: threading.Event | None = None):
        self.gate = gate
        self.calls: list[tuple[str, list]] = []
        self.lock = threading.Lock()
        self.backend = "stub"

    def ask(self, question, history=()):
        if self.gate is not None:
            self.gate.wait(30)
        with self.lock:
            self.calls.append((question, [list(t) for t in history]))
        quote = "The council approved the budget on Tuesday."
        return Answer(question=question, standalone_question=question, answer=f"Tuesday. {quote} [1]",
                      short_answer="Tuesday", abstained=False,
                      citations=[Citation(1, "a.txt", "Budget passes", 10, 10 + len(quote), quote)],
                      passages=[Passage("a.txt", "Budget passes", 0, 60, quote, 0.5)],
                      timings_ms={"total": 1.0}, backend="stub", confidence=0.9)

    def info(self):
        return {"index": {"chunks": 3, "sources": 1, "corpus_root": "/tmp/c", "last_ingest": None, "home": "/tmp/h"},
                "backend": "stub", "model": "none", "embeddings": "none", "threshold": 0.1}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Running:
    def __init__(self, pipeline, *, queue=32, api_key="", host="127.0.0.1", ingest=None, max_chars=1000):
        self.pipeline = pipeline
        self.loads = 0

        def load():
            self.loads += 1
            return pipeline

        self.service = Service(load, max_question_chars=max_chars, queue=queue, ingest=ingest)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(self.service, api_key), host=host, port=self.port, log_level="warning",
                                limit_concurrency=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 20
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        if self.pipeline.gate is not None:
            self.pipeline.gate.set()
        self.server.should_exit = True
        self.thread.join(20)


def call(url, method="GET", body=None, raw: bytes | None = None, headers=None, timeout=60):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None and raw is None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


@pytest.fixture
def server():
    with Running(StubPipeline()) as running:
        yield running


def test_ask_returns_the_ask_json_object(server):
    status, _, body = call(server.url + "/v1/ask", "POST", {"question": "When?", "history": [["Who?", "The council."]]})
    assert status == 200
    assert body == server.pipeline.ask("When?").to_json()
    assert server.pipeline.calls[0] == ("When?", [["Who?", "The council."]])


def test_health_reports_index_backend_model_and_queue(server):
    status, _, body = call(server.url + "/v1/health")
    assert status == 200 and body["status"] == "ok"
    assert body["index"]["chunks"] == 3 and body["backend"] == "stub"
    assert body["queue"] == {"active_or_waiting": 0, "limit": 33}


def test_docs_page_and_openapi_are_served(server):
    import re

    with urllib.request.urlopen(server.url + "/docs", timeout=10) as r:
        page = r.read().decode()
    assert "swagger" in page.lower()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets and not [a for a in assets if a.startswith(("http://", "https://", "//"))], assets  # no CDN
    for asset in assets:  # the page works offline: its scripts and styles come from this server
        with urllib.request.urlopen(server.url + asset, timeout=10) as r:
            assert r.status == 200 and len(r.read()) > 100
    _, _, spec = call(server.url + "/openapi.json")
    assert {"/v1/ask", "/v1/chat/completions", "/v1/health", "/v1/ingest", "/v1/models"} <= set(spec["paths"])


# Each kind of bad input, with the status and a piece of the message (README "HTTP API: errors").
BAD = [
    ("/v1/ask", b"{bad", "application/json", 400, "not valid JSON"),
    ("/v1/ask", b"question=hi", "application/x-www-form-urlencoded", 422, "must be a JSON object"),
    ("/v1/ask", b"[1, 2]", "application/json", 422, "must be a JSON object"),
    ("/v1/ask", b"{}", "application/json", 422, "question: Field required"),
    ("/v1/ask", b'{"question": 5}', "application/json", 422, "question: Input should be a valid string"),
    ("/v1/ask", b'{"question": "   "}', "application/json", 422, "question is empty"),
    ("/v1/ask", json.dumps({"question": "x" * 1001}).encode(), "application/json", 422, "NEWSDESK_MAX_QUESTION_CHARS"),
    ("/v1/ask", b'{"question": "a", "history": "b"}', "application/json", 422, "history"),
    ("/v1/ask", b'{"question": "a", "history": [["only one"]]}', "application/json", 422, "each turn is [question, answer]"),
    ("/v1/ask", json.dumps({"question": "a", "history": [["q", "a"]] * 21}).encode(), "application/json", 422,
     "at most 20"),
    ("/v1/ask", json.dumps({"question": "a", "history": [["q", "a" * 9000]]}).encode(), "application/json", 422,
     "too long"),
    ("/v1/ask", b'{"question": "a", "path": "/etc"}', "application/json", 422, "Extra inputs are not permitted"),
    ("/v1/chat/completions", b'{"messages": []}', "application/json", 422, "messages"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user"}]}', "application/json", 422, "question is empty"),
    ("/v1/chat/completions", b'{"messages": [{"role": "assistant", "content": "hi"}]}', "application/json", 422,
     "end with a user message"),
    ("/v1/chat/completions", b'{"messages": [{"role": "wizard", "content": "hi"}]}', "application/json", 422, "role"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "hi"}], "stream": "often"}',
     "application/json", 422, "stream"),
    ("/v1/ingest", b'{"path": "/etc"}', "application/json", 422, "Extra inputs are not permitted"),
    ("/v1/nowhere", b"{}", "application/json", 404, "No such endpoint"),
]


@pytest.mark.parametrize("path,raw,ctype,status,fragment", BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)])
def test_bad_input_gets_a_4xx_that_says_what_is_wrong(server, path, raw, ctype, status, fragment):
    code, _, body = call(server.url + path, "POST", raw=raw, headers={"Content-Type": ctype})
    assert code == status, body
    assert fragment in body["error"]["message"]
    assert "Traceback" not in json.dumps(body)
    assert server.pipeline.calls == []  # nothing bad reached the reader


def test_an_oversized_body_is_refused_by_its_length_before_it_is_read(server):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("POST", "/v1/ask")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", "1000001")
    conn.endheaders(b'{"question": "')  # the rest is never sent: the answer comes from the header
    reply = conn.getresponse()
    body = json.loads(reply.read())
    conn.close()
    assert reply.status == 413 and "at most 1,000,000" in body["error"]["message"]
    assert server.pipeline.calls == []


def test_wrong_method_is_405(server):
    code, _, body = call(server.url + "/v1/ask")
    assert code == 405 and "does not take GET" in body["error"]["message"]


def test_a_failing_pipeline_gives_a_500_without_a_traceback():
    class Broken(StubPipeline):
        def ask(self, question, history=()):
            raise RuntimeError("secret internals")

    with Running(Broken()) as s:
        code, _, body = call(s.url + "/v1/ask", "POST", {"question": "When?"})
        assert code == 500 and "RuntimeError" in body["error"]["message"]
        assert "secret internals" not in json.dumps(body) and "Traceback" not in json.dumps(body)
        assert call(s.url + "/v1/health")[0] == 200  # and it carries on


def test_a_non_loopback_bind_needs_the_key():
    with Running(StubPipeline(), api_key="s3cret", host="0.0.0.0") as s:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            for path in ("/v1/health", "/docs"):
                code, h, body = call(s.url + path, headers=headers)
                assert code == 401 and h.get("www-authenticate") == "Bearer", (path, headers)
            code, _, _ = call(s.url + "/v1/ask", "POST", {"question": "When?"}, headers=headers)
            assert code == 401
        assert call(s.url + "/v1/health", headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert call(s.url + "/v1/ask", "POST", {"question": "When?"},
                    headers={"Authorization": "Bearer s3cret"})[0] == 200
        assert len(s.pipeline.calls) == 1


def test_serve_refuses_a_non_loopback_bind_without_a_key(monkeypatch):
    from bot.server import serve
    from retrieval.errors import ConfigError

    monkeypatch.delenv("NEWSDESK_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="NEWSDESK_API_KEY"):
        serve("0.0.0.0", _free_port())


def test_a_full_queue_gets_503_with_retry_after_and_nothing_is_lost():
    gate = threading.Event()
    with Running(StubPipeline(gate), queue=1) as s, ThreadPoolExecutor(4) as pool:
        admitted = [pool.submit(call, s.url + "/v1/ask", "POST", {"question": f"q{i}"}) for i in range(2)]
        deadline = time.time() + 10
        while s.service.worker.pending < 2:
            assert time.time() < deadline
            time.sleep(0.01)
        for path, body in (("/v1/ask", {"question": "late"}),
                           ("/v1/chat/completions", {"messages": [{"role": "user", "content": "late"}], "stream": True})):
            code, headers, reply = call(s.url + path, "POST", body)
            assert code == 503 and int(headers["retry-after"]) >= 1
            assert "busy" in reply["error"]["message"]
        gate.set()
        assert sorted(f.result()[2]["question"] for f in admitted) == ["q0", "q1"]
        assert all(f.result()[0] == 200 for f in admitted)
        assert sorted(q for q, _ in s.pipeline.calls) == ["q0", "q1"]  # the 503s never reached the reader


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def test_fifty_concurrent_questions_are_each_answered_exactly_once():
    with Running(StubPipeline(), queue=64) as s, ThreadPoolExecutor(50) as pool:
        call(s.url + "/v1/ask", "POST", {"question": "warm"})
        before = _rss_mb()
        started = time.perf_counter()
        futures = [pool.submit(call, s.url + "/v1/ask", "POST", {"question": f"question {i}"}) for i in range(50)]
        results = [f.result() for f in futures]
        wall = time.perf_counter() - started
        grown = _rss_mb() - before
    print(f"\n50 concurrent /v1/ask, stub reader: {wall:.2f} s wall, {50 / wall:.0f} requests/s, "
          f"test process RSS {before:.0f} -> {before + grown:.0f} MB")
    assert [r[0] for r in results] == [200] * 50
    assert [r[2]["question"] for r in results] == [f"question {i}" for i in range(50)]  # each its own answer
    asked = [q for q, _ in s.pipeline.calls if q != "warm"]
    assert sorted(asked) == sorted(f"question {i}" for i in range(50))  # each answered once, none twice
    assert grown < 100, f"resident memory grew {grown:.0f} MB over 50 requests"


def test_chat_completions_for_the_openai_client(server):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="unused")
    reply = client.chat.completions.create(model="newsdesk", messages=[
        {"role": "system", "content": "be brief"}, {"role": "user", "content": "Who?"},
        {"role": "assistant", "content": "The council. [1]\n\nSources:\n[1] Budget passes (a.txt): “...”"},
        {"role": "user", "content": "When did it pass?"}])
    text = reply.choices[0].message.content
    assert text.startswith("Tuesday.") and "[1]" in text and "Sources:\n[1] Budget passes (a.txt, chars 10-53)" in text
    assert reply.model_extra["newsdesk"]["citations"][0]["quote"] == "The council approved the budget on Tuesday."
    assert server.pipeline.calls[-1] == ("When did it pass?", [["Who?", "The council. [1]"]])

    chunks = list(client.chat.completions.create(model="newsdesk", stream=True,
                                                 messages=[{"role": "user", "content": "When?"}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["newsdesk"]["short_answer"] == "Tuesday"
    assert [m.id for m in client.models.list()] == ["newsdesk"]


def test_chat_turns_pair_each_question_with_the_reply_that_follows():
    m = [ChatMessage(role=r, content=c) for r, c in
         [("system", "x"), ("user", "A?"), ("assistant", "a.\n\nClosest passages:\n1. ..."), ("user", "B?"),
          ("user", "C?"), ("assistant", "c"), ("user", "D?")]]
    assert chat_turns(m, 1000) == ("D?", [["A?", "a."], ["C?", "c"]])


def test_ingest_is_off_unless_allowed_and_reloads_the_index_when_on(server):
    code, _, body = call(server.url + "/v1/ingest", "POST", {})
    assert code == 403 and "--allow-ingest" in body["error"]["message"]
    seen = []
    with Running(StubPipeline(), ingest=lambda rebuild: seen.append(rebuild) or {"files": 1}) as s:
        loads = s.loads
        code, _, body = call(s.url + "/v1/ingest", "POST", {"rebuild": True})
        assert (code, body, seen) == (200, {"files": 1}, [True])
        assert s.loads == loads + 1  # the pipeline was rebuilt on the new index


def test_cli_clients_use_the_server(server, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    monkeypatch.setenv("NEWSDESK_SERVER_URL", server.url)
    result = CliRunner().invoke(app, ["ask", "--json", "When?"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == server.pipeline.ask("When?").to_json()
    result = CliRunner().invoke(app, ["chat"], input="When?\nAnd then?\n")
    assert result.exit_code == 0 and "Tuesday" in result.output and "server " + server.url in result.output
    assert server.pipeline.calls[-1] == ("And then?", [["When?", "Tuesday"]])


def test_a_server_that_is_down_or_refuses_gives_one_line_naming_the_url(monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app

    url = f"http://127.0.0.1:{_free_port()}"
    monkeypatch.setenv("NEWSDESK_SERVER_URL", url)
    result = CliRunner().invoke(app, ["ask", "When?"])
    assert result.exit_code == 1
    assert url in result.output and "NEWSDESK_SERVER_URL" in result.output and "not reachable" in result.output
    with Running(StubPipeline(), api_key="k", host="0.0.0.0") as s:
        monkeypatch.setenv("NEWSDESK_SERVER_URL", s.url)
        result = CliRunner().invoke(app, ["ask", "When?"])
        assert result.exit_code == 1 and "answered 401" in result.output and "NEWSDESK_API_KEY" in result.output
        monkeypatch.setenv("NEWSDESK_API_KEY", "k")
        assert CliRunner().invoke(app, ["ask", "When?"]).exit_code == 0


def test_a_bad_server_url_is_a_config_error(monkeypatch):
    from retrieval.config import Settings
    from retrieval.errors import ConfigError

    monkeypatch.setenv("NEWSDESK_SERVER_URL", "localhost:8400")
    with pytest.raises(ConfigError, match="http://127.0.0.1:8400"):
        Settings.from_env()


def test_eval_and_the_slack_bot_answer_through_the_server(server, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bot.cli import app
    from bot.slack.main import load_answer_fn

    monkeypatch.setenv("NEWSDESK_SERVER_URL", server.url)
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "t1", "type": "factoid", "question": "When did the budget pass?",
                                "answers": ["Tuesday"], "evidence": [], "sources": ["a.txt"], "history": []}) + "\n")
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    row = json.loads((tmp_path / "out" / "answers.jsonl").read_text())
    assert row["id"] == "t1" and row["short_answer"] == "Tuesday" and row["backend"] == "stub"
    assert ("When did the budget pass?", []) in server.pipeline.calls
    result = CliRunner().invoke(app, ["eval", "--gold", str(gold), "--out", str(tmp_path / "o2"),
                                      "--corpus", str(tmp_path)])
    assert result.exit_code == 1 and "NEWSDESK_SERVER_URL" in result.output  # a throwaway index needs in-process

    answer = load_answer_fn()("And the vote?", [("When did the budget pass?", "Tuesday")])
    assert answer.short_answer == "Tuesday"
    assert server.pipeline.calls[-1] == ("And the vote?", [["When did the budget pass?", "Tuesday"]])
