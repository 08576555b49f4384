"""Wires the components into one LangChain runnable and exposes ``Pipeline.ask``,
the single function every interface (CLI, REPL, Slack, eval) calls.

    rewrite -> retrieve -> answer (read) -> verify

Each stage is a ``RunnableLambda`` over a state dict and records its time in
``timings_ms``. Models and indexes load once per process (``get_pipeline`` caches).
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Sequence

from retrieval.config import Settings
from retrieval.types import Answer

_LOCK = threading.Lock()
_PIPELINES: dict[Settings, "Pipeline"] = {}


def _timed(name: str, fn):
    def run(state: dict) -> dict:
        started = time.perf_counter()
        out = fn(state)
        out["timings_ms"][name] = (time.perf_counter() - started) * 1000
        return out

    return run


class Pipeline:
    def __init__(self, settings: Settings):
        from langchain_core.runnables import RunnableLambda

        from retrieval.models import get_embeddings, get_generator
        from retrieval.reader import Reader
        from retrieval.search import HybridRetriever, KeywordIndex
        from retrieval.store import Store
        from retrieval.verify import Verifier

        self.settings = settings
        self.generator = get_generator(settings)  # config errors surface before models load
        self.embeddings = get_embeddings(settings.embed_model)
        self.store = Store(settings, self.embeddings)
        self.root = self.store.corpus_root()
        self.keyword = KeywordIndex(settings.home / "bm25")
        self.embeddings.embed_query("warm up")  # load the model now, not on the first question
        self.retriever = HybridRetriever(self.store, self.keyword, k=settings.top_k)
        self.verifier = Verifier(self.root)
        self.reader = Reader(self.generator, self.embeddings, self.verifier, settings.min_evidence)
        self.backend = settings.llm
        self._ask_lock = threading.Lock()  # one question at a time per process (CPU-bound; caches are shared)
        self.chain = (RunnableLambda(_timed("rewrite", self._rewrite))
                      | RunnableLambda(_timed("retrieve", self._retrieve))
                      | RunnableLambda(_timed("answer", self._answer))
                      | RunnableLambda(_timed("verify", self._verify)))

    # ------------------------------------------------------------------ stages
    def _rewrite(self, state: dict) -> dict:
        state["standalone"] = self.reader.rewrite(state["question"], state["history"])
        return state

    def _retrieve(self, state: dict) -> dict:
        state["qvec"] = self.embeddings.embed_query(state["standalone"])
        state["passages"] = self.retriever.run(state["standalone"], state["qvec"])
        return state

    def _answer(self, state: dict) -> dict:
        state["reading"] = self.reader.run(state["standalone"], state["qvec"], state["passages"])
        return state

    def _verify(self, state: dict) -> dict:
        from retrieval.reader import render

        state["answer"] = render(state["question"], state["standalone"], state["reading"], state["passages"],
                                 self.verifier, self.backend)
        return state

    # ------------------------------------------------------------------ API
    def info(self) -> dict:
        """What `newsdesk serve` reports at ``GET /v1/health`` (and the REPL prints on start)."""
        manifest = self.store.read_manifest()
        chat_model = getattr(self.generator, "_model", None)
        model = (Path(self.generator.path).name if hasattr(self.generator, "path") else
                 getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None) or "none")
        return {"index": {"chunks": self.store.count(), "sources": len({r.get("source") for r in self.keyword.rows}),
                          "corpus_root": str(self.root), "last_ingest": manifest.get("updated_at"),
                          "home": str(self.settings.home)},
                "backend": self.backend, "model": str(model), "embeddings": self.settings.embed_model,
                "threshold": self.reader.threshold}

    def ask(self, question: str, history: Sequence[Sequence[str]] = ()) -> Answer:
        with self._ask_lock:
            return self._ask(question, history)

    def _ask(self, question: str, history: Sequence[Sequence[str]]) -> Answer:
        from retrieval.question import has_words, prepare
        from retrieval.reader import abstention

        started = time.perf_counter()
        question, notes = prepare(question, self.settings.max_question_chars)
        history = [[prepare(str(q), self.settings.max_question_chars)[0] if str(q).strip() else "", str(a)]
                   for q, a, *_ in history]
        if not has_words(question):
            answer = abstention(question, question, [], self.backend, notes)
            answer.answer = ("That has no words to search for. Ask a question about the articles in words, "
                             "e.g. “Who is Juan Guaido?”")
            answer.timings_ms = {"total": (time.perf_counter() - started) * 1000}
            return answer
        state = self.chain.invoke({"question": question, "history": history, "timings_ms": {}})
        answer: Answer = state["answer"]
        answer.notes = notes + answer.notes
        answer.timings_ms = dict(state["timings_ms"])
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000
        return answer


def get_pipeline(settings: Settings | None = None):
    """The process-wide pipeline for these settings (built on first use); with
    ``NEWSDESK_SERVER_URL`` set, a client of that `newsdesk serve` instead (loads no model)."""
    settings = settings or Settings.from_env()
    if settings.server_url:
        from retrieval.config import env
        from retrieval.remote import RemotePipeline

        return RemotePipeline(settings.server_url, timeout=float(env("NEWSDESK_SERVER_TIMEOUT")))
    with _LOCK:
        if settings not in _PIPELINES:
            _PIPELINES[settings] = Pipeline(settings)
        return _PIPELINES[settings]
