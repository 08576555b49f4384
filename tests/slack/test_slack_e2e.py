"""End to end: `newsdesk slack --http` as a real process, with the real pipeline over the
bundled corpus, answering a signed app_mention through the fake Slack Web API."""
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from slack_fakes import BOT_USER, MockSlackAPI, SlackSender, mention

from bot.slack import blocks
from bot.slack.feedback import FeedbackStore

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
SECRET = "test-secret"
QUESTION = "How long were US diplomats given to leave Venezuela?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _newsdesk() -> list[str]:
    """The console script if it has the slack command, else the module entry point."""
    script = Path(sys.executable).with_name("newsdesk")
    if script.exists():
        probe = subprocess.run([str(script), "slack", "--help"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0 and "--http" in probe.stdout:
            return [str(script)]
    return []


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the bot exited ({proc.returncode}):\n{log.read_text(errors='replace')}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the bot did not listen on {port} within {timeout}s:\n{log.read_text(errors='replace')}")


@pytest.mark.slow
@pytest.mark.integration
def test_real_bot_answers_a_mention_with_verified_citations(tmp_path):
    if not (ROOT / "retrieval" / "pipeline.py").exists():
        pytest.fail("retrieval/pipeline.py is missing: the end-to-end test needs the answering core")
    api = MockSlackAPI().start()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env = {k: v for k, v in env.items() if not k.startswith("NEWSDESK_SLACK_")}
    env.update(NEWSDESK_HOME=str(home), SLACK_API_URL=api.url, SLACK_BOT_TOKEN="xoxb-test",
               SLACK_SIGNING_SECRET=SECRET, NEWSDESK_SLACK_HOST="127.0.0.1", PYTHONUNBUFFERED="1",
               NEWSDESK_SLACK_LOG_LEVEL="DEBUG",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    script = _newsdesk()
    base = script or [sys.executable, "-m", "bot.cli"]
    ingest = subprocess.run([*base, "ingest", str(CORPUS.resolve())], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=600)
    assert ingest.returncode == 0, ingest.stderr
    port = _free_port()
    serve = [*script, "slack", "--http", "--port", str(port)] if script else \
        [sys.executable, "-m", "bot.slack.main", "--http", "--port", str(port)]
    log = tmp_path / "bot.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(serve, env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_port(port, proc, log)
        assert "ready" in log.read_text(errors="replace")
        send = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
        reply = send.event(mention(f"<@{BOT_USER}> {QUESTION}", "1700000100.000100", channel="C0E2E"))
        assert reply.status == 200 and reply.seconds < 3
        update = api.wait_for("chat.update", timeout=120)[0]
        status = api.of("chat.postMessage")[0]
        assert status.body["text"] == blocks.STATUS_TEXT and status.body["thread_ts"] == "1700000100.000100"
        assert update.body["channel"] == "C0E2E" and update.body["ts"] == "1700000000.000001"
        assert "72 hours" in update.body["text"], update.body["text"]

        key = next(b for b in update.body["blocks"] if b["type"] == "actions")["elements"][0]["value"]
        stored = FeedbackStore(home / "feedback.sqlite3").get_answer(key)
        assert stored is not None and stored["question"] == QUESTION
        citations = stored["citations"]
        assert citations and not stored["abstained"]
        sections = "\n".join(b["text"]["text"] for b in update.body["blocks"] if b["type"] == "section")
        for c in citations:
            text = (CORPUS / c["source"]).read_text(encoding="utf-8")
            assert c["quote"] == text[c["start"]:c["end"]]
            assert f"[{c['id']}]" in update.body["text"]
            assert f"`{c['source']}`" in sections
            shown = "\n".join(">" + line for line in blocks.escape(c["quote"].strip("\n")).split("\n"))
            assert shown in sections
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        api.stop()
    assert proc.returncode in (0, -15), log.read_text(errors="replace")
    logged = log.read_text(errors="replace")
    assert "Sending a request - url: " in logged  # slack_sdk's DEBUG lines (with headers) were logged
    assert "xoxb-test" not in logged and SECRET not in logged
