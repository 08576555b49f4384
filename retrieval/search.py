"""Dense search in Chroma plus BM25 keyword search (bm25s), fused by reciprocal rank
fusion, then diversified so that near-duplicate passages from different articles (one
wire story syndicated by four outlets) do not crowd out everything else.
"""
from __future__ import annotations

import json
import math
import re
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from retrieval.errors import NoIndexError
from retrieval.types import Passage

RRF_K = 60
TOKEN_RE = re.compile(r"\w+", re.UNICODE)
# "re-elected" and "reelected" are one word; bump TOKENIZER_VERSION when ``terms`` changes so
# that ingest rebuilds the keyword index it wrote with the old tokens.
HYPHEN_PREFIX_RE = re.compile(r"\b(re|co|pre|non)-(?=[a-z])")
TOKENIZER_VERSION = "terms-v2"


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def fold(text: str) -> str:
    """Lower-case and strip accents so Guaidó matches Guaido."""
    import unicodedata

    text = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch)).replace("’", "'")


def words_of(text: str) -> list[str]:
    """Accent-folded lower-case words, "re-elected" joined to "reelected"."""
    return TOKEN_RE.findall(HYPHEN_PREFIX_RE.sub(r"\1", fold(text)))


def terms(text: str) -> list[str]:
    """Content-word stems, accent-folded, stopwords removed (used by BM25 and by answer scoring)."""
    words = [w for w in words_of(text) if w not in stopwords() and (len(w) > 1 or w.isdigit())]
    return _stemmer().stemWords(words)


# NLTK's English stopword list: words that carry no topic (used to pick a question's informative words).
QUERY_STOPWORDS = frozenset("""i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
she her hers herself it its itself they them their theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing a an the and but if or because as until while of at by for
with about against between into through during before after above below to from up down in out on off over under again
further then once here there when where why how all any both each few more most other some such no nor not only own same
so than too very s t can will just don should now d ll m o re ve y ain aren couldn didn doesn hadn hasn haven isn ma
mightn mustn needn shan shouldn wasn weren won wouldn""".split())


class Retriever(Protocol):
    def run(self, question: str, query_vector: list[float]) -> list[Passage]: ...


class KeywordIndex:
    """A persisted bm25s index plus the chunk rows it returns."""

    ROWS = "rows.jsonl"

    def __init__(self, directory: Path):
        import bm25s

        if not self.exists(directory):
            raise NoIndexError(f"No keyword index in {directory.parent}/ - run `newsdesk ingest corpus/` first.")
        self.bm25 = bm25s.BM25.load(str(directory), show_progress=False)
        with open(directory / self.ROWS, encoding="utf-8") as fh:
            self.rows = [json.loads(line) for line in fh]
        self.n_docs = len(self.rows)
        self.df: dict[str, int] = json.loads((directory / "df.json").read_text(encoding="utf-8"))

    @staticmethod
    def exists(directory: Path) -> bool:
        return (directory / KeywordIndex.ROWS).exists() and (directory / "df.json").exists()

    @classmethod
    def build(cls, chunks, directory: Path) -> None:
        """Rebuild from stored chunks; written to a temp folder then swapped in."""
        import bm25s

        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        chunks = sorted(chunks, key=lambda c: (c.source, c.start, c.id))
        tokens = [terms(f"{c.title} {c.text}") or ["_empty_"] for c in chunks]
        retriever = bm25s.BM25()
        if chunks:
            retriever.index(tokens, show_progress=False)
        else:
            retriever.index([["_empty_"]], show_progress=False)
        retriever.save(str(tmp), show_progress=False)
        (tmp / "tokenizer.txt").write_text(TOKENIZER_VERSION, encoding="utf-8")
        df: dict[str, int] = {}
        for toks in tokens:
            for t in set(toks):
                df[t] = df.get(t, 0) + 1
        (tmp / "df.json").write_text(json.dumps(df), encoding="utf-8")
        with open(tmp / cls.ROWS, "w", encoding="utf-8") as fh:
            for c in chunks:
                fh.write(json.dumps({"id": c.id, "source": c.source, "title": c.title, "start": c.start,
                                     "end": c.end, "text": c.text}, ensure_ascii=False) + "\n")
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)

    def idf(self, term: str) -> float:
        """Smoothed inverse document frequency of a stem (high for rare terms, max for unseen ones)."""
        return math.log(1 + (self.n_docs + 1) / (self.df.get(term, 0) + 0.5))

    def search(self, question: str, k: int) -> list[Passage]:
        query = terms(question)
        if not query or not self.rows:
            return []
        vocab = self.bm25.vocab_dict
        ids = [[vocab[t] for t in query if t in vocab]]
        if not ids[0]:
            return []
        docs, scores = self.bm25.retrieve(ids, k=min(k, len(self.rows)), show_progress=False)
        out = []
        for idx, score in zip(docs[0], scores[0]):
            if score <= 0:
                continue
            row = self.rows[int(idx)]
            out.append(Passage(row["source"], row["title"], row["start"], row["end"], row["text"],
                               float(score), row["id"]))
        return out


class HybridRetriever:
    """Dense + BM25, fused with reciprocal rank fusion, then diversified."""

    def __init__(self, store, keyword: KeywordIndex, k: int = 8, candidates: int = 30,
                 duplicate_threshold: float = 0.9):
        if k < 1 or candidates < k:
            raise ValueError(f"need 1 <= k <= candidates, got k={k}, candidates={candidates}")
        self.store, self.keyword = store, keyword
        self.k, self.candidates, self.duplicate_threshold = k, candidates, duplicate_threshold

    def run(self, question: str, query_vector: list[float]) -> list[Passage]:
        dense = self.store.dense(query_vector, self.candidates)
        sparse = self.keyword.search(question, self.candidates)
        fused: dict[str, Passage] = {}
        score: dict[str, float] = {}
        for ranking in (dense, sparse):
            for rank, p in enumerate(ranking):
                fused.setdefault(p.chunk_id, p)
                score[p.chunk_id] = score.get(p.chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
        ordered = sorted(fused.values(), key=lambda p: -score[p.chunk_id])
        for p in ordered:
            p.score = score[p.chunk_id]
        return self._diversify(ordered)[: self.k]

    def _diversify(self, ordered: list[Passage]) -> list[Passage]:
        """Keep the order, but move a passage that nearly duplicates a better one from
        another article behind all distinct passages."""
        vectors = self.store.embeddings_for([p.chunk_id for p in ordered[: self.candidates]])
        kept: list[Passage] = []
        demoted: list[Passage] = []
        for p in ordered:
            v = vectors.get(p.chunk_id)
            dup = v is not None and any(
                q.source != p.source and vectors.get(q.chunk_id) is not None
                and _cos(v, vectors[q.chunk_id]) >= self.duplicate_threshold for q in kept)
            (demoted if dup else kept).append(p)
        return kept + demoted


def _cos(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / n) if n else 0.0
