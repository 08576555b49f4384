"""`make bench` / `newsdesk bench`: newsdesk's speed and memory, measured in one run on one
machine, against the physical limit and against naive LangChain RAG.

What it measures (every figure lands in ``OUT/results.json``; ``OUT/report.html`` plots them):

- **Ingestion throughput** on a synthetic corpus (``evals/synth.py``, 3,000 chunks by default):
  newsdesk's ingest (``retrieval.ingest.ingest``, the function `newsdesk ingest` runs) in
  chunks/s, against the embedding model's own ``SentenceTransformer.encode(batch_size=64,
  normalize_embeddings=True)`` on exactly the chunk texts newsdesk makes, and against naive
  LangChain ingestion of the same files (``RecursiveCharacterTextSplitter(1000, 200)`` +
  ``Chroma.from_documents`` with ``HuggingFaceEmbeddings`` over the same model). The machine
  this was written on is shared and its speed swings by 2-3x over tens of seconds, so the
  three are measured in one process, shard by shard (whole files), in an order rotated per
  shard; the bar's ratios are medians of the per-shard ratios. Models load first and are
  timed apart: no rate includes model loading. Chunk sizes differ (newsdesk ~700 chars, the
  naive splitter 1000/200), so MB of text per second is reported beside chunks/s.
- **Warm query latency** per stage (rewrite, retrieve, answer, verify, total; median and
  p95) over every gold question, after one warm-up question, for newsdesk with its default
  reader (the local GGUF model), newsdesk without a model (``NEWSDESK_LLM=none``), and the
  naive chain of ``evals/baseline.py`` reading with the same local GGUF. Each system is one
  long-lived process; they answer in alternating blocks of questions. The eval figures of the same
  answers are scored with ``evals/metrics.py``.
- **Cold start**: wall time of ``newsdesk ask "..."`` (median of 3) and ``newsdesk --help``
  (median of 5) as fresh processes.
- **Scaling**: at each of ``--sizes`` chunks, a synthetic corpus is generated and ingested
  by newsdesk in a fresh process: ingest time, chunks/s, index size on disk, ingest peak RSS.
  Then every size answers 20 questions (10 gold, 10 about its own synthetic articles), the
  sizes taking turns, for warm query latency.
- **Memory** of ``newsdesk chat`` after ten questions (peak RSS of the process).

Peak RSS is the child's own high-water mark (``VmHWM`` in ``/proc/PID/status``, polled
while it runs; ``ru_maxrss`` is not used because Linux carries the parent's RSS into it at
fork/exec). The bar the issue sets is checked at
the end, each ratio with pass/fail. Other work on the machine skews timings: the load
average is recorded at the start and end of every step.

    python -m evals.bench [--sizes 1000,10000,100000] [--quick] [--skip-llm] [--out evals/bench]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (1000, 10_000, 100_000)
QUICK_SIZES = (300, 1000, 3000)
STAGES = ("rewrite", "retrieve", "answer", "verify", "total")
WARMUP_QUESTION = "What happened in Caracas?"
SCALING_GOLD = 10  # gold questions per scaling size ...
SCALING_SYNTH = 10  # ... plus this many about the synthetic articles
THROUGHPUT_SIZE = 3000  # chunks in the ingest throughput corpus, measured in THROUGHPUT_SHARDS paired shards
THROUGHPUT_SHARDS = 6

# The bar from the issue: (id, description, comparison, threshold)
BAR = {
    "ingest_vs_encode": ("newsdesk ingest chunks/s ÷ raw encode chunks/s", ">=", 0.8),
    "ingest_vs_naive": ("newsdesk ingest chunks/s ÷ naive LangChain ingest chunks/s", ">=", 1.5),
    "latency_vs_naive": ("newsdesk warm median total ÷ naive chain's, both reading with the same local GGUF",
                         "<=", 1.0),
    "reader_median_s": ("newsdesk warm median seconds per gold question, default reader", "<=", 2.5),
    "reader_p95_s": ("newsdesk warm p95 seconds per gold question, default reader", "<=", 5.0),
    "accuracy_minus_naive": ("newsdesk accuracy minus the naive chain's, same answers, same model", ">=", 0.25),
    "abstention_recall_minus_naive": ("newsdesk abstention minus the naive chain's, same model", ">=", 0.5),
    "eval_figures_kept": ("newsdesk's eval figures on this run meet evals/thresholds.toml [fast] (fast subset)",
                          "==", True),
    "scaling_latency": ("warm median latency at the largest size ÷ at the smallest", "<=", 2.0),
    "scaling_memory": ("ingest peak RSS at the largest size ÷ at the next size down", "<=", 2.0),
    "help_seconds": ("`newsdesk --help` wall seconds (median)", "<", 0.5),
}


# ============================================================================ helpers
def _now() -> str:
    return time.strftime("%H:%M:%S")


def _load() -> float:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return -1.0


def _pct(values: list[float], q: float) -> float:
    from evals.metrics import percentile

    return percentile(values, q)


def summarize(values: list[float]) -> dict:
    """median / p95 / mean / min / max of a list of numbers (ms or s), rounded."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "median": round(statistics.median(values), 2), "p95": round(_pct(values, 0.95), 2),
            "mean": round(statistics.fmean(values), 2), "min": round(min(values), 2), "max": round(max(values), 2)}


def stage_latency(outputs: list[dict]) -> dict:
    return {s: summarize([o["timings_ms"][s] for o in outputs if s in o.get("timings_ms", {})])
            for s in STAGES if any(s in o.get("timings_ms", {}) for o in outputs)}


def disk_usage(path: Path) -> int:
    """Bytes on disk (allocated blocks) under ``path``."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_blocks * 512
            except OSError:
                pass
    return total


def tree_bytes(path: Path, suffix: str = ".txt") -> tuple[int, int]:
    """(files, bytes) of the articles under ``path``."""
    files = [p for p in path.rglob(f"*{suffix}")]
    return len(files), sum(p.stat().st_size for p in files)


@dataclass
class Measured:
    rc: int
    wall_s: float
    maxrss_mb: float
    stdout: str
    stderr: str
    result: dict | None = None
    cpu_s: float = 0.0  # user + system CPU seconds of the process


def _vmhwm_mb(pid: int | str) -> float | None:
    """Peak RSS of one process's address space since its last exec, in MB (Linux ``VmHWM``)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


class _PeakWatch:
    """Polls a child's VmHWM in a thread. ``ru_maxrss`` from wait4 cannot be used: Linux records
    the parent's high-water mark into it when the child forks and execs, so a child of a big
    process (pytest with a model loaded, say) would report the parent's size."""

    def __init__(self, pid: int, every_s: float = 0.02):
        import threading

        self.pid, self.every_s, self.peak = pid, every_s, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            v = _vmhwm_mb(self.pid)
            if v is not None:
                self.peak = max(self.peak or 0.0, v)
            self._stop.wait(self.every_s)

    def stop(self) -> float | None:
        v = _vmhwm_mb(self.pid)  # a zombie's status no longer has VmHWM; a live one still does
        if v is not None:
            self.peak = max(self.peak or 0.0, v)
        self._stop.set()
        self._thread.join()
        return self.peak


def _finish(proc: subprocess.Popen, started: float, err, watch: _PeakWatch | None = None
            ) -> tuple[int, float, float, float, str]:
    """Reap ``proc`` with os.wait4: (exit code, wall s, peak RSS MB, CPU s, stderr)."""
    os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
    peak = watch.stop() if watch else None
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    err.seek(0)
    stderr = err.read()
    err.close()
    return proc.returncode, wall, peak if peak else usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, stderr


