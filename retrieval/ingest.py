"""load -> clean -> chunk -> embed -> upsert, idempotent and incremental.

The index mirrors the folder it was built from: unchanged files cost nothing, a changed
file's chunks are replaced, a file that disappeared loses its chunks. New chunks are
written before old ones are deleted, so an interrupted run never leaves a file with no
chunks; the next run finishes the job.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from retrieval.chunking import chunk_document, doc_hash
from retrieval.config import Settings
from retrieval.errors import NewsdeskError
from retrieval.loaders import iter_corpus
from retrieval.types import Chunk

BATCH = 64


@dataclass
class IngestReport:
    root: str
    files: int = 0  # files that produced at least one article
    documents: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    chunks_unchanged: int = 0
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
    existing = store.sources()
    if rebuild or (manifest.get("corpus_root") and manifest["corpus_root"] != str(root)):
        # A different folder (or a forced rebuild): start the collection afresh.
        store.delete([i for _, ids in existing.values() for i in ids])
        report.chunks_removed += sum(len(ids) for _, ids in existing.values())
        existing = {}

    seen: set[str] = set()
    todo: list[tuple[list[Chunk], list[str]]] = []  # (new chunks, old ids to delete)
    for path, docs, reason in iter_corpus(paths, root=root, max_bytes=settings.max_file_bytes):
        if reason is not None:
            report.skipped.append((_rel(path, root), reason))
            continue
        report.files += 1
        for doc in docs or []:
            report.documents += 1
            seen.add(doc.source)
            h = doc_hash(doc)
            old_hash, old_ids = existing.get(doc.source, ("", []))
            if old_hash == h and old_ids:
                report.chunks_unchanged += len(old_ids)
                continue
            todo.append((chunk_document(doc), old_ids))

    total = sum(len(new) for new, _ in todo)
    done = 0
    if progress:
        progress(0, total)
    batch: list[Chunk] = []
    for new, old_ids in todo:
        batch.extend(new)
        while len(batch) >= BATCH:
            store.add(batch[:BATCH])
            done += BATCH
            batch = batch[BATCH:]
            if progress:
                progress(done, total)
    if batch:
        store.add(batch)
        done += len(batch)
        if progress:
            progress(done, total)
    for new, old_ids in todo:
        stale = set(old_ids) - {c.id for c in new}
        store.delete(stale)
        report.chunks_added += len({c.id for c in new} - set(old_ids))
        report.chunks_unchanged += len({c.id for c in new} & set(old_ids))
        report.chunks_removed += len(stale)
    for source, (_, ids) in existing.items():
        if source not in seen:
            store.delete(ids)
            report.chunks_removed += len(ids)

    keyword_dir = settings.home / "bm25"
    if report.changed or not KeywordIndex.exists(keyword_dir):
        KeywordIndex.build(store.all_chunks(), keyword_dir)
    store.write_manifest({"corpus_root": str(root), "embed_model": settings.embed_model,
                          "collection": settings.collection, "chunks": store.count(),
                          "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S")})
    report.seconds = time.perf_counter() - started
    return report


def _rel(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)
