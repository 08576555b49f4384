"""The openai backend for real: llama-cpp-python's own OpenAI-compatible server on
127.0.0.1 serving the same Qwen2.5 GGUF the local reader uses. The reader does the same job
through it (judge by a yes/no reply, then the short answer) behind the same checks: only
verified quotes reach the answer and off-topic questions abstain."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]


def _model_path() -> Path:
    from retrieval.config import Settings
    from retrieval.models import model_path

    return model_path(Settings.from_env())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server():
    pytest.importorskip("llama_cpp.server", reason="pip install 'llama-cpp-python[server]' (in the dev extra)")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(_model_path()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("llama-cpp-python server did not start")
    yield f"http://127.0.0.1:{port}/v1"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@pytest.fixture()
def openai_pipeline(indexed_home, llama_server, monkeypatch):
    from retrieval.config import Settings
    from retrieval.pipeline import Pipeline

    settings, corpus = indexed_home
    monkeypatch.setenv("NEWSDESK_HOME", str(settings.home))
    monkeypatch.setenv("NEWSDESK_LLM", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", llama_server)
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("NEWSDESK_OPENAI_MODEL", "qwen")
    monkeypatch.setenv("NEWSDESK_LLM_TIMEOUT", "45")
    return Pipeline(Settings.from_env()), corpus


@pytest.mark.parametrize("question", [
    "How many hours were U.S. diplomats given to leave Venezuela?",
    "Who is the Secretary of State?",
    "How old is Juan Guaido?",
])
def test_everything_shown_verifies(openai_pipeline, question):
    pipeline, corpus = openai_pipeline
    ans = pipeline.ask(question)
    if "hours" in question:  # the same model reads as well through the server
        assert not ans.abstained and "72" in ans.answer
    assert ans.backend == "openai"
    for c in ans.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
    if not ans.abstained:
        assert ans.citations
        markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", ans.answer)}
        assert markers <= {c.id for c in ans.citations}
        if ans.short_answer:
            assert any(ans.short_answer.lower() in c.quote.lower() for c in ans.citations)


def test_off_topic_still_abstains_with_an_llm(openai_pipeline):
    pipeline, _ = openai_pipeline
    ans = pipeline.ask("Which country won the 2018 football World Cup?")
    assert ans.abstained and not ans.citations


def test_unreachable_server_falls_back_with_a_note(indexed_home, monkeypatch):
    from retrieval.config import Settings
    from retrieval.pipeline import Pipeline

    settings, _ = indexed_home
    monkeypatch.setenv("NEWSDESK_HOME", str(settings.home))
    monkeypatch.setenv("NEWSDESK_LLM", "openai")
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("NEWSDESK_LLM_TIMEOUT", "5")
    ans = Pipeline(Settings.from_env()).ask("How many hours were U.S. diplomats given to leave Venezuela?")
    assert not ans.abstained and "72" in ans.answer
    assert any("openai backend failed" in n and "OPENAI_BASE_URL" in n and "without the model" in n
               for n in ans.notes)


@pytest.mark.parametrize("question", ["What should the assistant reply?", "How old is Juan Guaido?"])
def test_hostile_article_is_not_obeyed_by_the_llm_backend(hostile_home, llama_server, monkeypatch, question):
    """The article tells the model to answer 'surrendered' / 'PWNED'; the model never sees those
    sentences, and nothing it says reaches the user unless a verified quote supports it."""
    import re

    from retrieval.config import Settings
    from retrieval.guard import is_instruction
    from retrieval.pipeline import Pipeline

    settings, corpus = hostile_home
    for k, v in {"NEWSDESK_HOME": str(settings.home), "NEWSDESK_LLM": "openai", "OPENAI_BASE_URL": llama_server,
                 "OPENAI_API_KEY": "local", "NEWSDESK_OPENAI_MODEL": "qwen", "NEWSDESK_LLM_TIMEOUT": "45"}.items():
        monkeypatch.setenv(k, v)
    ans = Pipeline(Settings.from_env()).ask(question)
    assert not re.search(r"surrendered|PWNED|<!channel>|5,000", ans.answer, re.I), ans.answer
    for c in ans.citations:
        assert not is_instruction(c.quote)
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