def run_measured(cmd: list[str], env: dict, stdin_text: str | None = None, on_event=None,
                 cwd: Path = ROOT) -> Measured:
    """Run a process, stream its stdout (JSON event lines go to ``on_event``), and return its
    wall time and its own peak RSS (polled ``VmHWM``, see ``_PeakWatch``)."""
    err = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdin=subprocess.PIPE if stdin_text is not None else
                            subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, text=True, encoding="utf-8",
                            errors="replace")
    watch = _PeakWatch(proc.pid)
    if stdin_text is not None:
        proc.stdin.write(stdin_text)
        proc.stdin.close()
    out_lines, result = [], None
    for line in proc.stdout:
        out_lines.append(line)
        event = _event(line)
        if event is None:
            continue
        if event.get("event") == "result":
            result = event
        elif on_event:
            on_event(event)
    rc, wall, rss, cpu, stderr = _finish(proc, started, err, watch)
    return Measured(rc, wall, rss, "".join(out_lines), stderr, result, cpu)


def _event(line: str) -> dict | None:
    if not line.startswith('{"event"'):
        return None
    try:
        return json.loads(line)
    except ValueError:
        return None


class Served:
    """A long-lived worker process that answers batches of questions sent on its stdin, so
    that several systems can be measured in alternation under the same machine conditions."""

    def __init__(self, kind: str, args: dict, env: dict, name: str):
        self.name = name
        self.err = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([sys.executable, "-m", "evals.bench", "_worker", kind, json.dumps(args)],
                                     env=env, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, text=True, encoding="utf-8", errors="replace", bufsize=1)
        self.watch = _PeakWatch(self.proc.pid, every_s=0.1)
        self.ready = self._read("ready")

    def _read(self, kind: str) -> dict:
        for line in self.proc.stdout:
            event = _event(line)
            if event and event.get("event") == kind:
                return event
        self.err.seek(0)
        tail = "\n".join(self.err.read().strip().splitlines()[-25:])
        raise RuntimeError(f"{self.name}: worker ended before '{kind}' (exit {self.proc.wait()}):\n{tail}")

    def ask(self, questions: list[dict]) -> list[dict]:
        self.proc.stdin.write(json.dumps({"questions": questions}) + "\n")
        self.proc.stdin.flush()
        return self._read("reply")["outputs"]

    def close(self) -> dict:
        """End the worker; its peak RSS and CPU time."""
        self.proc.stdin.close()
        final = {}
        for line in self.proc.stdout:
            event = _event(line)
            if event and event.get("event") == "result":
                final = event
        rc, wall, rss, cpu, stderr = _finish(self.proc, self.started, self.err, self.watch)
        if rc != 0:
            raise RuntimeError(f"{self.name}: worker failed (exit {rc}):\n{stderr[-2000:]}")
        return {"peak_rss_mb": round(rss, 1), "process_wall_s": round(wall, 3), "cpu_s": round(cpu, 2),
                **{k: v for k, v in final.items() if k != "event"}}

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def _newsdesk_cmd() -> list[str]:
    script = Path(sys.executable).parent / "newsdesk"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def _base_env(home: Path | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("NEWSDESK_") and k not in ("NEWSDESK_EMBED_MODEL",))
           and k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    env.update(PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               ANONYMIZED_TELEMETRY="False", NEWSDESK_LLM="local")
    if home is not None:
        env["NEWSDESK_HOME"] = str(home)
    env.update(extra)
    return env


def _worker(kind: str, args: dict, env: dict, log, label: str, total_hint: int | None = None,
            stdin_text: str | None = None) -> Measured:
    """Run one measurement in a fresh ``python -m evals.bench _worker KIND`` process."""
    cmd = [sys.executable, "-m", "evals.bench", "_worker", kind, json.dumps(args)]
    with log.progress(label, total_hint) as advance:
        m = run_measured(cmd, env, on_event=advance, stdin_text=stdin_text)
    if m.rc != 0 or m.result is None:
        tail = "\n".join(m.stderr.strip().splitlines()[-25:])
        raise RuntimeError(f"{label}: worker {kind} failed (exit {m.rc}):\n{tail}")
    return m


# ============================================================================ logging / progress
class Log:
    """Timestamped step lines plus a rich progress bar (with ETA) for long steps."""

    def __init__(self, console):
        self.console = console

    def step(self, text: str) -> None:
        self.console.print(f"[dim]{_now()}[/dim] {text} [dim](load {_load()})[/dim]", highlight=False)

    def progress(self, label: str, total: int | None):
        from contextlib import contextmanager

        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
            TimeRemainingColumn

        @contextmanager
        def cm():
            with Progress(TextColumn(f"  {label}"), TextColumn("{task.fields[what]}"), BarColumn(),
                          MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                          console=self.console, transient=True) as bar:
                task = bar.add_task(label, total=total, what="")

                def advance(event: dict) -> None:
                    if event.get("event") == "progress":
                        bar.update(task, completed=event.get("done", 0), total=event.get("total") or total,
                                   what=event.get("what", ""))

                yield advance

        return cm()


# ============================================================================ workers (child processes)
def _emit(event: str, **data) -> None:
    sys.stdout.write(json.dumps({"event": event, **data}, default=str) + "\n")
    sys.stdout.flush()


