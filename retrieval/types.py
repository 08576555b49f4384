"""The project's own data types. LangChain's ``Document`` is mapped to these at one
boundary (``retrieval/store.py``) so the rest of the code and the tests never depend
on LangChain internals.

Offsets (``start``/``end``) are character offsets into a document's *canonical text*:
for ``.txt``/``.md`` files that is the file's content decoded as UTF-8, exactly as read,
so ``open(path).read()[start:end]`` gives the quoted text. For ``.html``/``.json``/
``.jsonl`` it is the readable text the loader extracts (deterministically), and the
verifier re-runs the loader to check a quote.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One article as loaded from disk."""

    source: str  # path relative to the corpus root; "file.jsonl#3" for the 4th record of a JSONL file
    title: str
    text: str  # canonical text; offsets point into this
    spans: tuple[tuple[int, int], ...] = ()  # article-text spans kept by the cleaner (offsets into text)
    url: str | None = None
    outlet: str | None = None  # the "source" field of JSON articles (publisher name)
    published_at: str | None = None


@dataclass(frozen=True)
class Chunk:
    """A retrievable piece of one document: whole sentences, offsets into its text."""

    id: str
    source: str
    title: str
    start: int
    end: int
    text: str
    doc_hash: str  # content hash of the whole document, used for incremental ingest


@dataclass
class Passage:
    """A chunk returned by retrieval, with its fused score."""

    source: str
    title: str
    start: int
    end: int
    text: str
    score: float
    chunk_id: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"source": self.source, "title": self.title, "start": self.start,
                "end": self.end, "score": round(float(self.score), 6), "text": self.text}


@dataclass
class Citation:
    """A verified quote: ``quote == canonical_text(source)[start:end]``."""

    id: int
    source: str
    title: str
    start: int
    end: int
    quote: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What every interface (CLI, REPL, Slack, eval) renders."""

    question: str
    standalone_question: str
    answer: str  # one to three sentences with [n] markers, or the abstention message
    short_answer: str | None
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    backend: str = "local"
    notes: list[str] = field(default_factory=list)  # e.g. "sources disagree", "LLM failed, fell back"
    confidence: float = 0.0  # the judge's P(yes) for the best evidence (the pre-ranking score without a model)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "answer": self.answer,
            "short_answer": self.short_answer,
            "abstained": self.abstained,
            "citations": [c.to_json() for c in self.citations],
            "passages": [p.to_json() for p in self.passages],
            "timings_ms": {k: round(v, 1) for k, v in self.timings_ms.items()},
            "backend": self.backend,
            "notes": list(self.notes),
            "confidence": round(float(self.confidence), 4),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Answer":
        """The inverse of ``to_json`` (for answers that come back from ``newsdesk serve``)."""
        fields = {k: data[k] for k in ("question", "standalone_question", "answer", "short_answer", "abstained")}
        return cls(**fields,
                   citations=[Citation(**c) for c in data.get("citations", [])],
                   passages=[Passage(**p) for p in data.get("passages", [])],
                   timings_ms=dict(data.get("timings_ms", {})), backend=data.get("backend", ""),
                   notes=list(data.get("notes", [])), confidence=float(data.get("confidence", 0.0)))
