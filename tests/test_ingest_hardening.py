"""Ingest over bad corpora and across crashes: the index always ends up identical to a
clean ingest of the same folder.

The fast tests use a real embedded Chroma with a tiny deterministic embedder and stop
ingest at every store operation (an exception there leaves exactly what a SIGKILL at that
moment would: ingest has no cleanup code). The slow test SIGKILLs the real CLI."""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from retrieval.config import Settings
from retrieval.ingest import ingest

BATCH = 64  # NEWSDESK_INGEST_BATCH for the ingest processes killed below: several batches per corpus

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
TOPICS = ["bridge", "library", "harbour", "school", "market", "railway", "clinic", "stadium", "museum", "airport",
          "reservoir", "tunnel", "park", "theatre", "hospital", "ferry", "tramway", "archive", "observatory", "zoo"]


def article(n: int, version: int = 0, paragraphs: int = 9) -> str:
    """A small, distinct, sentence-rich article (about four chunks; two with ``paragraphs=4``)."""
    topic = TOPICS[n % len(TOPICS)]
    lines = [f"City {topic} report number {n}", ""]
    for k in range(paragraphs):
        lines.append(f"Officials said the {topic} project number {n} reached stage {k} of its plan on day "
                     f"{k + version} after a long public debate about costs, delays and the design. "
                     f"Residents of district {n} asked for {k + 2} more public meetings before the vote.")
        lines.append("")
    return "\n".join(lines)


class FakeEmbeddings:
    """Deterministic bag-of-words vectors: same text, same vector, in any batch."""

    def _vector(self, text: str) -> list[float]:
        v = [0.0] * 32
        v[0] = 1.0
        for word in text.lower().split():
            v[1 + int(hashlib.md5(word.encode()).hexdigest(), 16) % 31] += 1.0
        return v

    def embed_documents(self, texts):
        return [self._vector(t) for t in texts]

    def embed_query(self, text):
        return self._vector(text)


def _settings(home: Path, monkeypatch) -> Settings:
    monkeypatch.setenv("NEWSDESK_HOME", str(home))
    monkeypatch.delenv("NEWSDESK_CHROMA_URL", raising=False)  # the embedded store, under tmp_path
    return Settings.from_env()


def _store(settings: Settings):
    from langchain_core.embeddings import Embeddings

    from retrieval.store import Store

    class _Fake(FakeEmbeddings, Embeddings):
        pass

    return Store(settings, _Fake())


def snapshot(settings: Settings, store=None) -> dict:
    """Everything a reader of the index sees, independent of the corpus folder's location."""
    store = store or _store(settings)
    chunks = sorted((c.id, c.source, c.title, c.start, c.end, c.text, c.doc_hash) for c in store.all_chunks())
    vectors = store.embeddings_for([c[0] for c in chunks])
    bm25 = settings.home / "bm25"
    rows = [json.loads(line) for line in (bm25 / "rows.jsonl").read_text(encoding="utf-8").splitlines()]
    manifest = json.loads((settings.home / "index.json").read_text(encoding="utf-8"))
    from retrieval.search import KeywordIndex

    KeywordIndex(bm25)  # loads
    return {"chunks": chunks, "vectors": {k: [round(float(x), 5) for x in v] for k, v in vectors.items()},
            "bm25_rows": rows, "df": json.loads((bm25 / "df.json").read_text()),
            "manifest": {k: v for k, v in manifest.items() if k not in ("updated_at", "corpus_root")}}


def expected_ids(folder: Path, max_bytes: int) -> set[str]:
    from retrieval.chunking import chunk_document
    from retrieval.loaders import iter_corpus

    return {c.id for _, docs, reason in iter_corpus([folder], max_bytes=max_bytes) if reason is None for d in docs
            for c in chunk_document(d)}


