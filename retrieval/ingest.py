"""load -> clean -> chunk -> embed -> upsert, idempotent and incremental.

The index mirrors the folder it was built from: unchanged files cost nothing, a changed
file's chunks are replaced, a file that disappeared loses its chunks.

Crash safety: a run may be killed at any moment (SIGKILL, power cut of the process) and
the next run repairs the index. Each run compares the chunks the corpus should produce
(chunking is cheap; only embedding is not) with the rows actually in Chroma, row by row:
it upserts every chunk that is missing or differs and deletes every row nobody wants. So
a document half written by a killed run is completed, not taken for unchanged. New chunks
are written before old ones are deleted, so an interrupted run never leaves a file with no
chunks. The BM25 index is rebuilt whenever its rows differ from Chroma's (not only when
this run changed something: a killed run may have changed Chroma and died before BM25),
it is swapped in whole, and the manifest is written last, atomically.

Embeddings are cached by content: every row carries the hash of its text, and a chunk
whose text is already stored (a renamed or copied file, a paragraph that two articles
share, an edit elsewhere in the file) reuses that row's vector instead of being embedded.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from retrieval.chunking import chunk_document
from retrieval.config import Settings
from retrieval.errors import NewsdeskError
from retrieval.loaders import iter_corpus
from retrieval.types import Chunk


@dataclass
class IngestReport:
    root: str
    files: int = 0  # files that produced at least one article
    documents: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0
    chunks_embedded: int = 0  # chunks written that needed the model
    chunks_reused: int = 0  # chunks written whose text was already embedded (the embedding cache)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.chunks_added or self.chunks_removed)


def common_root(paths: list[Path]) -> Path:
    resolved = [p.resolve() for p in paths]
    if len(resolved) == 1:
        return resolved[0] if resolved[0].is_dir() else resolved[0].parent
    import os

    root = Path(os.path.commonpath([str(p) for p in resolved]))
    return root if root.is_dir() else root.parent


def _row(c) -> tuple:
    """What a stored chunk must hold to count as written (a Chunk or a store.StoredChunk)."""
    return (c.id, c.source, c.title, c.start, c.end, c.text, c.doc_hash)


def _keyword_rows_match(directory: Path, chunks) -> bool:
    """Does the BM25 index in ``directory`` load, and hold exactly these chunks?"""
    from retrieval.search import TOKENIZER_VERSION, KeywordIndex

    try:
        if (directory / "tokenizer.txt").read_text(encoding="utf-8") != TOKENIZER_VERSION:
            return False  # built with older tokens
        rows = KeywordIndex(directory).rows
    except Exception:  # missing, half deleted, unreadable: rebuild it
        return False
    want = {(c.id, c.source, c.title, c.start, c.end, c.text) for c in chunks}
    got = {(r.get("id"), r.get("source"), r.get("title"), r.get("start"), r.get("end"), r.get("text"))
           for r in rows if isinstance(r, dict)}
    return len(rows) == len(want) and got == want


def ingest(paths: list[Path], settings: Settings, store=None, keyword_index=None,
           progress: Callable[[int, int], None] | None = None, rebuild: bool = False) -> IngestReport:
    """Bring the index in line with ``paths``. ``progress(done, total)`` is called per batch."""
    from retrieval.search import KeywordIndex
    from retrieval.store import Store

    for p in paths:
        if not p.exists():
            raise NewsdeskError(f"{p} does not exist; give a folder or files of articles, e.g. `newsdesk ingest corpus/`.")
    started = time.perf_counter()
    root = common_root(paths)
    if store is None:
        from retrieval.models import get_embeddings

        store = Store(settings, get_embeddings(settings.embed_model))
    report = IngestReport(root=str(root))

    manifest = store.read_manifest()
    if manifest.get("embed_model") not in (None, settings.embed_model) and not rebuild:
        raise NewsdeskError(f"The index in {settings.home}/ was built with embedding model "
                            f"{manifest['embed_model']!r}, not {settings.embed_model!r}; run "
                            "`newsdesk ingest --rebuild` to re-embed everything.")
    # What is really in Chroma, row by row (not what the manifest says: a killed run may
    # have written some rows of a document and not others).
    stored = {c.id: c for c in store.all_chunks()}
    if rebuild:
        store.delete(list(stored))
        report.chunks_removed += len(stored)
        stored = {}

    wanted: set[str] = set()
    todo: list[Chunk] = []  # chunks missing from Chroma or stored differently
    for path, docs, reason in iter_corpus(paths, root=root, max_bytes=settings.max_file_bytes):
        if reason is not None:
            report.skipped.append((_rel(path, root), reason))
            continue
        report.files += 1
        for doc in docs or []:
            report.documents += 1
            for chunk in chunk_document(doc):
                if chunk.id in wanted:  # cannot happen (ids hold the source); never upsert an id twice
                    continue
                wanted.add(chunk.id)
                old = stored.get(chunk.id)
                if old is None:
                    report.chunks_added += 1
                else:
                    report.chunks_unchanged += 1
                if old is None or _row(old) != _row(chunk):
                    todo.append(chunk)

    total = len(todo)
    if progress:
        progress(0, total)
    step = settings.ingest_batch
    for i in range(0, total, step):
        batch = todo[i:i + step]
        embedded = store.add(batch)
        report.chunks_embedded += embedded
        report.chunks_reused += len(batch) - embedded
        if progress:
            progress(min(i + step, total), total)
    stale = [i for i in stored if i not in wanted]
    store.delete(stale)
    report.chunks_removed += len(stale)

    keyword_dir = settings.home / "bm25"
    final = store.all_chunks()
    if todo or stale or rebuild or not _keyword_rows_match(keyword_dir, final):
        KeywordIndex.build(final, keyword_dir)
    store.write_manifest({"corpus_root": str(root), "embed_model": settings.embed_model,
                          "collection": settings.collection, "chunks": len(final),
                          "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    report.seconds = time.perf_counter() - started
    return report


def _rel(path: Path, root: Path) -> str:
    """The path as the user knows it: relative to the corpus, the link's own name for a symlink."""
    try:
        return path.absolute().relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, RuntimeError, OSError):  # RuntimeError: a symlink loop
        return str(path)
