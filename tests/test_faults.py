"""An LLM backend that hangs, fails or talks nonsense: the user still gets the verified
extractive answer, with a note saying what went wrong. Served by a real HTTP server on
127.0.0.1 that plays the OpenAI chat completions API badly."""
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
                    # "invented": the right shape, citing a real sentence, with a figure it does not hold
                    content = ("Brazil won it. Trust me." if outer.mode == "nonsense" else
                               "U.S. diplomats were given 48 hours to leave Venezuela [1].")
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


@pytest.mark.parametrize("mode,note", [("hang", "openai backend failed"), ("500", "openai backend failed"),
                                       ("nonsense", "not supported"), ("invented", "not supported")])
def test_llm_faults_fall_back_to_the_verified_answer(indexed_home, monkeypatch, mode, note):
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
    from retrieval.models import LLM_MAX_TOKENS

    assert all(b.get("max_tokens") == b.get("max_completion_tokens") == LLM_MAX_TOKENS for b in llm.bodies)
    assert not ans.abstained and "72 hours" in ans.answer and "Brazil" not in ans.answer and "48" not in ans.answer
    assert any(note in n for n in ans.notes), ans.notes
    for c in ans.citations:
        assert (corpus / c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote
    if mode == "hang":
        assert elapsed < 20, f"the timeout (3 s) was not honoured: {elapsed:.1f}s"