# --------------------------------------------------------------------------- bad corpus, end to end
def test_a_bad_corpus_ingests_the_good_files_and_lists_the_rest(tmp_path, monkeypatch):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    for n in range(3):
        (corpus / f"good{n}.txt").write_text(article(n))
    (corpus / "page.html").write_text("<html><head><script>var LEAK = 1;</script><style>.LEAK{}</style></head>"
                                      "<body><p>The harbour reopened to ships on Monday.</p>"
                                      "<script>LEAK()</script></body></html>")
    (corpus / "zcopy.txt").write_text(article(1))
    (corpus / "empty.txt").write_text("")
    (corpus / "bin.txt").write_bytes(b"\x00\x01\x02")
    (corpus / "latin.txt").write_bytes("caf\u00e9\n".encode("latin-1"))
    (corpus / "big.txt").write_text(article(9) + "filler line\n" * 100_000)  # 1.2 MB
    (outside / "o.txt").write_text(article(7))
    (corpus / "escape.txt").symlink_to(outside / "o.txt")
    monkeypatch.setenv("NEWSDESK_MAX_FILE_MB", "1")
    settings = _settings(tmp_path / "home", monkeypatch)
    assert settings.max_file_bytes == 1024 * 1024
    store = _store(settings)

    report = ingest([corpus], settings, store=store)

    reasons = dict(report.skipped)
    assert set(reasons) == {"zcopy.txt", "empty.txt", "bin.txt", "latin.txt", "big.txt", "escape.txt"}
    assert reasons["zcopy.txt"] == "duplicate of good1.txt (same bytes)"
    assert "too large" in reasons["big.txt"] and "outside the corpus" in reasons["escape.txt"]
    assert report.files == 4 and report.documents == 4
    snap = snapshot(settings, store)
    ids = {c[0] for c in snap["chunks"]}
    assert ids == expected_ids(corpus, settings.max_file_bytes) == {r["id"] for r in snap["bm25_rows"]}
    assert {c[1] for c in snap["chunks"]} == {"good0.txt", "good1.txt", "good2.txt", "page.html"}
    assert not any("LEAK" in c[5] for c in snap["chunks"])
    assert snap["manifest"]["chunks"] == len(ids)
    # unchanged folder: nothing to do, nothing rebuilt
    again = ingest([corpus], settings, store=store)
    assert (again.chunks_added, again.chunks_removed) == (0, 0) and snapshot(settings, store) == snap


