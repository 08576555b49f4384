"""A reader backend that hangs, fails, talks nonsense or invents: the user gets a verified
answer (the model-free reading, with a note saying what went wrong), an abstention, or the
quote without the invented short answer; never the invention. Served by a real HTTP server
on 127.0.0.1 that plays the OpenAI chat completions API badly."""
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
QUESTION = "How many hours were U.S. diplomats given to leave Venezuela?"


class BadLLM:
    def __init__(self, mode: str):
        self.mode, self.calls, self.bodies = mode, 0, []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                outer.calls += 1
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers.get("content-length", 0)))))
                if outer.mode == "hang":
                    time.sleep(30)
                    return
                if outer.mode == "500":
                    body, status = b'{"error": {"message": "boom"}}', 500
                else:  # "nonsense": a valid completion that answers something else
                    # "invented": judges every sentence an answer, with a figure none holds
                    content = "Brazil won it. Trust me." if outer.mode == "nonsense" else "yes: 48 hours"
                    body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                                       "choices": [{"index": 0, "finish_reason": "stop",
                                                    "message": {"role": "assistant", "content": content}}],
                                       "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
                                       }).encode()
                    status = 200
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["hang", "500", "nonsense", "invented"])
def test_llm_faults_never_reach_the_user(indexed_home, monkeypatch, mode):
    from retrieval.config import Settings
    from retrieval.pipeline import Pipeline

    settings, corpus = indexed_home
    llm = BadLLM(mode)
    try:
        for k, v in {"NEWSDESK_HOME": str(settings.home), "NEWSDESK_LLM": "openai", "OPENAI_BASE_URL": llm.url,
                     "OPENAI_API_KEY": "local", "NEWSDESK_LLM_TIMEOUT": "3"}.items():
            monkeypatch.setenv(k, v)
        started = time.monotonic()
        ans = Pipeline(Settings.from_env()).ask(QUESTION)
        elapsed = time.monotonic() - started
    finally:
        llm.close()
    assert llm.calls >= 1
    # the reply is capped under both names: llama-cpp-python's server reads only max_tokens
    from retrieval.models import REPLY_TOKENS

    assert all(b.get("max_tokens") == b.get("max_completion_tokens") == REPLY_TOKENS for b in llm.bodies)
    assert "Brazil" not in ans.answer and "48" not in ans.answer
    if mode in ("hang", "500"):  # the model-free reading, said so
        assert not ans.abstained and "72 hours" in ans.answer
        assert any("openai backend failed" in n and "without the model" in n for n in ans.notes), ans.notes
    elif mode == "nonsense":  # no sentence was judged an answer
        assert ans.abstained and not ans.citations
    else:  # a sentence that yields no verified short answer is no evidence
        assert ans.abstained and not ans.citations
    for c in ans.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
    if mode == "hang":
        assert elapsed < 20, f"the timeout (3 s) was not honoured: {elapsed:.1f}s"
