"""`newsdesk serve` with the real reader, as a real process on 127.0.0.1: the fast gold subset
answered through /v1/ask and through `newsdesk ask` with NEWSDESK_SERVER_URL equals the
in-process answers; the openai client gets a cited answer; 20 concurrent questions are each
answered exactly once."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.test_server import _free_port, call

pytestmark = [pytest.mark.slow, pytest.mark.integration]
ROOT = Path(__file__).resolve().parents[1]
FAST = [json.loads(line) for line in (ROOT / "evals" / "gold.jsonl").read_text().splitlines()
        if line.strip() and "fast" in json.loads(line).get("tags", [])]


def _same(answer: dict) -> dict:
    """What must agree between two ways of asking: the text, the citations, the passages.
    Not the timings, and not ``confidence``: llama.cpp's numbers for a prompt depend a little on
    how much of it was already in the model's cache (same question asked twice in one process:
    0.4576 then 0.4898 for one judgement), so only what the user reads is compared."""
    return {k: v for k, v in answer.items() if k not in ("timings_ms", "confidence")}


@pytest.fixture(scope="module")
def served(indexed_home):
    settings, _ = indexed_home
    port = _free_port()
    env = {**os.environ, "NEWSDESK_HOME": str(settings.home), "NEWSDESK_LLM": "local"}
    env.pop("NEWSDESK_SERVER_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            urllib.request.urlopen(url + "/v1/health", timeout=2).close()
            break
        except OSError:
            assert proc.poll() is None, proc.stderr.read()
            assert time.time() < deadline, "newsdesk serve did not come up in 300 s"
            time.sleep(0.5)
    yield url, proc, env
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_answers_through_the_server_equal_the_in_process_answers(served, pipeline):
    url, _, env = served
    client_env = {**env, "NEWSDESK_SERVER_URL": url}
    for g in FAST:
        local = pipeline.ask(g["question"], g["history"]).to_json()
        code, _, over_http = call(url + "/v1/ask", "POST", {"question": g["question"], "history": g["history"]})
        assert code == 200
        cli = subprocess.run([sys.executable, "-m", "bot.cli", "ask", "--json", "--history", json.dumps(g["history"]),
                              g["question"]], env=client_env, capture_output=True, text=True, timeout=120)
        assert cli.returncode == 0, cli.stderr
        assert _same(over_http) == _same(local), g["id"]
        assert _same(json.loads(cli.stdout)) == _same(local), g["id"]


def test_the_openai_client_gets_a_cited_answer(served):
    openai = pytest.importorskip("openai")
    url, _, _ = served
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
    question = [{"role": "user", "content": "How many hours did Maduro give US diplomats to leave?"}]
    reply = client.chat.completions.create(model="newsdesk", messages=question)
    answer = reply.model_extra["newsdesk"]
    assert not answer["abstained"] and "72" in answer["short_answer"]
    text = reply.choices[0].message.content
    assert "[1]" in text and "Sources:" in text and answer["citations"][0]["quote"] in text
    streamed = list(client.chat.completions.create(model="newsdesk", messages=question, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in streamed) == text
    assert streamed[-1].model_extra["newsdesk"]["citations"] == answer["citations"]


def _hwm_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def test_twenty_concurrent_questions_each_answered_once(served):
    url, proc, _ = served
    with ThreadPoolExecutor(20) as pool:
        started = time.perf_counter()
        results = list(pool.map(lambda g: call(url + "/v1/ask", "POST", {"question": g["question"]}, timeout=600), FAST))
        wall = time.perf_counter() - started
    assert [r[0] for r in results] == [200] * len(FAST)
    assert [r[2]["question"] for r in results] == [g["question"] for g in FAST]
    peak = _hwm_mb(proc.pid)
    print(f"\n20 concurrent /v1/ask, real reader: {wall:.1f} s wall, server peak RSS {peak:.0f} MB")
    assert peak < 4096, f"server peak RSS {peak:.0f} MB"
    assert call(url + "/v1/health")[2]["queue"]["active_or_waiting"] == 0


def test_ingest_over_http_reindexes_the_servers_corpus_folder(tmp_path):
    """A real `newsdesk serve --allow-ingest` (model-free reader, real embeddings): an article added
    to its corpus folder is answerable after POST /v1/ingest, and nothing else can be named."""
    import shutil

    corpus, home = tmp_path / "corpus", tmp_path / "home"
    shutil.copytree(ROOT / "corpus", corpus)
    port = _free_port()
    env = {**os.environ, "NEWSDESK_HOME": str(home), "NEWSDESK_LLM": "none"}
    env.pop("NEWSDESK_SERVER_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--allow-ingest",
                             "--corpus", str(corpus)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 300
        while True:  # no index yet: the server indexes --corpus first, then serves
            try:
                urllib.request.urlopen(url + "/v1/health", timeout=2).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.time() < deadline
                time.sleep(0.5)
        before = call(url + "/v1/health")[2]["index"]
        assert before["sources"] == 5 and before["corpus_root"] == str(corpus)
        (corpus / "zz_bridge.txt").write_text(
            "Harbour bridge reopens after repairs\n\nThe Kestrel harbour bridge reopened on Monday after eleven "
            "months of repairs that cost 48 million euros, the city engineer said.\n", encoding="utf-8")
        code, _, counts = call(url + "/v1/ingest", "POST", {}, timeout=300)
        assert code == 200 and counts["files"] == 6 and counts["chunks_added"] >= 1 and counts["chunks_removed"] == 0
        assert call(url + "/v1/health")[2]["index"]["sources"] == 6
        _, _, answer = call(url + "/v1/ask", "POST", {"question": "How much did the Kestrel harbour bridge repairs cost?"})
        assert any(c["source"] == "zz_bridge.txt" for c in answer["citations"] + answer["passages"])
        assert call(url + "/v1/ingest", "POST", {"path": "/etc"})[0] == 422
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)