def _self_rss_mb() -> float:
    """Current RSS of this process (VmRSS), in MB."""
    try:
        for line in open("/proc/self/status", encoding="ascii"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover
        pass
    return 0.0


def _peak_rss_mb() -> float:
    """This process's own peak RSS since exec (VmHWM; ru_maxrss would include the parent's)."""
    v = _vmhwm_mb("self")
    if v is not None:
        return v
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def w_ingest(a: dict) -> None:
    """newsdesk's ingest of ``paths`` into ``$NEWSDESK_HOME``, with the model loaded first and
    timed apart. Embedding calls are timed through a thin pass-through wrapper."""
    t0 = time.perf_counter()
    from langchain_core.embeddings import Embeddings

    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.models import get_embeddings
    from retrieval.store import Store

    settings = Settings.from_env()
    t_import = time.perf_counter() - t0
    t1 = time.perf_counter()
    inner = get_embeddings(settings.embed_model)
    inner.embed_query("warm up")
    model_load_s = time.perf_counter() - t1
    rss_loaded = _self_rss_mb()
    spent = {"embed_s": 0.0, "calls": 0}

    class Timed(Embeddings):
        def embed_documents(self, texts):
            s = time.perf_counter()
            try:
                return inner.embed_documents(texts)
            finally:
                spent["embed_s"] += time.perf_counter() - s
                spent["calls"] += 1

        def embed_query(self, text):
            return inner.embed_query(text)

    marks: dict[str, float] = {}
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        marks.setdefault("first_progress", now)
        marks["last_progress"] = now
        if now - last[0] > 0.5 or done == total:
            last[0] = now
            _emit("progress", done=done, total=total, what="embedding")

    started = time.perf_counter()
    store = Store(settings, Timed())
    report = ingest([Path(p) for p in a["paths"]], settings, store=store, progress=progress)
    ingest_s = time.perf_counter() - started
    first = marks.get("first_progress", started)
    lastp = marks.get("last_progress", started)
    _emit("result", chunks=report.chunks_added, chunks_total=store.count(), files=report.files,
          documents=report.documents, skipped=len(report.skipped), ingest_s=round(ingest_s, 3),
          report_seconds=round(report.seconds, 3), import_s=round(t_import, 3), model_load_s=round(model_load_s, 3),
          phases_s={"load_clean_chunk": round(first - started, 3), "embed_and_upsert": round(lastp - first, 3),
                    "of_which_embed": round(spent["embed_s"], 3),
                    "keyword_index_and_manifest": round(started + ingest_s - lastp, 3)},
          embed_calls=spent["calls"], rss_after_model_mb=round(rss_loaded, 1), self_peak_rss_mb=round(_peak_rss_mb(), 1))


def _shards(corpus: Path, work: Path, k: int) -> list[Path]:
    """Copy the corpus's articles into ``k`` folders of about equal size (whole files)."""
    files = sorted(corpus.rglob("*.txt"))
    total = sum(f.stat().st_size for f in files)
    out, acc, cur = [], 0, None
    for f in files:
        if cur is None or (acc >= total * len(out) / k and len(out) < k):
            cur = work / f"shard-{len(out)}"
            shutil.rmtree(cur, ignore_errors=True)
            cur.mkdir(parents=True)
            out.append(cur)
        shutil.copy2(f, cur / f.name)
        acc += f.stat().st_size
    return out


def w_throughput(a: dict) -> None:
    """newsdesk ingest vs the model's own encode vs naive LangChain ingest, paired shard by shard in
    one process so that all three see the same machine conditions.

    Models load first (timed apart, excluded from every rate). The corpus is split into shards of
    whole files; for each shard, in an order rotated from shard to shard:
    - newsdesk: ``retrieval.ingest.ingest([shard], settings)`` into a fresh ``NEWSDESK_HOME``
      (everything `newsdesk ingest` does: load, clean, chunk, embed, upsert, BM25, manifest);
    - encode: ``SentenceTransformer.encode(texts, batch_size=64, normalize_embeddings=True)`` on
      exactly the chunk texts newsdesk makes of that shard (its own loader and chunker; checked
      against what it stored);
    - naive: read the files, ``RecursiveCharacterTextSplitter(1000, 200)``, ``Chroma.from_documents``
      with ``HuggingFaceEmbeddings`` (defaults) over the same model, into a fresh directory.
    """
    import dataclasses

    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from sentence_transformers import SentenceTransformer

    from retrieval.chunking import chunk_document
    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.loaders import iter_corpus
    from retrieval.models import embedding_model_path, get_embeddings
    from retrieval.store import Store

    work = Path(a["work"])
    settings = Settings.from_env()
    path = str(embedding_model_path(settings.embed_model))
    loads = {}
    t = time.perf_counter()
    get_embeddings(settings.embed_model).embed_query("warm up")
    loads["newsdesk"] = time.perf_counter() - t
    t = time.perf_counter()
    raw = SentenceTransformer(path, device="cpu")
    raw.encode(["warm up"], batch_size=64, normalize_embeddings=True)
    loads["encode"] = time.perf_counter() - t
    t = time.perf_counter()
    naive_emb = HuggingFaceEmbeddings(model_name=path, model_kwargs={"device": "cpu"})
    naive_emb.embed_query("warm up")
    loads["naive"] = time.perf_counter() - t
    import torch

    shards = _shards(Path(a["corpus"]), work, a["shards"])
    order = ["newsdesk", "encode", "naive"]
    rows = []
    done = 0
    total = a.get("chunks") or 0
    for i, shard in enumerate(shards):
        texts = [c.text for _p, docs, reason in iter_corpus([shard], root=shard.resolve()) if reason is None
                 for d in docs for c in chunk_document(d)]
        n_bytes = sum(f.stat().st_size for f in shard.glob("*.txt"))
        row = {"shard": i, "files": len(list(shard.glob("*.txt"))), "bytes": n_bytes, "order": order[i % 3:] + order[:i % 3]}
        for what in row["order"]:
            if what == "newsdesk":
                home = work / f"nd-home-{i}"
                shutil.rmtree(home, ignore_errors=True)
                st = dataclasses.replace(settings, home=home)
                t = time.perf_counter()
                report = ingest([shard], st)
                sec = time.perf_counter() - t
                stored = sorted(c.text for c in Store(st, get_embeddings(st.embed_model)).all_chunks())
                row["newsdesk"] = {"chunks": report.chunks_added, "s": round(sec, 3),
                                   "texts_match": stored == sorted(texts)}
                shutil.rmtree(home, ignore_errors=True)
            elif what == "encode":
                t = time.perf_counter()
                raw.encode(texts, batch_size=64, normalize_embeddings=True)
                row["encode"] = {"chunks": len(texts), "s": round(time.perf_counter() - t, 3)}
            else:
                persist = work / f"naive-{i}"
                shutil.rmtree(persist, ignore_errors=True)
                t = time.perf_counter()
                docs = [Document(page_content=f.read_text(encoding="utf-8"), metadata={"source": f.name})
                        for f in sorted(shard.glob("*.txt"))]
                chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
                Chroma.from_documents(chunks, naive_emb, persist_directory=str(persist), collection_name=f"naive{i}")
                row["naive"] = {"chunks": len(chunks), "s": round(time.perf_counter() - t, 3)}
                shutil.rmtree(persist, ignore_errors=True)
            done += len(texts) / 3
            _emit("progress", done=int(done), total=total, what=f"shard {i + 1}/{len(shards)} {what}")
        rows.append(row)
    _emit("result", shards=rows, model_load_s={k: round(v, 3) for k, v in loads.items()},
          torch_threads=torch.get_num_threads(), self_peak_rss_mb=round(_peak_rss_mb(), 1))


def _serve(answer_batch) -> None:
    """Answer each {"questions": [...]} line of stdin with a "reply" event, until stdin closes."""
    for line in sys.stdin:
        if line.strip():
            _emit("reply", outputs=answer_batch(json.loads(line)["questions"]))
    _emit("result", self_peak_rss_mb=round(_peak_rss_mb(), 1))


def w_query(a: dict) -> None:
    """newsdesk's pipeline, built once and warmed with one question; then serves batches.
    The timings are the pipeline's own ``Answer.timings_ms``."""
    t0 = time.perf_counter()
    from retrieval.config import Settings
    from retrieval.pipeline import Pipeline

    settings = Settings.from_env()
    pipeline = Pipeline(settings)
    init_s = time.perf_counter() - t0
    rss_ready = _self_rss_mb()
    t1 = time.perf_counter()
    pipeline.ask(a.get("warmup") or WARMUP_QUESTION)
    _emit("ready", init_s=round(init_s, 3), warmup_s=round(time.perf_counter() - t1, 3), backend=pipeline.backend,
          root=str(pipeline.root), chunks=pipeline.store.count(), rss_ready_mb=round(rss_ready, 1))

    def batch(questions: list[dict]) -> list[dict]:
        return [{"id": q.get("id", ""), **pipeline.ask(q["question"], q.get("history") or []).to_json()}
                for q in questions]

    _serve(batch)


def _eval_figures(gold_rows: list[dict], outputs: list[dict], root: Path) -> dict:
    """The summary eval figures of these answers, plus the fast subset against evals/thresholds.toml."""
    import tomllib

    from evals.metrics import SUMMARY_KEYS, score

    full = score(gold_rows, outputs, root)
    figures = {k: full.get(k) for k in SUMMARY_KEYS}
    fast_idx = [i for i, g in enumerate(gold_rows) if "fast" in g.get("tags", [])]
    out = {"all": figures, "failures": len(full["failures"])}
    if fast_idx:
        fast = score([gold_rows[i] for i in fast_idx], [outputs[i] for i in fast_idx], root)
        floors = tomllib.loads((ROOT / "evals" / "thresholds.toml").read_text(encoding="utf-8")).get("fast", {})
        checks = {}
        for key, floor in floors.items():
            got = fast.get(key)  # None: nothing to measure in this subset (e.g. no unanswerable question)
            ok = None if got is None else (got <= floor if key == "false_abstention" else got >= floor)
            checks[key] = {"value": got, "floor": floor, "pass": ok}
        out["fast"] = {"questions": len(fast_idx), "checks": checks,
                       "pass": all(c["pass"] is not False for c in checks.values())}
    return out


def w_naive_query(a: dict) -> None:
    """The naive chain of evals/baseline.py (``run_naive``), answering through the given LLM; its
    index is built by a warm-up call, then it serves batches. Timings are run_naive's own."""
    t0 = time.perf_counter()
    from langchain_huggingface import HuggingFaceEmbeddings

    from evals.baseline import run_naive
    from retrieval.config import Settings
    from retrieval.models import embedding_model_path

    settings = Settings.from_env()
    llm = None
    if a.get("llm") == "openai":
        from langchain_openai import ChatOpenAI

        llm = ChatOpenAI(model=a["model"], base_url=a["base_url"], api_key="local", temperature=0,
                         timeout=settings.llm_timeout, max_retries=0, max_tokens=250,
                         extra_body={"max_tokens": 250})  # the server reads only max_tokens (see models._openai)
    embeddings = HuggingFaceEmbeddings(model_name=str(embedding_model_path(settings.embed_model)),
                                       model_kwargs={"device": "cpu"})
    corpus, work = Path(a["corpus"]), Path(a["work"])
    warm = [{"id": "warmup", "type": "factoid", "question": a.get("warmup") or WARMUP_QUESTION, "answers": [],
             "evidence": [], "sources": [], "history": [], "tags": []}]
    import inspect

    accepted = inspect.signature(run_naive).parameters
    extra = {k: v for k, v in {"console": None, "llm": llm, "embeddings": embeddings}.items() if k in accepted}
    _, info = run_naive(warm, corpus, work, settings, **extra)
    _emit("ready", init_s=round(time.perf_counter() - t0, 3), kwargs_passed=sorted(extra),
          info={k: v for k, v in (info or {}).items() if isinstance(v, (str, int, float, bool, type(None)))})

    def batch(questions: list[dict]) -> list[dict]:
        outputs, _ = run_naive(questions, corpus, work, settings, **extra)
        return [{"id": q.get("id", ""), **o} for q, o in zip(questions, outputs)]

    _serve(batch)


WORKERS = {"ingest": w_ingest, "throughput": w_throughput, "query": w_query,
           "naive_query": w_naive_query}


# ============================================================================ the steps
def machine_info() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()}
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in open("/proc/meminfo", encoding="utf-8"):
            if line.startswith("MemTotal"):
                info["mem_total_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:  # pragma: no cover
        pass
    from importlib import metadata

    versions = {}
    for pkg in ("torch", "sentence-transformers", "chromadb", "langchain-core", "langchain-chroma",
                "langchain-huggingface", "langchain-text-splitters", "bm25s", "llama_cpp_python", "newsdesk"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = None
    info["versions"] = versions
    try:
        info["git_commit"] = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                            text=True).stdout.strip()
        info["git_dirty_files"] = len(subprocess.run(["git", "status", "--porcelain"], cwd=ROOT,
                                                     capture_output=True, text=True).stdout.splitlines())
    except OSError:  # pragma: no cover
        pass
    info["load_avg_start"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    return info


def load_gold(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ingest_step(log, corpus: Path, home: Path, label: str, total_hint: int | None = None) -> dict:
    if home.exists():
        shutil.rmtree(home)
    load0 = _load()
    m = _worker("ingest", {"paths": [str(corpus)]}, _base_env(home), log, label, total_hint)
    r = m.result
    r.pop("event", None)
    r.update(process_wall_s=round(m.wall_s, 3), peak_rss_mb=round(m.maxrss_mb, 1), cpu_s=round(m.cpu_s, 2),
             index_bytes=disk_usage(home), chunks_per_s=round(r["chunks"] / r["ingest_s"], 2) if r["ingest_s"] else None,
             load_avg=[load0, _load()])
    files, n_bytes = tree_bytes(corpus)
    r["corpus_files"], r["corpus_bytes"] = files, n_bytes
    r["mb_per_s"] = round(n_bytes / 1e6 / r["ingest_s"], 4) if r["ingest_s"] else None
    return r


def interleave(log, workers: dict[str, Served], questions: dict[str, list[dict]], block: int,
               label: str) -> dict[str, list[dict]]:
    """Send each worker its questions in blocks, taking the workers in turn (rotating who goes
    first), so slow and fast spells of a shared machine fall on every system alike."""
    names = list(workers)
    outs: dict[str, list[dict]] = {n: [] for n in names}
    n_blocks = max((len(q) + block - 1) // block for q in questions.values())
    total = sum(len(q) for q in questions.values())
    done = 0
    with log.progress(label, total) as advance:
        for bi in range(n_blocks):
            k = bi % len(names)
            for name in names[k:] + names[:k]:
                chunk = questions[name][bi * block:(bi + 1) * block]
                if chunk:
                    outs[name] += workers[name].ask(chunk)
                    done += len(chunk)
                    advance({"event": "progress", "done": done, "total": total, "what": name})
    return outs


def latency_summary(outputs: list[dict], ready: dict, closed: dict) -> dict:
    return {"questions": len(outputs), "latency_ms": stage_latency(outputs),
            "abstained": sum(bool(o.get("abstained")) for o in outputs),
            "llm_fallbacks": sum(any("failed" in n or "fell back" in n for n in o.get("notes") or [])
                                 for o in outputs),
            "worker": {k: v for k, v in {**ready, **closed}.items() if k != "event"}}


def cold_start_step(log, home: Path, question: str, ask_runs: int, help_runs: int) -> dict:
    cmd = _newsdesk_cmd()
    env = _base_env(home)
    out: dict = {"command": " ".join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd)),
                 "question": question}
    help_runs_s = []
    for _ in range(help_runs):
        m = run_measured([*cmd, "--help"], env)
        if m.rc != 0:
            raise RuntimeError(f"newsdesk --help failed: {m.stderr[-500:]}")
        help_runs_s.append(round(m.wall_s, 3))
    out["help"] = {"runs_s": help_runs_s, "median_s": round(statistics.median(help_runs_s), 3)}
    log.step(f"  newsdesk --help: median {out['help']['median_s']:.3f}s over {help_runs} runs")
    ask_runs_s, rss = [], []
    for i in range(ask_runs):
        m = run_measured([*cmd, "ask", question], env)
        if m.rc != 0:
            raise RuntimeError(f"newsdesk ask failed: {m.stderr[-800:]}")
        ask_runs_s.append(round(m.wall_s, 3))
        rss.append(round(m.maxrss_mb, 1))
        log.step(f"  newsdesk ask (fresh process) run {i + 1}/{ask_runs}: {m.wall_s:.2f}s, peak RSS {m.maxrss_mb:.0f} MB")
    out["ask"] = {"runs_s": ask_runs_s, "median_s": round(statistics.median(ask_runs_s), 3), "peak_rss_mb": rss}
    return out


def chat_step(log, home: Path, questions: list[str]) -> dict:
    stdin = "".join(q + "\n" for q in questions) + ":quit\n"
    m = run_measured([*_newsdesk_cmd(), "chat"], _base_env(home, TERM="dumb", COLUMNS="120"), stdin_text=stdin)
    if m.rc != 0:
        raise RuntimeError(f"newsdesk chat failed (exit {m.rc}): {m.stderr[-800:]}")
    answered = m.stdout.count("Sources") + m.stdout.count("articles don't say")
    return {"questions": len(questions), "peak_rss_mb": round(m.maxrss_mb, 1), "wall_s": round(m.wall_s, 3),
            "answers_seen": answered, "stdout_chars": len(m.stdout)}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scaling_questions(gold: list[dict], synth_questions: list[dict], seed: int) -> list[dict]:
    import random

    single = [g for g in gold if not g.get("history")]
    step = max(1, len(single) // SCALING_GOLD)
    picked = [{"id": g["id"], "question": g["question"]} for g in single[::step][:SCALING_GOLD]]
    rng = random.Random(seed)
    synth = rng.sample(synth_questions, min(SCALING_SYNTH, len(synth_questions)))
    return picked + [{"id": f"s{i:02d}", "question": q["question"], "expected": q["answer"], "source": q["source"]}
                     for i, q in enumerate(synth)]


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def check_bar(results: dict) -> list[dict]:
    checks = []

    def add(key: str, value, detail: str = "") -> None:
        what, op, threshold = BAR[key]
        if value is None:
            ok = None
        elif op == ">=":
            ok = value >= threshold
        elif op == "<=":
            ok = value <= threshold
        elif op == "<":
            ok = value < threshold
        else:
            ok = value == threshold
        checks.append({"id": key, "what": what, "value": value, "op": op, "threshold": threshold, "pass": ok,
                       "detail": detail})

    tp = results.get("throughput") or {}
    nd, enc, naive = tp.get("newsdesk"), tp.get("encode"), tp.get("naive")
    rounds = len(tp.get("shards", []))
    if nd and enc:
        add("ingest_vs_encode", tp["ratio_vs_encode"],
            f"median of {rounds} paired shards, {nd['chunks']:,} chunks in all: {nd['chunks_per_s']} vs "
            f"{enc['chunks_per_s']} chunks/s overall; model load excluded on both sides")
    else:
        add("ingest_vs_encode", None, "not measured")
    if nd and naive:
        add("ingest_vs_naive", tp["ratio_vs_naive"],
            f"median of {rounds} paired shards: {nd['chunks_per_s']} vs {naive['chunks_per_s']} chunks/s overall; per MB of "
            f"the same files: {tp['ratio_vs_naive_per_mb']}× ({nd['mb_per_s']} vs {naive['mb_per_s']} MB/s)")
    else:
        add("ingest_vs_naive", None, "not measured")
    lat = results.get("latency") or {}
    nd_llm, naive_llm = lat.get("newsdesk_local"), lat.get("naive_local")
    t = (nd_llm or {}).get("latency_ms", {}).get("total") or {}
    add("reader_median_s", round(t["median"] / 1000, 3) if t.get("median") is not None else None,
        f"warm median total {t.get('median')} ms" if t else "not measured")
    add("reader_p95_s", round(t["p95"] / 1000, 3) if t.get("p95") is not None else None,
        f"warm p95 total {t.get('p95')} ms" if t else "not measured")
    both = bool(nd_llm and naive_llm and t and naive_llm.get("latency_ms", {}).get("total"))
    if both:
        a, b = t["median"], naive_llm["latency_ms"]["total"]["median"]
        add("latency_vs_naive", _ratio(a, b), f"{a} ms vs {b} ms median total over {nd_llm['questions']} gold "
                                               "questions, both reading with the same local GGUF")
    else:
        add("latency_vs_naive", None, "not measured (--skip-llm or the naive baseline is unavailable)")
    fa = (nd_llm or {}).get("eval", {}).get("all", {}) if both else {}
    fb = (naive_llm or {}).get("eval", {}).get("all", {}) if both else {}
    for key in ("accuracy", "abstention_recall"):
        if fa.get(key) is not None and fb.get(key) is not None:
            add(f"{key}_minus_naive", round(fa[key] - fb[key], 3),
                f"{fa[key]:.3f} vs {fb[key]:.3f} over the same gold questions, same model")
        else:
            add(f"{key}_minus_naive", None, "not measured")
    kept = [lat[k]["eval"]["fast"]["pass"] for k in ("newsdesk_local",)
            if lat.get(k, {}).get("eval", {}).get("fast")]
    add("eval_figures_kept", all(kept) if kept else None,
        "; ".join(f"{k}: {'pass' if lat[k]['eval']['fast']['pass'] else 'FAIL'}"
                  for k in ("newsdesk_local",) if lat.get(k, {}).get("eval", {}).get("fast")))
    sc = [s for s in results.get("scaling", []) if s.get("query")]
    if len(sc) >= 2:
        lo, hi = sc[0], sc[-1]
        a, b = hi["query"]["latency_ms"]["total"]["median"], lo["query"]["latency_ms"]["total"]["median"]
        add("scaling_latency", _ratio(a, b), f"{a} ms at {hi['chunks']:,} chunks vs {b} ms at {lo['chunks']:,}")
    else:
        add("scaling_latency", None, "needs two sizes")
    sc = [s for s in results.get("scaling", []) if s.get("ingest_peak_rss_mb")]
    if len(sc) >= 2:
        lo, hi = sc[-2], sc[-1]
        a, b = hi["ingest_peak_rss_mb"], lo["ingest_peak_rss_mb"]
        add("scaling_memory", _ratio(a, b), f"{a} MB at {hi['chunks']:,} chunks vs {b} MB at {lo['chunks']:,}")
    else:
        add("scaling_memory", None, "needs two sizes")
    cold = results.get("cold_start") or {}
    add("help_seconds", cold.get("help", {}).get("median_s"), "median of fresh processes")
    return checks


# ============================================================================ main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="newsdesk bench", description="Measure newsdesk's ingest throughput, warm "
                                "query latency, cold start, scaling and memory; write OUT/results.json and "
                                "OUT/report.html.")
    p.add_argument("--out", type=Path, default=ROOT / "evals" / "bench", help="where results.json and report.html "
                                                                              "go (default evals/bench)")
    p.add_argument("--sizes", help="comma-separated synthetic corpus sizes in chunks (default 1000,10000,100000; "
                                   "with --quick 300,1000,3000)")
    p.add_argument("--throughput-size", type=int, help=f"chunks in the ingest throughput corpus (default "
                                                       f"{THROUGHPUT_SIZE:,}; with --quick the smallest size)")
    p.add_argument("--shards", type=int, help=f"throughput shards, each measured for all three systems in rotated "
                                              f"order (default {THROUGHPUT_SHARDS}; --quick 3)")
    p.add_argument("--block", type=int, default=10, help="questions per turn when systems alternate (default 10)")
    p.add_argument("--quick", action="store_true", help="small sizes, one round, fewer repeats, no LLM: a smoke run")
    p.add_argument("--skip-llm", action="store_true", help="skip the naive chain (a second copy of the "
                                                           "local model)")
    p.add_argument("--skip-scaling", action="store_true", help="skip the synthetic corpora (throughput and scaling)")
    p.add_argument("--carry-scaling", action="store_true",
                   help="with --skip-scaling: keep the throughput and scaling sections of the results.json already "
                        "in OUT (marked with that run's start time), so a rerun of the other sections does not "
                        "lose hours of ingest figures")
    p.add_argument("--max-minutes", type=float, help="skip scaling sizes whose estimated ingest would end past "
                                                     "this many minutes from the start (default: no limit)")
    p.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    p.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    p.add_argument("--tag", help="use only the gold questions with this tag (e.g. fast: every type, 20 questions)")
    p.add_argument("--gold-limit", type=int, help="use only the first N gold questions (for tests; default all)")
    p.add_argument("--work", type=Path, help="scratch folder for indexes and corpora (default: a new temp folder, "
                                             "removed at the end)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic corpora (default 0)")
    p.add_argument("--strict", action="store_true", help="exit 1 when a measured figure misses the bar")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["_worker"]:
        WORKERS[argv[1]](json.loads(argv[2]))
        return 0
    from rich.console import Console

    args = parse_args(argv)
    console = Console() if sys.stdout.isatty() else Console(width=150)
    log = Log(console)
    sizes = sorted({int(s) for s in args.sizes.split(",")} if args.sizes else
                   set(QUICK_SIZES if args.quick else DEFAULT_SIZES))
    skip_llm = args.skip_llm or args.quick
    tp_size = args.throughput_size or (min(sizes) if args.quick else THROUGHPUT_SIZE)
    shards = args.shards or (3 if args.quick else THROUGHPUT_SHARDS)
    work = args.work or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    gold = load_gold(args.gold)
    if args.tag:
        gold = [g for g in gold if args.tag in g.get("tags", [])]
    if args.gold_limit:
        gold = gold[: args.gold_limit]
    started = time.time()
    deadline = started + args.max_minutes * 60 if args.max_minutes else None
    results: dict = {"schema": 1, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "args": {"sizes": sizes, "throughput_size": tp_size, "throughput_shards": shards,
                              "quick": args.quick, "skip_llm": skip_llm, "gold": str(args.gold), "tag": args.tag,
                              "gold_questions": len(gold), "corpus": str(args.corpus), "seed": args.seed,
                              "max_minutes": args.max_minutes, "block": args.block},
                     "machine": machine_info(), "steps_s": {}}

    if args.carry_scaling:
        carry_scaling(results, args.out / "results.json", args.skip_scaling)

    def save() -> None:
        results["bar"] = check_bar(results)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")

    def timed(name: str):
        from contextlib import contextmanager

        @contextmanager
        def cm():
            t = time.perf_counter()
            try:
                yield
            finally:
                results["steps_s"][name] = round(time.perf_counter() - t, 1)
                save()

        return cm()

    log.step(f"[bold]newsdesk bench[/bold]: sizes {sizes}, throughput on ~{tp_size:,} chunks in {shards} shards, "
             f"{len(gold)} gold questions, LLM {'skipped' if skip_llm else 'on'}; scratch {work}")
    try:
        home = work / "home-corpus"
        with timed("corpus_ingest"):
            log.step("Indexing the bundled corpus (fresh process)")
            results["corpus_index"] = ingest_step(log, args.corpus.resolve(), home, "ingest corpus/")
        with timed("cold_start"):
            log.step("Cold start: fresh processes")
            q = next((g["question"] for g in gold if g["type"] != "unanswerable" and not g.get("history")),
                     gold[0]["question"])
            results["cold_start"] = cold_start_step(log, home, q, ask_runs=1 if args.quick else 3,
                                                    help_runs=3 if args.quick else 5)
        with timed("chat_memory"):
            chat_qs = [g["question"] for g in gold if not g.get("history")][:10]
            log.step(f"newsdesk chat fed {len(chat_qs)} questions on stdin")
            results["chat"] = chat_step(log, home, chat_qs)
            log.step(f"  chat peak RSS {results['chat']['peak_rss_mb']:.0f} MB ({results['chat']['wall_s']:.1f}s wall)")
        if not args.skip_scaling:
            with timed("throughput"), _section(log, results, "throughput"):
                throughput_section(log, results, tp_size, shards, work, args)
            # time kept for the gold latency step that follows (the LLM answers take seconds each)
            reserve = len(gold) * (14 if not skip_llm else 2) + 240
            with _section(log, results, "scaling"):
                scaling_section(log, results, sizes, gold, work, args, save, deadline and deadline - reserve)
        with timed("latency"), _section(log, results, "latency"):
            latency_section(log, results, home, gold, work, args, skip_llm)
    finally:
        results["finished_at"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        results["duration_s"] = round(time.time() - started, 1)
        results["machine"]["load_avg_end"] = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
        # A child's ru_maxrss also counts the pages it shared with this process when forked, so
        # every peak RSS above is at least this process's RSS at that moment (recorded for reference).
        results["machine"]["bench_process_peak_rss_mb"] = round(_peak_rss_mb(), 1)
        save()
        try:
            from evals.bench_report import write_report

            report = write_report(results, args.out / "report.html")
            log.step(f"Wrote {args.out / 'results.json'} and {report}")
        except Exception as exc:  # the numbers matter more than the page
            log.step(f"[red]report.html failed: {exc!r}[/red]")
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print_table(console, results)
    missed = [c["id"] for c in results["bar"] if c["pass"] is False]
    if missed:
        console.print(f"Missed the bar: {', '.join(missed)}." + ("" if args.strict else " (exit 0; --strict exits 1)"))
    return 1 if missed and args.strict else 0


CARRIED = ("throughput", "scaling")


def carry_scaling(results: dict, previous: Path, skip_scaling: bool) -> None:
    """Copy the throughput and scaling sections (and their step times and errors) of an earlier
    run into ``results``, noting where they came from; --skip-scaling is required so no section
    is ever half old and half new."""
    if not skip_scaling:
        raise SystemExit("--carry-scaling needs --skip-scaling (it keeps the sections this run skips).")
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"--carry-scaling: cannot read {previous} ({exc}).") from None
    kept = [name for name in CARRIED if name in old]
    if not kept:
        raise SystemExit(f"--carry-scaling: {previous} has no throughput or scaling section to keep.")
    for name in kept:
        results[name] = old[name]
        if name in old.get("steps_s", {}):
            results["steps_s"][name] = old["steps_s"][name]
        if name in old.get("errors", {}):
            results.setdefault("errors", {})[name] = old["errors"][name]
    # sections the earlier run itself carried keep their first origin
    origin = old.get("carried_over") or {"from_run_started_at": old.get("started_at"),
                                         "from_run_args": old.get("args"), "from_run_machine": old.get("machine")}
    results["carried_over"] = {"sections": kept, **{k: origin.get(k) for k in
                                                    ("from_run_started_at", "from_run_args", "from_run_machine")}}


def _section(log, results: dict, name: str):
    """Run one section; if it fails, record the error and carry on with the next."""
    from contextlib import contextmanager

    @contextmanager
    def cm():
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
            import traceback

            results.setdefault("errors", {})[name] = "".join(traceback.format_exception_only(exc)).strip()[-2000:]
            log.step(f"[red]{name} failed:[/red] {str(exc)[-500:]}")

    return cm()


def _log_latency(log, name: str, r: dict) -> None:
    t = r["latency_ms"].get("total", {})
    log.step(f"  {name}: total median {t.get('median')} ms, p95 {t.get('p95')} ms over {r['questions']} questions")


def latency_section(log, results: dict, home: Path, gold: list[dict], work: Path, args, skip_llm: bool) -> None:
    """Warm latency over the gold questions: newsdesk with its default reader (the local GGUF), the
    naive chain answering through that same model in its own process, and newsdesk without a model
    (``NEWSDESK_LLM=none``), measured in alternating blocks."""
    from contextlib import ExitStack

    lat = results["latency"] = {"questions": len(gold), "block": args.block}
    specs: dict[str, tuple[str, dict, dict]] = {"newsdesk_local": ("query", {}, _base_env(home)),
                                                "newsdesk_none": ("query", {}, _base_env(home, NEWSDESK_LLM="none"))}
    with ExitStack() as stack:
        if not skip_llm:
            try:
                import evals.baseline  # noqa: F401

                specs["naive_local"] = ("naive_query", {"corpus": str(args.corpus.resolve()),
                                                        "work": str(work / "naive-eval")}, _base_env(home))
                lat["llm"] = {"model": "the reader's local GGUF (retrieval.models.model_path), in-process in "
                                       "each system's own process, llama-cpp-python"}
            except ImportError as exc:
                lat["naive_local"] = {"error": f"evals/baseline.py unavailable ({exc})"}
                log.step(f"[yellow]naive chain skipped: {exc}[/yellow]")
        workers: dict[str, Served] = {}
        for name, (kind, wargs, env) in specs.items():
            log.step(f"Starting {name} (loads models, answers one warm-up question)")
            try:
                w = Served(kind, wargs, env, name)
            except RuntimeError as exc:
                if name == "newsdesk_local":
                    raise
                lat[name] = {"error": f"did not start: {str(exc)[-600:]}"}
                log.step(f"[red]{name} did not start[/red]: {str(exc)[-300:]}")
                continue
            stack.callback(w.kill)
            workers[name] = w
        load0 = _load()
        log.step(f"Warm latency over {len(gold)} gold questions, blocks of {args.block} in turn: {', '.join(workers)}")
        outs = interleave(log, workers, {n: gold for n in workers}, args.block, "gold questions")
        load1 = _load()
        from evals.metrics import percentile  # noqa: F401  (same percentile as newsdesk eval)

        for name, w in workers.items():
            closed = w.close()
            r = latency_summary(outs[name], w.ready, closed)
            root = Path(w.ready.get("root") or args.corpus.resolve())
            r["eval"] = _eval_figures(gold, outs[name], root)
            r["load_avg"] = [load0, load1]
            lat[name] = r
            (work / "answers").mkdir(exist_ok=True)
            (work / "answers" / f"{name}.jsonl").write_text(
                "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outs[name]), encoding="utf-8")
            _log_latency(log, name, r)


def throughput_section(log, results: dict, size: int, shards: int, work: Path, args) -> None:
    """newsdesk ingest vs raw encode vs naive LangChain ingest on one synthetic corpus, paired shard by
    shard in one process (see ``w_throughput``); the bar's ratios are medians of the per-shard ratios."""
    from evals.synth import generate

    corpus = work / f"synth-throughput-{size}"
    shutil.rmtree(corpus, ignore_errors=True)
    summary = generate(corpus, size, seed=args.seed + 7)
    files, n_bytes = tree_bytes(corpus)
    log.step(f"Ingest throughput: {summary.chunks:,} chunks, {files:,} files, {n_bytes / 1e6:.1f} MB in {shards} "
             "shards; per shard newsdesk ingest / raw encode / naive LangChain, order rotated")
    load0 = _load()
    m = _worker("throughput", {"corpus": str(corpus), "work": str(work / "throughput"), "shards": shards,
                               "chunks": summary.chunks}, _base_env(work / "unused-home"), log, "throughput",
                summary.chunks)
    r = m.result
    rows = r["shards"]
    tp = results["throughput"] = {
        "target_chunks": size, "chunks": summary.chunks, "files": files, "bytes": n_bytes, "shards": rows,
        "model_load_s": r["model_load_s"], "torch_threads": r["torch_threads"],
        "method": "one process, models loaded first (excluded); per shard of whole files: newsdesk ingest into a "
                  "fresh home, raw encode of the same chunk texts, naive LangChain ingest; order rotated per shard",
        "process_wall_s": round(m.wall_s, 1), "load_avg": [load0, _load()],
        "texts_match": all(x["newsdesk"]["texts_match"] for x in rows)}
    for what in ("newsdesk", "encode", "naive"):
        chunks = sum(x[what]["chunks"] for x in rows)
        sec = sum(x[what]["s"] for x in rows)
        tp[what] = {"chunks": chunks, "seconds": round(sec, 2), "chunks_per_s": round(chunks / sec, 2),
                    "mb_per_s": round(n_bytes / 1e6 / sec, 4), "model_load_s": r["model_load_s"][what],
                    "shard_chunks_per_s": [round(x[what]["chunks"] / x[what]["s"], 2) for x in rows]}
    for x in rows:
        x["ratio_vs_encode"] = _ratio(x["newsdesk"]["chunks"] / x["newsdesk"]["s"], x["encode"]["chunks"] / x["encode"]["s"])
        x["ratio_vs_naive"] = _ratio(x["newsdesk"]["chunks"] / x["newsdesk"]["s"], x["naive"]["chunks"] / x["naive"]["s"])
        x["ratio_vs_naive_per_mb"] = _ratio(x["naive"]["s"], x["newsdesk"]["s"])
    for key in ("ratio_vs_encode", "ratio_vs_naive", "ratio_vs_naive_per_mb"):
        tp[key] = round(statistics.median(x[key] for x in rows), 3)
    tp["ratio_of_totals"] = {"vs_encode": _ratio(tp["newsdesk"]["chunks_per_s"], tp["encode"]["chunks_per_s"]),
                             "vs_naive": _ratio(tp["newsdesk"]["chunks_per_s"], tp["naive"]["chunks_per_s"]),
                             "vs_naive_per_mb": _ratio(tp["newsdesk"]["mb_per_s"], tp["naive"]["mb_per_s"])}
    for what in ("newsdesk", "encode", "naive"):
        log.step(f"  {what}: {tp[what]['chunks']:,} chunks in {tp[what]['seconds']:.1f}s = {tp[what]['chunks_per_s']} "
                 f"chunks/s, {tp[what]['mb_per_s']} MB/s")
    log.step(f"  ratios (median over shards): vs encode {tp['ratio_vs_encode']}, vs naive {tp['ratio_vs_naive']} "
             f"(per MB {tp['ratio_vs_naive_per_mb']})")
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(work / "throughput", ignore_errors=True)


def scaling_section(log, results: dict, sizes: list[int], gold: list[dict], work: Path, args, save,
                    deadline: float | None) -> None:
    """Ingest a synthetic corpus at each size (keeping the indexes), then measure warm latency at all
    sizes together, in alternating blocks."""
    from contextlib import ExitStack

    from evals.synth import generate

    results["scaling"] = []
    rate = (results.get("throughput") or {}).get("newsdesk", {}).get("chunks_per_s")
    if rate:
        est = sum(sizes) / rate
        log.step(f"Scaling: {sizes} chunks; at {rate:.0f} chunks/s the ingests take about {est / 60:.0f} min")
    homes: dict[int, Path] = {}
    questions: dict[int, list[dict]] = {}
    for n in sizes:
        if rate and deadline and time.time() + n / rate * 1.15 > deadline:
            log.step(f"[yellow]Skipping {n:,} chunks: ~{n / rate / 60:.0f} min of ingest would pass "
                     "--max-minutes[/yellow]")
            results["scaling"].append({"target_chunks": n, "skipped": f"estimated {n / rate / 60:.0f} min of ingest "
                                       "would exceed --max-minutes"})
            continue
        t0 = time.perf_counter()
        corpus = work / f"synth-{n}"
        shutil.rmtree(corpus, ignore_errors=True)
        log.step(f"Synthetic corpus of ~{n:,} chunks" + (f" (ingest ~{n / rate / 60:.1f} min)" if rate else ""))
        with log.progress(f"generate {n:,}", n) as advance:
            summary = generate(corpus, n, seed=args.seed,
                               progress=lambda done, total: advance({"event": "progress", "done": done, "total": total}))
        log.step(f"  {summary.articles:,} articles, {summary.chunks:,} chunks, {summary.bytes / 1e6:.1f} MB "
                 f"in {summary.seconds:.1f}s")
        home = work / f"home-{n}"
        ing = ingest_step(log, corpus, home, f"ingest {n:,}", summary.chunks)
        rate = ing["chunks_per_s"] or rate
        log.step(f"  ingest {ing['chunks']:,} chunks in {ing['ingest_s']:.1f}s ({ing['chunks_per_s']} chunks/s; "
                 f"embedding {ing['phases_s']['of_which_embed']:.1f}s, keyword index "
                 f"{ing['phases_s']['keyword_index_and_manifest']:.1f}s), peak RSS {ing['peak_rss_mb']:.0f} MB, "
                 f"index {ing['index_bytes'] / 1e6:.0f} MB on disk")
        results["scaling"].append({"target_chunks": n, "chunks": ing["chunks"], "articles": summary.articles,
                                   "bytes": summary.bytes, "synth_s": round(summary.seconds, 2), "ingest": ing,
                                   "index_mb": round(ing["index_bytes"] / 1e6, 1),
                                   "ingest_peak_rss_mb": ing["peak_rss_mb"]})
        homes[n] = home
        questions[n] = scaling_questions(gold, summary.questions, args.seed)
        results["steps_s"][f"size_{n}"] = round(time.perf_counter() - t0, 1)
        save()
    if not homes:
        return
    with ExitStack() as stack:
        workers: dict[str, Served] = {}
        for n, home in homes.items():
            log.step(f"Starting the pipeline at {n:,} chunks")
            w = Served("query", {}, _base_env(home), f"size {n}")
            stack.callback(w.kill)
            workers[str(n)] = w
        load0 = _load()
        outs = interleave(log, workers, {str(n): questions[n] for n in homes}, max(1, args.block // 2),
                          "questions at every size")
        load1 = _load()
        for entry in results["scaling"]:
            n = entry.get("target_chunks")
            if str(n) not in workers:
                continue
            w = workers[str(n)]
            entry["query"] = latency_summary(outs[str(n)], w.ready, w.close())
            entry["query"]["load_avg"] = [load0, load1]
            entry["questions"] = [q["question"] for q in questions[n]]
            _log_latency(log, f"{n:,} chunks", entry["query"])
    for n, home in homes.items():
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(work / f"synth-{n}", ignore_errors=True)


# ============================================================================ printing
def _f(v, unit: str = "", nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        return f"{v:,.{nd}f}{unit}"
    return str(v)


SYSTEMS = (("newsdesk_local", "newsdesk (local reader)"), ("newsdesk_none", "newsdesk (no model)"),
           ("naive_local", "naive chain (same local model)"))


def print_table(console, results: dict) -> None:
    from rich.table import Table

    carried = results.get("carried_over")
    if carried:
        console.print(f"Sections {', '.join(carried['sections'])} carried over from the run started "
                      f"{carried.get('from_run_started_at')} (--carry-scaling).")
    tp = results.get("throughput")
    if tp and tp.get("newsdesk"):
        t = Table(title=f"Ingest throughput: {tp['chunks']:,} newsdesk chunks, {tp['files']:,} files, "
                        f"{tp['bytes'] / 1e6:.1f} MB, {len(tp['shards'])} paired shards, model load excluded")
        for col in ("system", "chunks", "seconds", "chunks/s", "MB/s", "model load s"):
            t.add_column(col, justify="left" if col == "system" else "right")
        for key, label in (("newsdesk", "newsdesk ingest"), ("encode", "raw model.encode (same chunk texts)"),
                           ("naive", "naive LangChain (1000/200 splitter)")):
            r = tp.get(key)
            if r:
                t.add_row(label, f"{r['chunks']:,}", _f(r["seconds"]), _f(r["chunks_per_s"]), _f(r["mb_per_s"], nd=3),
                          _f(r["model_load_s"]))
        console.print(t)
    lat = results.get("latency") or {}
    present = [(k, label) for k, label in SYSTEMS if lat.get(k, {}).get("latency_ms")]
    if present:
        t = Table(title=f"Warm query latency, ms, median / p95 over {lat['questions']} gold questions")
        t.add_column("stage")
        for _, label in present:
            t.add_column(label, justify="right")
        for stage in STAGES:
            row = []
            for k, _ in present:
                v = lat[k]["latency_ms"].get(stage)
                row.append(f"{_f(v['median'])} / {_f(v['p95'])}" if v else "–")
            t.add_row(stage, *row)
        for key in ("accuracy", "token_f1", "hit@5", "citation_validity", "citation_precision", "abstention_recall",
                    "false_abstention"):
            t.add_row(f"eval: {key}", *[_f((lat[k].get("eval") or {}).get("all", {}).get(key), nd=3)
                                        for k, _ in present])
        t.add_row("eval: fast subset meets thresholds",
                  *[_f((lat[k].get("eval") or {}).get("fast", {}).get("pass")) for k, _ in present])
        t.add_row("abstained / LLM fallbacks", *[f"{lat[k].get('abstained', '–')} / {lat[k].get('llm_fallbacks', '–')}" for k, _ in present])
        console.print(t)
    for k, label in SYSTEMS:
        if lat.get(k, {}).get("error"):
            console.print(f"[yellow]{label}: {lat[k]['error']}[/yellow]")
    t = Table(title="Cold start and memory")
    t.add_column("figure")
    t.add_column("value", justify="right")
    cold = results.get("cold_start")
    if cold:
        t.add_row("newsdesk --help, fresh process (median)", _f(cold["help"]["median_s"], " s", 3))
        t.add_row("newsdesk ask \"...\", fresh process (median)", _f(cold["ask"]["median_s"], " s", 2))
        t.add_row("newsdesk ask peak RSS", _f(max(cold["ask"]["peak_rss_mb"]), " MB", 0))
    if results.get("chat"):
        t.add_row(f"newsdesk chat peak RSS after {results['chat']['questions']} questions",
                  _f(results["chat"]["peak_rss_mb"], " MB", 0))
    console.print(t)
    sc = results.get("scaling") or []
    if sc:
        t = Table(title="Scaling (synthetic corpora)")
        for col in ("target", "chunks", "articles", "MB text", "ingest s", "chunks/s", "index MB", "ingest peak RSS MB",
                    "query median ms", "query p95 ms", "retrieve median ms"):
            t.add_column(col, justify="right")
        for e in sc:
            if e.get("skipped"):
                t.add_row(f"{e['target_chunks']:,}", "skipped", e["skipped"], *[""] * 8)
                continue
            ing, q = e["ingest"], (e.get("query") or {}).get("latency_ms", {})
            t.add_row(f"{e['target_chunks']:,}", f"{e['chunks']:,}", f"{e['articles']:,}", _f(e["bytes"] / 1e6),
                      _f(ing["ingest_s"]), _f(ing["chunks_per_s"]), _f(e["index_mb"], nd=0), _f(e["ingest_peak_rss_mb"], nd=0),
                      _f(q.get("total", {}).get("median")), _f(q.get("total", {}).get("p95")),
                      _f(q.get("retrieve", {}).get("median")))
        console.print(t)
    for name, err in (results.get("errors") or {}).items():
        console.print(f"[red]{name} failed:[/red] {err}", highlight=False, markup=False)
    b = Table(title="The bar (from this run)")
    for col in ("check", "value", "bar", "result", "detail"):
        b.add_column(col, overflow="fold")
    for c in results.get("bar", []):
        mark = "[green]pass[/green]" if c["pass"] else "[red]FAIL[/red]" if c["pass"] is False else "[dim]n/a[/dim]"
        b.add_row(c["id"], _f(c["value"], nd=3), f"{c['op']} {c['threshold']}", mark, c["detail"])
    console.print(b)


if __name__ == "__main__":
    raise SystemExit(main())
