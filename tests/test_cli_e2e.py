"""The CLI as a user runs it: real processes, real model, a temporary NEWSDESK_HOME."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _newsdesk(*args, env, input=None, check=True):
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, env=env,
                          input=input, check=check, cwd=env["_CWD"], timeout=300)


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    corpus = base / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    (corpus / "notes.bin").write_bytes(b"\x00\x01\x02binary")
    env = {**os.environ, "NEWSDESK_HOME": str(base / "home"), "PYTHONPATH": str(ROOT), "_CWD": str(base),
           "COLUMNS": "200"}
    first = _newsdesk("ingest", str(corpus), env=env, check=False)
    assert first.returncode == 3, first.stderr  # something was skipped
    assert "notes.bin" in first.stderr and "skipped" in first.stderr
    assert "5 files" in first.stdout
    return env, corpus


def test_ask_json_has_every_field(cli_env):
    env, corpus = cli_env
    env = {**env, "NEWSDESK_LLM": "local"}  # the real reader, as a user runs it
    out = _newsdesk("ask", "--json", "Who is the Secretary of State?", env=env)
    data = json.loads(out.stdout)
    for key in ("question", "standalone_question", "answer", "short_answer", "abstained", "citations",
                "passages", "timings_ms"):
        assert key in data
    assert not data["abstained"] and "Pompeo" in data["answer"]
    for c in data["citations"]:
        assert set(c) >= {"id", "source", "title", "start", "end", "quote"}
        assert (corpus / c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["quote"]
    for p in data["passages"]:
        assert set(p) >= {"source", "title", "start", "end", "score"}


def test_ask_json_with_history(cli_env):
    env, _ = cli_env
    env = {**env, "NEWSDESK_LLM": "local"}  # the follow-up is rewritten by the model
    history = json.dumps([["Who declared himself interim president?", "Juan Guaido"]])
    data = json.loads(_newsdesk("ask", "--json", "--history", history, "How old is he?", env=env).stdout)
    assert "Guaido" in data["standalone_question"]
    assert "35" in data["answer"]


def test_ask_text_prints_numbered_sources(cli_env):
    env, _ = cli_env
    out = _newsdesk("ask", "How many hours did Maduro give American diplomats to leave?", env=env)
    assert "72" in out.stdout and "Sources" in out.stdout and "[1]" in out.stdout


def test_chat_repl_end_to_end(cli_env):
    env, _ = cli_env
    script = "\n".join(["Who declared himself acting president of Venezuela?", "How old is he?", ":sources",
                        ":reset", ":help", "Who won the World Cup?", ":quit"]) + "\n"
    out = _newsdesk("chat", env=env, input=script).stdout
    assert "Guaido" in out or "Guaidó" in out
    assert "35" in out
    assert "Passages retrieved for" in out
    assert "Conversation cleared." in out
    assert ":sources" in out  # the help text
    assert "The articles don't say" in out


def test_ask_without_index_says_how_to_fix(tmp_path):
    env = {**os.environ, "NEWSDESK_HOME": str(tmp_path / "empty"), "PYTHONPATH": str(ROOT), "_CWD": str(tmp_path)}
    out = _newsdesk("ask", "Who?", env=env, check=False)
    assert out.returncode == 1
    assert "newsdesk ingest" in out.stderr and "Traceback" not in out.stderr


def test_chat_survives_bad_questions(cli_env):
    env, _ = cli_env
    script = "\n".join(["\x01\x02", "🎉🎉", "why " * 5000, "'; DROP TABLE x; --",
                        "How long were US diplomats given to leave Venezuela?", ":quit"]) + "\n"
    done = _newsdesk("chat", env=env, input=script)
    out = done.stdout + done.stderr
    assert "Traceback" not in out
    assert "The question is empty" in out
    assert "no words to search for" in out
    assert "only its first" in out
    assert "72 hours" in out  # the session went on to answer a real question