# --------------------------------------------------------------------------- repairs
@pytest.fixture()
def small_index(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(4):
        (corpus / f"a{n}.txt").write_text(article(n))
    settings = _settings(tmp_path / "home", monkeypatch)
    store = _store(settings)
    ingest([corpus], settings, store=store)
    return corpus, settings, store


def test_a_document_with_missing_chunks_is_completed(small_index):
    """A run killed between two batches leaves a document with some of its chunks, all
    carrying the new document hash: that must not pass for unchanged."""
    corpus, settings, store = small_index
    clean = snapshot(settings, store)
    victims = [c[0] for c in clean["chunks"] if c[1] == "a2.txt"]
    assert len(victims) >= 2
    store.delete(victims[1:])
    report = ingest([corpus], settings, store=store)
    assert report.chunks_added == len(victims) - 1
    assert snapshot(settings, store) == clean


def test_rows_nobody_wants_are_deleted(small_index):
    from retrieval.types import Chunk

    corpus, settings, store = small_index
    clean = snapshot(settings, store)
    store.add([Chunk("a1.txt:0-5:deadbeef00", "a1.txt", "x", 0, 5, "stale", "oldhash"),
               Chunk("gone.txt:0-5:deadbeef01", "gone.txt", "x", 0, 5, "gone!", "oldhash")])
    report = ingest([corpus], settings, store=store)
    assert report.chunks_removed == 2
    assert snapshot(settings, store) == clean


def test_a_damaged_or_stale_keyword_index_is_rebuilt_even_when_nothing_changed(small_index):
    corpus, settings, store = small_index
    clean = snapshot(settings, store)
    bm25 = settings.home / "bm25"
    for damage in ("rows.jsonl", "df.json", "vocab.index.json", "params.index.json", "stale-row", "bad-json",
                   "whole-dir"):
        if damage == "stale-row":
            rows = (bm25 / "rows.jsonl").read_text().splitlines()
            (bm25 / "rows.jsonl").write_text("\n".join(rows[1:]) + "\n")
        elif damage == "bad-json":
            (bm25 / "rows.jsonl").write_text('{"id": "x"\n')
        elif damage == "whole-dir":
            shutil.rmtree(bm25)
        else:
            (bm25 / damage).unlink()
        report = ingest([corpus], settings, store=store)
        assert (report.chunks_added, report.chunks_removed) == (0, 0)
        assert snapshot(settings, store) == clean, damage


# --------------------------------------------------------------------------- crash at every step
class Crash(BaseException):
    """Stands in for SIGKILL: nothing in ingest catches it."""


class CrashingStore:
    """The store, except that it dies before its write number ``at + 1``."""

    def __init__(self, store, at: int):
        self._store, self._at, self.log = store, at, []

    def __getattr__(self, name):
        return getattr(self._store, name)

    def _write(self, name: str, arg):
        arg = list(arg)
        if arg:
            if len(self.log) >= self._at:
                raise Crash(f"before {name} #{len(self.log) + 1}")
            self.log.append(f"{name}({len(arg)})")
        return getattr(self._store, name)(arg)

    def add(self, chunks):
        return self._write("add", chunks)

    def delete(self, ids):
        return self._write("delete", ids)


def _corpus(folder: Path, version: int) -> None:
    """Version 0: four articles of about two chunks. Version 1: one edited, one removed, one added."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    names = {0: [0, 1, 2, 3], 1: [0, 1, 3, 4]}[version]
    for n in names:
        (folder / f"art{n:02d}.txt").write_text(article(n, version=version if n == 1 else 0, paragraphs=4))


SCENARIOS = {  # name -> (corpus version before the crash (None: empty home), version crashed on, rebuild)
    "first-ingest": (None, 0, False),
    "update": (0, 1, False),
    "rebuild": (1, 1, True),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_crash_at_any_store_write_is_repaired_by_the_next_run(scenario, tmp_path, monkeypatch):
    monkeypatch.setenv("NEWSDESK_INGEST_BATCH", "3")  # documents straddle batches, as large ones do
    before, version, rebuild = SCENARIOS[scenario]
    corpus = tmp_path / "corpus"
    _corpus(corpus, version)
    reference = _settings(tmp_path / "clean", monkeypatch)
    ingest([corpus], reference, store=_store(reference))
    want = snapshot(reference)

    at, crashed = 0, True
    while crashed:
        settings = _settings(tmp_path / f"home{at}", monkeypatch)
        store = _store(settings)
        if before is not None:
            _corpus(corpus, before)
            ingest([corpus], settings, store=store)
            _corpus(corpus, version)
        crashing = CrashingStore(store, at)
        try:
            ingest([corpus], settings, store=crashing, rebuild=rebuild)
            crashed = False
        except Crash:
            pass
        ingest([corpus], settings, store=store)  # the next run, to completion
        assert snapshot(settings, store) == want, f"{scenario}: crashed after {crashing.log}"
        at += 1
    assert at >= 4  # several writes were interrupted


def test_a_crash_while_the_keyword_index_or_manifest_is_written_is_repaired(tmp_path, monkeypatch):
    from retrieval.search import KeywordIndex
    from retrieval.store import Store

    corpus = tmp_path / "corpus"
    _corpus(corpus, 1)
    reference = _settings(tmp_path / "clean", monkeypatch)
    ingest([corpus], reference, store=_store(reference))
    want = snapshot(reference)

    def half_swap(cls, chunks, directory):  # dies after deleting part of the old index
        for name in ("vocab.index.json", "data.csc.index.npy"):
            (directory / name).unlink(missing_ok=True)
        raise Crash("in KeywordIndex.build")

    def no_manifest(self, data):
        raise Crash("in write_manifest")

    for n, (target, name, fake) in enumerate([(KeywordIndex, "build", classmethod(half_swap)),
                                              (Store, "write_manifest", no_manifest)]):
        settings = _settings(tmp_path / f"home{n}", monkeypatch)
        _corpus(corpus, 0)
        ingest([corpus], settings, store=_store(settings))
        _corpus(corpus, 1)
        with monkeypatch.context() as mp:
            mp.setattr(target, name, fake)
            with pytest.raises(Crash):
                ingest([corpus], settings, store=_store(settings))
        ingest([corpus], settings, store=_store(settings))
        assert snapshot(settings) == want, name


# --------------------------------------------------------------------------- SIGKILL, for real
def _run_cli(args, env, cwd, timeout=240):
    return subprocess.run([sys.executable, "-m", "bot.cli", "ingest", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


class _ProgressReader(threading.Thread):
    """Follows the CLI's progress bar ("embedding chunks ━━━ 64/142") on its stderr. The
    bar advances right after each batch is stored, so it says which writes are done."""

    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.done, self.total = stream, -1, 0

    def run(self):
        tail = ""
        while data := os.read(self.stream.fileno(), 4096):
            tail = (tail + data.decode("utf-8", "replace"))[-4000:]
            found = re.findall(r"(\d+)/(\d+)", tail)
            if found:
                self.done, self.total = map(int, found[-1])


def _start_and_kill(args, env, cwd, rng, after_batches: bool) -> str:
    """Run `newsdesk ingest ARGS` and SIGKILL it at a seeded random moment: either 0.5-8 s
    after its start (mostly while it starts up and loads the model), or a random 0-0.4 s
    after a random batch of chunks was stored: one followed by another batch when there is
    one (the next is being embedded), else the last (stale rows, BM25, manifest follow)."""
    live = {"TTY_COMPATIBLE": "1", "TTY_INTERACTIVE": "1"}  # rich draws the bar into the pipe
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", *args], env={**env, **live}, cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    reader = _ProgressReader(proc.stderr)
    reader.start()
    started = time.monotonic()
    if after_batches:
        pick = rng.random()
        while proc.poll() is None and reader.total <= 0 and time.monotonic() - started < 120:
            time.sleep(0.005)
        batches = -(-reader.total // BATCH) if reader.total > 0 else 1
        # a boundary between two batches when there is one (a document may straddle it)
        target = min(reader.total, (1 + int(pick * max(1, batches - 1))) * BATCH)
        while proc.poll() is None and reader.done < target and time.monotonic() - started < 120:
            time.sleep(0.005)
        delay = rng.uniform(0.0, 0.4)
        when = f"{target}/{reader.total} chunks stored + {delay:.2f}s"
    else:
        delay = rng.uniform(0.5, 8.0)
        when = f"start + {delay:.2f}s"
    try:
        proc.wait(timeout=delay)
        outcome = "finished first"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the process group we started (start_new_session)
        proc.wait()
        outcome = f"killed at {time.monotonic() - started:.1f}s, progress {reader.done}/{reader.total}"
    reader.join(timeout=5)
    proc.stderr.close()
    return f"{' '.join(args[:-1]) or 'ingest'} {when}: {outcome}"


def _chroma_rows(home: Path) -> dict:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(home / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    got = client.get_collection(Settings.from_env().collection).get(include=["documents", "metadatas", "embeddings"])
    return {i: (doc, meta, emb) for i, doc, meta, emb in zip(got["ids"], got["documents"], got["metadatas"],
                                                              got["embeddings"])}


@pytest.mark.slow
def test_sigkilled_cli_ingest_always_recovers_to_a_clean_index(tmp_path, monkeypatch):
    """`newsdesk ingest` over corpus/ plus 20 small articles (about 140 chunks, three
    batches) is SIGKILLed four times at seeded random moments (twice 0.5-8 s after start,
    twice just after a batch was stored), each time run again to completion; the
    index must then equal a clean ingest of the same files in another home."""
    import numpy as np

    rng = random.Random(20190123)
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)

    def extra(version: int) -> None:
        for old in corpus.glob("extra_*.txt"):
            old.unlink()
        for n in range(20 + 2 * version):
            if version and (n + version) % 7 == 0:
                continue  # a few removed, a few added, a third edited in each later version
            (corpus / f"extra_{n:02d}.txt").write_text(article(n, version if n % 3 == 0 else 0))

    base_env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200", "NEWSDESK_INGEST_BATCH": str(BATCH)}
    for name in ("NEWSDESK_CHROMA_URL", "NEWSDESK_COLLECTION", "NEWSDESK_EMBED_MODEL", "NEWSDESK_MAX_FILE_MB"):
        base_env.pop(name, None)
        monkeypatch.delenv(name, raising=False)
    home, clean_home = tmp_path / "home", tmp_path / "clean_home"
    env = {**base_env, "NEWSDESK_HOME": str(home)}
    # (corpus version, flags, kill just after a batch was stored?). The last kill leaves a
    # half-written document that no later edit can mask.
    cycles = [(0, [], False), (1, [], True), (2, [], False), (2, ["--rebuild"], True)]

    # the clean reference: the final corpus in its own folder and home, ingested alongside
    extra(cycles[-1][0])
    clean_corpus = tmp_path / "clean_corpus"
    shutil.copytree(corpus, clean_corpus)
    clean = subprocess.Popen([sys.executable, "-m", "bot.cli", "ingest", str(clean_corpus)], cwd=tmp_path,
                             env={**base_env, "NEWSDESK_HOME": str(clean_home)}, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)

    kills = []
    for version, flags, after_batches in cycles:
        extra(version)
        kills.append(_start_and_kill([*flags, str(corpus)], env, tmp_path, rng, after_batches))
        done = _run_cli([str(corpus)], env, tmp_path)
        assert done.returncode == 0, f"re-run after {kills}: {done.stderr}"
    print("\n".join(kills))
    assert sum("killed" in k for k in kills) >= 2, kills
    assert clean.wait(timeout=240) == 0, clean.stderr.read()

    again = _run_cli([str(corpus)], env, tmp_path)
    assert again.returncode == 0 and " 0 added, 0 removed" in " ".join(again.stdout.split()), again.stdout

    got, want = _chroma_rows(home), _chroma_rows(clean_home)
    assert len(want) > BATCH  # several batches
    assert set(got) == set(want), kills  # no chunk missing, none left over, no duplicates
    for i in want:
        assert got[i][:2] == want[i][:2], (i, kills)  # same text, source, title, offsets, document hash
        assert np.allclose(got[i][2], want[i][2], atol=1e-4), (i, kills)
    bm25 = lambda h, name: (h / "bm25" / name).read_text(encoding="utf-8")  # noqa: E731
    assert bm25(home, "rows.jsonl") == bm25(clean_home, "rows.jsonl"), kills  # sorted rows: byte-identical
    assert json.loads(bm25(home, "df.json")) == json.loads(bm25(clean_home, "df.json")), kills
    manifest = json.loads((home / "index.json").read_text())
    assert manifest["chunks"] == len(want) and manifest["corpus_root"] == str(corpus.resolve())
