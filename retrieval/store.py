"""The one place that talks to Chroma, embedded (``PersistentClient``) or as a server
(``HttpClient`` when ``NEWSDESK_CHROMA_URL`` is set), through ``langchain-chroma``.

LangChain ``Document``s and Chroma rows are mapped to the project's ``Chunk`` and
``Passage`` here and nowhere else.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator
from urllib.parse import urlparse

from retrieval.config import Settings
from retrieval.errors import ConfigError, NoIndexError, StoreError
from retrieval.types import Chunk, Passage

MANIFEST = "index.json"


def text_hash(text: str) -> str:
    """The embedding cache's key: what is embedded is exactly the chunk's text."""
    import hashlib

    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class StoredChunk:
    id: str
    source: str
    title: str
    start: int
    end: int
    text: str
    doc_hash: str


def _client(settings: Settings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"NEWSDESK_CHROMA_URL={settings.chroma_url!r} must look like http://host:port.")
        try:
            return chromadb.HttpClient(host=url.hostname, port=url.port or (443 if url.scheme == "https" else 8000),
                                       ssl=url.scheme == "https", settings=chroma_settings)
        except Exception as exc:
            raise StoreError(f"Cannot reach the Chroma server at {settings.chroma_url} ({exc}). Start it with "
                             "`chroma run --path DIR --port PORT`, or unset NEWSDESK_CHROMA_URL to use the "
                             "embedded store.") from exc
    settings.home.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.home / "chroma"), settings=chroma_settings)


class Store:
    """Chunks and their embeddings in one Chroma collection."""

    def __init__(self, settings: Settings, embeddings):
        from langchain_chroma import Chroma

        self.settings = settings
        self.embeddings = embeddings
        self.client = _client(settings)
        try:
            self.collection = self.client.get_or_create_collection(
                settings.collection, metadata={"hnsw:space": "cosine"})
        except Exception as exc:
            raise StoreError(f"Chroma failed to open collection {settings.collection!r}: {exc}") from exc
        self.vectorstore = Chroma(client=self.client, collection_name=settings.collection,
                                  embedding_function=embeddings)

    # ------------------------------------------------------------------ manifest
    @property
    def manifest_path(self) -> Path:
        return self.settings.home / MANIFEST

    def read_manifest(self) -> dict:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.manifest_path} is unreadable ({exc}); run `newsdesk ingest --rebuild`.") from exc

    def write_manifest(self, data: dict) -> None:
        self.manifest_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        tmp.replace(self.manifest_path)

    def corpus_root(self) -> Path:
        root = self.read_manifest().get("corpus_root")
        if not root:
            raise NoIndexError(f"No index found in {self.settings.home}/ - run `newsdesk ingest corpus/` first.")
        return Path(root)

    # ------------------------------------------------------------------ rows
    def count(self) -> int:
        return self.collection.count()

    def sources(self) -> dict[str, tuple[str, list[str]]]:
        """source -> (doc_hash, chunk ids) for everything in the collection."""
        out: dict[str, tuple[str, list[str]]] = {}
        for row_id, meta in self._iter_rows(include=["metadatas"]):
            doc_hash, ids = out.get(meta["source"], (meta.get("doc_hash", ""), []))
            ids.append(row_id)
            out[meta["source"]] = (doc_hash, ids)
        return out

    def _iter_rows(self, include: list[str], batch: int = 5000) -> Iterator[tuple]:
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=batch, offset=offset)
            ids = got["ids"]
            if not ids:
                return
            cols = [got[name] for name in include]
            for i, row_id in enumerate(ids):
                yield (row_id, *(col[i] for col in cols))
            offset += len(ids)

    def all_chunks(self) -> list[StoredChunk]:
        return [StoredChunk(row_id, m["source"], m.get("title", ""), int(m["start"]), int(m["end"]), doc,
                            m.get("doc_hash", ""))
                for row_id, meta_doc in ((r[0], r[1:]) for r in self._iter_rows(["metadatas", "documents"]))
                for m, doc in [meta_doc]]

    def add(self, chunks: list[Chunk]) -> int:
        """Upsert one batch of chunks; returns how many texts had to be embedded.

        Embeddings are cached by content: a text already stored under any id (same
        ``text_hash``) reuses its vector, and a text repeated within the batch is embedded once.
        """
        if not chunks:
            return 0
        hashes = [text_hash(c.text) for c in chunks]
        vectors = self.embeddings_by_hash(sorted(set(hashes)))
        text_of = dict(zip(hashes, (c.text for c in chunks)))
        todo = [h for h in text_of if h not in vectors]
        if todo:
            vectors.update(zip(todo, self.embeddings.embed_documents([text_of[h] for h in todo])))
        try:
            self.collection.upsert(
                ids=[c.id for c in chunks], documents=[c.text for c in chunks],
                embeddings=[list(map(float, vectors[h])) for h in hashes],
                metadatas=[{"source": c.source, "title": c.title, "start": c.start, "end": c.end,
                            "doc_hash": c.doc_hash, "text_hash": h} for c, h in zip(chunks, hashes)])
        except Exception as exc:
            raise self._error("write", exc) from exc
        return len(todo)

    def embeddings_by_hash(self, hashes: list[str]) -> dict[str, list[float]]:
        """text hash -> stored vector, for the hashes some row already holds."""
        out: dict[str, list[float]] = {}
        for i in range(0, len(hashes), 500):
            try:
                got = self.collection.get(where={"text_hash": {"$in": hashes[i:i + 500]}},
                                          include=["metadatas", "embeddings"])
            except Exception as exc:
                raise self._error("read", exc) from exc
            for meta, vec in zip(got["metadatas"], got["embeddings"]):
                out.setdefault(meta["text_hash"], vec)
        return out

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self.collection.delete(ids=ids[i:i + 5000])

    def embeddings_for(self, ids: list[str]) -> dict[str, list[float]]:
        if not ids:
            return {}
        try:
            got = self.collection.get(ids=ids, include=["embeddings"])
        except Exception as exc:
            raise self._error("read", exc) from exc
        return dict(zip(got["ids"], got["embeddings"]))

    def _error(self, doing: str, exc: Exception) -> StoreError:
        """A message that says what to do: the server is down, or the embedded store is broken."""
        if self.settings.chroma_url:
            return StoreError(f"The Chroma server at {self.settings.chroma_url} did not answer ({type(exc).__name__}). "
                              "Check that `chroma run` is up there; newsdesk reconnects by itself when it is back. "
                              "Or unset NEWSDESK_CHROMA_URL to use the embedded store.")
        return StoreError(f"Chroma {doing} failed in {self.settings.home}/chroma ({exc}); "
                          "run `newsdesk ingest --rebuild` if the index is damaged.")

    def dense(self, query_vector: list[float], k: int) -> list[Passage]:
        """Nearest chunks by cosine similarity, mapped to Passages (score = similarity)."""
        try:
            hits = self.vectorstore.similarity_search_by_vector_with_relevance_scores(query_vector, k=k)
        except Exception as exc:
            raise self._error("search", exc) from exc
        return [Passage(source=doc.metadata["source"], title=doc.metadata.get("title", ""),
                        start=int(doc.metadata["start"]), end=int(doc.metadata["end"]),
                        text=doc.page_content, score=1.0 - float(dist), chunk_id=doc.id or "")
                for doc, dist in hits]
