"""`make bench` / `newsdesk bench`: newsdesk's speed and memory, measured in one run on one machine,
against the physical limit and against naive LangChain RAG, and checked against the bar (``BAR``).
Figures go to ``OUT/results.json``; ``OUT/report.html`` (evals/bench_report.py) shows them.
The run is a list of ``SECTIONS``, each documented where it is defined; how processes are measured
and how to add a section: README "Benchmark". Systems compared take turns, so they share the
machine's slow and fast spells.

    python -m evals.bench [--sizes 1000,10000,100000] [--quick] [--skip-llm] [--out evals/bench]
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import operator
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
import traceback
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Callable

from evals.compare import STAGES

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = (1000, 10_000, 100_000)
QUICK_SIZES = (300, 1000, 3000)
WARMUP_QUESTION = "What happened in Caracas?"
SCALING_GOLD = 10  # gold questions per scaling size ...
SCALING_SYNTH = 10  # ... plus this many about the synthetic articles
THROUGHPUT_SIZE = 3000  # chunks in the ingest throughput corpus, measured in THROUGHPUT_SHARDS paired shards
THROUGHPUT_SHARDS = 6
SCRIPT = Path(sys.executable).parent / "newsdesk"  # the installed command, as a user runs it
NEWSDESK = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "bot.cli"]
SYSTEMS = ("newsdesk", "encode", "naive")  # the ingest throughput section's, in the first shard's order

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
    "server_client_overhead_s": ("`newsdesk ask` through `newsdesk serve`: client wall minus the server's own "
                                 "time, median seconds", "<", 0.4),
    "server_memory_ratio": ("RSS of a server + Slack bot + 2 REPLs using it ÷ the 3 clients each in-process",
                            "<", 1.0),
}
OPS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, "==": operator.eq}


# ============================================================================ figures
def summarize(values: list[float]) -> dict:
    """median / p95 / mean / min / max of a list of numbers (ms or s), rounded."""
    from evals.metrics import percentile

    stats = {"median": statistics.median, "p95": lambda v: percentile(v, 0.95), "mean": statistics.fmean,
             "min": min, "max": max}
    return {"n": len(values), **{k: round(f(values), 2) for k, f in stats.items()}} if values else {"n": 0}


def tree_bytes(path: Path) -> tuple[int, int]:
    """(files, bytes) of the articles under ``path``."""
    files = list(Path(path).rglob("*.txt"))
    return len(files), sum(p.stat().st_size for p in files)


def _ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def _rates(chunks: int, n_bytes: int, seconds: float) -> dict:
    return {"chunks_per_s": round(chunks / seconds, 2) if seconds else None,
            "mb_per_s": round(n_bytes / 1e6 / seconds, 4) if seconds else None}


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _rss_mb() -> float:
    import psutil

    return round(psutil.Process().memory_info().rss / 2 ** 20, 1)


# ============================================================================ measuring a process
class Watch(threading.Thread):
    """Peak RSS and CPU time of one process: psutil polls its RSS in this thread; ``stop`` waits for
    it to exit and reads its CPU time before it is reaped (README "Benchmark" says why not ru_maxrss)."""

    def __init__(self, pid: int, every_s: float = 0.02):
        import psutil

        super().__init__(daemon=True)
        self.pid, self.every_s, self.peak, self.cpu = pid, every_s, 0, 0.0
        self.proc, self.started, self.done = psutil.Process(pid), time.perf_counter(), threading.Event()
        self.start()

    def sample(self) -> None:
        import psutil

        with suppress(psutil.Error), self.proc.oneshot():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.cpu = sum(self.proc.cpu_times()[:2])  # user + system

    def run(self) -> None:
        while not self.done.is_set():
            self.sample()
            self.done.wait(self.every_s)

    def stop(self) -> tuple[float, float, float]:
        """Wait for the process to exit: (wall s, peak RSS MB, CPU s)."""
        with suppress(ChildProcessError):
            os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOWAIT)  # exited, not yet reaped
        wall = time.perf_counter() - self.started
        self.done.set()
        self.join()
        self.sample()  # a zombie still has its CPU times
        return wall, self.peak / 2 ** 20, self.cpu


@dataclass
class Measured:
    rc: int
    wall_s: float
    peak_rss_mb: float
    cpu_s: float
    stdout: str = ""
    stderr: str = ""


def run(cmd: list[str], env: dict | None = None, stdin_text: str | None = None) -> Measured:
    """Run a command to its end under a ``Watch``."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=err, text=True,
                                stdin=subprocess.DEVNULL if stdin_text is None else subprocess.PIPE)
        watch = Watch(proc.pid)
        if stdin_text is not None:
            proc.stdin.write(stdin_text)
            proc.stdin.close()
        wall, peak, cpu = watch.stop()
        rc = proc.wait()
        out.seek(0), err.seek(0)
        return Measured(rc, wall, peak, cpu, out.read(), err.read())


def _child(kind: str, args: dict, env: dict, conn) -> None:
    """A worker process: the benchmark's environment, its output silenced, then ``WORKERS[kind]``."""
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1), os.dup2(devnull, 2)
    try:
        WORKERS[kind](args, conn)
    except BaseException:
        conn.send(("error", traceback.format_exc()[-3000:]))
        raise SystemExit(1)


class Worker(AbstractContextManager):
    """``WORKERS[kind]`` in a fresh Python process under a ``Watch``. It sends ("progress", {...})
    at any time, ("ready", {...}) once started, ("reply", outputs) per batch of questions it is
    sent, and ("result", {...}) last; a batch of None tells a serving worker to finish. Leaving a
    ``with Worker(...)`` block kills it if it still runs."""

    def __init__(self, kind: str, args: dict, env: dict, name: str | None = None):
        ctx = multiprocessing.get_context("spawn")
        self.name, (self.conn, child) = name or kind, ctx.Pipe()
        self.proc = ctx.Process(target=_child, args=(kind, args, env, child), name=self.name)
        self.proc.start()
        child.close()
        self.watch, self.ready = Watch(self.proc.pid), {}

    def recv(self, want: str, on_progress=None):
        while True:
            try:
                what, data = self.conn.recv()
            except EOFError:
                self.proc.join()
                raise RuntimeError(f"{self.name}: worker ended before '{want}' (exit {self.proc.exitcode})") from None
            if what == want:
                return data
            if what == "error":
                self.kill()
                raise RuntimeError(f"{self.name}: worker failed:\n{data}")
            if what == "progress" and on_progress:
                on_progress(data)

    def start(self) -> Worker:
        self.ready = self.recv("ready")
        return self

    def ask(self, questions: list[dict]) -> list[dict]:
        self.conn.send(questions)
        return self.recv("reply")

    def finish(self, on_progress=None) -> dict:
        """The worker's result, with its wall time, peak RSS and CPU time."""
        result = self.recv("result", on_progress)
        wall, peak, cpu = self.watch.stop()
        self.proc.join()
        return {"peak_rss_mb": round(peak, 1), "process_wall_s": round(wall, 3), "cpu_s": round(cpu, 2),
                "self_peak_rss_mb": round(peak, 1), **result}

    def close(self) -> dict:
        self.conn.send(None)
        return self.finish()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()

    def __exit__(self, *exc) -> None:
        self.kill()


def base_env(home: Path | None = None, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not (k.startswith("NEWSDESK_") and k != "NEWSDESK_EMBED_MODEL")
           and k not in ("OPENAI_BASE_URL", "OPENAI_API_KEY")}
    env.update(PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               ANONYMIZED_TELEMETRY="False", NEWSDESK_LLM="local")
    return {**env, **({"NEWSDESK_HOME": str(home)} if home is not None else {}), **extra}


# ============================================================================ workers (child processes)
def w_ingest(a: dict, conn) -> None:
    """newsdesk's ingest of ``paths`` into ``$NEWSDESK_HOME``, the model loaded first and timed apart;
    the model's embed_documents is wrapped to time the embedding calls."""
    t0 = time.perf_counter()
    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.models import get_embeddings
    from retrieval.store import Store

    settings = Settings.from_env()
    t_import, t1 = time.perf_counter() - t0, time.perf_counter()
    inner = get_embeddings(settings.embed_model)
    inner.embed_query("warm up")
    model_load_s, rss_loaded = time.perf_counter() - t1, _rss_mb()
    spent, embed_documents = {"embed_s": 0.0, "calls": 0}, inner.embed_documents

    def timed(texts: list[str]) -> list[list[float]]:
        s = time.perf_counter()
        try:
            return embed_documents(texts)
        finally:
            spent["embed_s"] += time.perf_counter() - s
            spent["calls"] += 1

    inner.embed_documents = timed
    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        now = marks["last"] = time.perf_counter()
        marks.setdefault("first", now)
        if now - marks.get("sent", 0.0) > 0.5 or done == total:  # at most two a second
            marks["sent"] = now
            conn.send(("progress", {"done": done, "total": total, "what": "embedding"}))

    started = time.perf_counter()
    store = Store(settings, inner)
    report = ingest([Path(p) for p in a["paths"]], settings, store=store, progress=progress)
    ingest_s = time.perf_counter() - started
    first, last = marks.get("first", started), marks.get("last", started)
    conn.send(("result", dict(
        chunks=report.chunks_added, chunks_total=store.count(), files=report.files, documents=report.documents,
        skipped=len(report.skipped), ingest_s=round(ingest_s, 3), report_seconds=round(report.seconds, 3),
        import_s=round(t_import, 3), model_load_s=round(model_load_s, 3),
        phases_s={"load_clean_chunk": round(first - started, 3), "embed_and_upsert": round(last - first, 3),
                  "of_which_embed": round(spent["embed_s"], 3),
                  "keyword_index_and_manifest": round(started + ingest_s - last, 3)},
        embed_calls=spent["calls"], rss_after_model_mb=rss_loaded)))


def _shards(corpus: Path, work: Path, k: int) -> list[Path]:
    """Copy the corpus's articles into ``k`` folders of about equal size (whole files)."""
    files = sorted(corpus.rglob("*.txt"))
    total = sum(f.stat().st_size for f in files)
    out, acc = [], 0
    for f in files:
        if not out or (acc >= total * len(out) / k and len(out) < k):
            out.append(work / f"shard-{len(out)}")
            shutil.rmtree(out[-1], ignore_errors=True)
            out[-1].mkdir(parents=True)
        shutil.copy2(f, out[-1] / f.name)
        acc += f.stat().st_size
    return out


def w_throughput(a: dict, conn) -> None:
    """newsdesk ingest vs the model's own encode vs naive LangChain ingest (evals/baseline.py's index),
    paired shard by shard in one process, the models loaded first (timed apart), in an order rotated
    from shard to shard. The raw encode gets exactly the chunk texts newsdesk makes of the shard
    (checked against what it stored)."""
    import torch
    from langchain_huggingface import HuggingFaceEmbeddings
    from sentence_transformers import SentenceTransformer

    from evals.baseline import build_index
    from retrieval.chunking import chunk_document
    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.loaders import iter_corpus
    from retrieval.models import embedding_model_path, get_embeddings
    from retrieval.store import Store

    work, settings = Path(a["work"]), Settings.from_env()
    path = str(embedding_model_path(settings.embed_model))
    loads, t = {}, time.perf_counter()
    get_embeddings(settings.embed_model).embed_query("warm up")
    loads["newsdesk"], t = time.perf_counter() - t, time.perf_counter()
    raw = SentenceTransformer(path, device="cpu")
    raw.encode(["warm up"], batch_size=64, normalize_embeddings=True)
    loads["encode"], t = time.perf_counter() - t, time.perf_counter()
    naive_emb = HuggingFaceEmbeddings(model_name=path, model_kwargs={"device": "cpu"})
    naive_emb.embed_query("warm up")
    loads["naive"] = time.perf_counter() - t
    chunk = {  # (shard, its scratch folder, newsdesk's chunk texts of it) -> chunks made and stored
        "newsdesk": lambda shard, home, texts: ingest([shard], replace(settings, home=home)).chunks_added,
        "encode": lambda shard, home, texts: len(raw.encode(texts, batch_size=64, normalize_embeddings=True)),
        "naive": lambda shard, home, texts: build_index(shard.resolve(), home, naive_emb, settings, None)[1]}

    shards, rows, done = _shards(Path(a["corpus"]), work, a["shards"]), [], 0
    for i, shard in enumerate(shards):
        texts = [c.text for _p, docs, reason in iter_corpus([shard], root=shard.resolve()) if reason is None
                 for d in docs for c in chunk_document(d)]
        files, n_bytes = tree_bytes(shard)
        row = {"shard": i, "files": files, "bytes": n_bytes, "order": [*SYSTEMS[i % 3:], *SYSTEMS[:i % 3]]}
        for what in row["order"]:
            scratch = work / f"{what}-{i}"
            shutil.rmtree(scratch, ignore_errors=True)
            t = time.perf_counter()
            chunks = chunk[what](shard, scratch, texts)
            row[what] = {"chunks": chunks, "s": round(time.perf_counter() - t, 3)}
            if what == "newsdesk":
                stored = Store(st := replace(settings, home=scratch), get_embeddings(st.embed_model)).all_chunks()
                row[what]["texts_match"] = sorted(c.text for c in stored) == sorted(texts)
            shutil.rmtree(scratch, ignore_errors=True)
            done += len(texts) / 3
            conn.send(("progress", {"done": int(done), "total": a.get("chunks"),
                                    "what": f"shard {i + 1}/{len(shards)} {what}"}))
        rows.append(row)
    conn.send(("result", {"shards": rows, "model_load_s": {k: round(v, 3) for k, v in loads.items()},
                          "torch_threads": torch.get_num_threads()}))


def _serve(conn, answer_batch) -> None:
    """Answer each batch of questions sent, until a None."""
    while (questions := conn.recv()) is not None:
        conn.send(("reply", [{"id": q.get("id", ""), **o} for q, o in zip(questions, answer_batch(questions))]))
    conn.send(("result", {}))


def w_query(a: dict, conn) -> None:
    """newsdesk's pipeline, built once and warmed with one question, then serving batches; the
    timings are the pipeline's own ``Answer.timings_ms``."""
    t0 = time.perf_counter()
    from retrieval.config import Settings
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline(Settings.from_env())
    init_s, rss_ready, t1 = time.perf_counter() - t0, _rss_mb(), time.perf_counter()
    pipeline.ask(a.get("warmup") or WARMUP_QUESTION)
    conn.send(("ready", dict(init_s=round(init_s, 3), warmup_s=round(time.perf_counter() - t1, 3),
                             backend=pipeline.backend, root=str(pipeline.root), chunks=pipeline.store.count(),
                             rss_ready_mb=rss_ready)))
    _serve(conn, lambda qs: [pipeline.ask(q["question"], q.get("history") or []).to_json() for q in qs])


def w_naive_query(a: dict, conn) -> None:
    """The naive chain of evals/baseline.py (``run_naive``) through the local reader model; its index
    is built by a warm-up call, then it serves batches. Timings are run_naive's own."""
    t0 = time.perf_counter()
    from evals.baseline import run_naive
    from retrieval.config import Settings

    settings, corpus, work, extra = Settings.from_env(), Path(a["corpus"]), Path(a["work"]), {"console": None}
    warm = {"id": "warmup", "question": a.get("warmup") or WARMUP_QUESTION}
    _, info = run_naive([warm], corpus, work, settings, **extra)
    plain = {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool, type(None)))}
    conn.send(("ready", {"init_s": round(time.perf_counter() - t0, 3), "kwargs_passed": sorted(extra), "info": plain}))
    _serve(conn, lambda qs: run_naive(qs, corpus, work, settings, **extra)[0])


WORKERS = {"ingest": w_ingest, "throughput": w_throughput, "query": w_query, "naive_query": w_naive_query}


# ============================================================================ the sections
@dataclass
class Bench:
    """What every section gets: the options, the results so far, the console, a scratch folder and
    the gold questions; and the one way to measure: ``run`` a command or a ``worker``."""
    args: argparse.Namespace
    console: object
    work: Path
    gold: list[dict] = field(default_factory=list)
    results: dict = field(default_factory=lambda: {"steps_s": {}})
    save: Callable[[], None] = lambda: None

    @property
    def home(self) -> Path:  # the index of the bundled corpus (the corpus_index section makes it)
        return self.work / "home-corpus"

    def step(self, text: str) -> None:
        self.console.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {text} [dim](load {_load()})[/dim]",
                           highlight=False)

    @contextmanager
    def progress(self, label: str, total: int | None):
        """evals/runner.py's progress bar; yields ``advance({"done", "total", "what"})``."""
        from evals.runner import progress_bar

        with progress_bar(self.console, f"  {label} {{task.fields[what]}}") as bar:
            task = bar.add_task(label, total=total, what="")
            yield lambda e: bar.update(task, completed=e.get("done", 0), total=e.get("total") or total,
                                       what=e.get("what", ""))

    def run(self, cmd: list[str], env: dict, stdin_text: str | None = None) -> Measured:
        if (m := run(cmd, env, stdin_text)).rc != 0:
            raise RuntimeError(f"{' '.join(cmd[-2:])} failed (exit {m.rc}): {m.stderr[-800:]}")
        return m

    def worker(self, kind: str, args: dict, env: dict, label: str, total: int | None = None) -> dict:
        """Run one worker to its end with a progress bar: its result, wall time, peak RSS, CPU time."""
        with Worker(kind, args, env, label) as w, self.progress(label, total) as advance:
            return w.finish(advance)

    def ingest(self, corpus: Path, home: Path, label: str, total: int | None = None) -> dict:
        """newsdesk ingest of ``corpus`` into a new ``home`` in a fresh process, with its figures."""
        shutil.rmtree(home, ignore_errors=True)
        load0 = _load()
        r = self.worker("ingest", {"paths": [str(corpus)]}, base_env(home), label, total)
        files, n_bytes = tree_bytes(corpus)
        on_disk = sum(p.lstat().st_blocks * 512 for p in home.rglob("*") if p.is_file())  # allocated blocks
        return {**r, "index_bytes": on_disk, "load_avg": [load0, _load()], "corpus_files": files,
                "corpus_bytes": n_bytes, **_rates(r["chunks"], n_bytes, r["ingest_s"])}

    def interleave(self, workers: dict[str, Worker], questions: dict[str, list[dict]], block: int,
                   label: str) -> dict[str, list[dict]]:
        """Send each worker its questions in blocks, taking the workers in turn (rotating who goes
        first), so slow and fast spells of a shared machine fall on every system alike."""
        names, total, done = list(workers), sum(len(q) for q in questions.values()), 0
        outs: dict[str, list[dict]] = {n: [] for n in names}
        with self.progress(label, total) as advance:
            for bi in range(max((len(q) + block - 1) // block for q in questions.values())):
                for name in names[bi % len(names):] + names[:bi % len(names)]:
                    if chunk := questions[name][bi * block:(bi + 1) * block]:
                        outs[name] += workers[name].ask(chunk)
                        done += len(chunk)
                        advance({"done": done, "what": name})
        return outs

    def log_latency(self, name: str, r: dict) -> None:
        t = r["latency_ms"].get("total", {})
        self.step(f"  {name}: total median {t.get('median')} ms, p95 {t.get('p95')} ms over {r['questions']} questions")


def latency_summary(outputs: list[dict], worker: dict) -> dict:
    """The answers' per-stage latency (their own ``timings_ms``), abstentions and LLM fallbacks."""
    timed = [o.get("timings_ms", {}) for o in outputs]
    return {"questions": len(outputs),
            "latency_ms": {s: summarize([t[s] for t in timed if s in t]) for s in STAGES if any(s in t for t in timed)},
            "abstained": sum(bool(o.get("abstained")) for o in outputs),
            "llm_fallbacks": sum(any("failed" in n or "fell back" in n for n in o.get("notes") or [])
                                 for o in outputs), "worker": worker}


def eval_figures(gold_rows: list[dict], outputs: list[dict], root: Path) -> dict:
    """The summary eval figures of these answers, plus the fast subset against evals/thresholds.toml."""
    from evals.metrics import SUMMARY_KEYS, score

    full = score(gold_rows, outputs, root)
    out = {"all": {k: full.get(k) for k in SUMMARY_KEYS}, "failures": len(full["failures"])}
    if fast_idx := [i for i, g in enumerate(gold_rows) if "fast" in g.get("tags", [])]:
        fast = score([gold_rows[i] for i in fast_idx], [outputs[i] for i in fast_idx], root)
        floors = tomllib.loads((ROOT / "evals" / "thresholds.toml").read_text(encoding="utf-8")).get("fast", {})
        # a value of None: nothing to measure in this subset (e.g. no unanswerable question)
        checks = {key: {"value": (got := fast.get(key)), "floor": floor, "pass": None if got is None else
                        got <= floor if key == "false_abstention" else got >= floor} for key, floor in floors.items()}
        out["fast"] = {"questions": len(fast_idx), "checks": checks,
                       "pass": all(c["pass"] is not False for c in checks.values())}
    return out


def corpus_index(b: Bench) -> dict:
    """``newsdesk ingest`` of the bundled corpus in a fresh process (its index serves later sections)."""
    b.step("Indexing the bundled corpus (fresh process)")
    return b.ingest(b.args.corpus.resolve(), b.home, "ingest corpus/")


def cold_start(b: Bench) -> dict:
    """Wall time of ``newsdesk --help`` and ``newsdesk ask "..."`` as fresh processes, ask's peak RSS."""
    b.step("Cold start: fresh processes")
    question = next((g["question"] for g in b.gold if g["type"] != "unanswerable" and not g.get("history")),
                    b.gold[0]["question"])
    cmd, env = NEWSDESK, base_env(b.home)
    helps = [round(b.run([*cmd, "--help"], env).wall_s, 3) for _ in range(3 if b.args.quick else 5)]
    b.step(f"  newsdesk --help: median {statistics.median(helps):.3f}s over {len(helps)} runs")
    asks = [b.run([*cmd, "ask", question], env) for _ in range(1 if b.args.quick else 3)]
    b.step("  newsdesk ask (fresh process): " + ", ".join(f"{m.wall_s:.2f}s / {m.peak_rss_mb:.0f} MB" for m in asks))
    return {"command": " ".join([Path(cmd[0]).name, *cmd[1:]]), "question": question,
            "help": {"runs_s": helps, "median_s": round(statistics.median(helps), 3)},
            "ask": {"runs_s": [round(m.wall_s, 3) for m in asks],
                    "median_s": round(statistics.median(m.wall_s for m in asks), 3),
                    "peak_rss_mb": [round(m.peak_rss_mb, 1) for m in asks]}}


def server(b: Bench) -> dict | None:
    """``newsdesk serve`` (evals/bench_server.py): client overhead of `newsdesk ask` against fresh in-process
    asks, the memory of one server with three clients against the clients in-process, and the Slack
    round trip (mention to final update) of the bot using the server against the server's own time."""
    if b.args.skip_llm:
        return None
    from evals import bench_server

    b.step("newsdesk serve: clients against in-process")
    questions = [g["question"] for g in b.gold][:20]
    return bench_server.run(b.home, questions, cold=1 if b.args.quick else 3, say=b.step, env=base_env(b.home))


def chat_memory(b: Bench) -> dict:
    """Peak RSS of ``newsdesk chat`` fed ten questions on stdin."""
    questions = [g["question"] for g in b.gold if not g.get("history")][:10]
    b.step(f"newsdesk chat fed {len(questions)} questions on stdin")
    m = b.run([*NEWSDESK, "chat"], base_env(b.home, TERM="dumb", COLUMNS="120"),
              stdin_text="".join(q + "\n" for q in questions) + ":quit\n")
    b.step(f"  chat peak RSS {m.peak_rss_mb:.0f} MB ({m.wall_s:.1f}s wall)")
    return {"questions": len(questions), "peak_rss_mb": round(m.peak_rss_mb, 1), "wall_s": round(m.wall_s, 3),
            "answers_seen": m.stdout.count("Sources") + m.stdout.count("articles don't say"),
            "stdout_chars": len(m.stdout)}


def throughput(b: Bench) -> dict:
    """newsdesk ingest vs raw encode vs naive LangChain ingest on one synthetic corpus, paired shard
    by shard (``w_throughput``); the bar's ratios are medians of the per-shard ratios."""
    from evals.synth import generate

    size, shards = b.args.throughput_size, b.args.shards
    corpus = b.work / f"synth-throughput-{size}"
    shutil.rmtree(corpus, ignore_errors=True)
    summary = generate(corpus, size, seed=b.args.seed + 7)
    files, n_bytes = tree_bytes(corpus)
    b.step(f"Ingest throughput: {summary.chunks:,} chunks, {files:,} files, {n_bytes / 1e6:.1f} MB in {shards} "
           "shards; per shard newsdesk ingest / raw encode / naive LangChain, order rotated")
    load0 = _load()
    r = b.worker("throughput", {"corpus": str(corpus), "work": str(b.work / "throughput"), "shards": shards,
                                "chunks": summary.chunks}, base_env(b.work / "unused-home"), "throughput",
                 summary.chunks)
    rows = r["shards"]
    tp = {"target_chunks": size, "chunks": summary.chunks, "files": files, "bytes": n_bytes, "shards": rows,
          "model_load_s": r["model_load_s"], "torch_threads": r["torch_threads"],
          "method": "one process, models loaded first (excluded); per shard of whole files: newsdesk ingest into a "
                    "fresh home, raw encode of the same chunk texts, naive LangChain ingest; order rotated per shard",
          "process_wall_s": round(r["process_wall_s"], 1), "load_avg": [load0, _load()],
          "texts_match": all(x["newsdesk"]["texts_match"] for x in rows)}
    for what in SYSTEMS:
        chunks, sec = sum(x[what]["chunks"] for x in rows), sum(x[what]["s"] for x in rows)
        tp[what] = {"chunks": chunks, "seconds": round(sec, 2), **_rates(chunks, n_bytes, sec),
                    "model_load_s": r["model_load_s"][what],
                    "shard_chunks_per_s": [round(x[what]["chunks"] / x[what]["s"], 2) for x in rows]}
        b.step(f"  {what}: {chunks:,} chunks in {sec:.1f}s = {tp[what]['chunks_per_s']} chunks/s, "
               f"{tp[what]['mb_per_s']} MB/s")
    for x in rows:
        rate = {k: x[k]["chunks"] / x[k]["s"] for k in SYSTEMS}
        x.update(ratio_vs_encode=_ratio(rate["newsdesk"], rate["encode"]),
                 ratio_vs_naive=_ratio(rate["newsdesk"], rate["naive"]),
                 ratio_vs_naive_per_mb=_ratio(x["naive"]["s"], x["newsdesk"]["s"]))
    for key in ("ratio_vs_encode", "ratio_vs_naive", "ratio_vs_naive_per_mb"):
        tp[key] = round(statistics.median(x[key] for x in rows), 3)
    nd, enc, naive = (tp[k] for k in SYSTEMS)
    tp["ratio_of_totals"] = {"vs_encode": _ratio(nd["chunks_per_s"], enc["chunks_per_s"]),
                             "vs_naive": _ratio(nd["chunks_per_s"], naive["chunks_per_s"]),
                             "vs_naive_per_mb": _ratio(nd["mb_per_s"], naive["mb_per_s"])}
    b.step(f"  ratios (median over shards): vs encode {tp['ratio_vs_encode']}, vs naive {tp['ratio_vs_naive']} "
           f"(per MB {tp['ratio_vs_naive_per_mb']})")
    shutil.rmtree(corpus, ignore_errors=True)
    shutil.rmtree(b.work / "throughput", ignore_errors=True)
    return tp


def scaling(b: Bench) -> list:
    """Ingest a synthetic corpus at each size (keeping the indexes), then measure warm latency at all
    sizes together, in alternating blocks."""
    from evals.synth import generate

    entries = b.results["scaling"] = []
    rate = (b.results.get("throughput") or {}).get("newsdesk", {}).get("chunks_per_s")
    # time kept for the gold latency section that follows (the LLM answers take seconds each)
    deadline = b.args.started + b.args.max_minutes * 60 - len(b.gold) * (2 if b.args.skip_llm else 14) - 240 \
        if b.args.max_minutes else None
    if rate:
        b.step(f"Scaling: {b.args.sizes} chunks; at {rate:.0f} chunks/s the ingests take about "
               f"{sum(b.args.sizes) / rate / 60:.0f} min")
    homes, questions = {}, {}
    single = [g for g in b.gold if not g.get("history")]
    picked = [{"id": g["id"], "question": g["question"]} for g in single[::max(1, len(single) // SCALING_GOLD)]]
    for n in b.args.sizes:
        if rate and deadline and time.time() + n / rate * 1.15 > deadline:
            entries.append({"target_chunks": n, "skipped": f"estimated {n / rate / 60:.0f} min of ingest would "
                                                             "exceed --max-minutes"})
            b.step(f"[yellow]Skipping {n:,} chunks: {entries[-1]['skipped']}[/yellow]")
            continue
        t0, corpus, home = time.perf_counter(), b.work / f"synth-{n}", b.work / f"home-{n}"
        shutil.rmtree(corpus, ignore_errors=True)
        with b.progress(f"generate {n:,}", n) as advance:
            summary = generate(corpus, n, seed=b.args.seed, progress=lambda d, t: advance({"done": d, "total": t}))
        b.step(f"Synthetic corpus: {summary.articles:,} articles, {summary.chunks:,} chunks, {summary.bytes / 1e6:.1f} "
               f"MB in {summary.seconds:.1f}s" + (f"; its ingest takes about {n / rate / 60:.1f} min" if rate else ""))
        ing = b.ingest(corpus, home, f"ingest {n:,}", summary.chunks)
        rate = ing["chunks_per_s"] or rate
        b.step(f"  ingest {ing['chunks']:,} chunks in {ing['ingest_s']:.1f}s ({ing['chunks_per_s']} chunks/s; "
               f"embedding {ing['phases_s']['of_which_embed']:.1f}s, keyword index "
               f"{ing['phases_s']['keyword_index_and_manifest']:.1f}s), peak RSS {ing['peak_rss_mb']:.0f} MB, "
               f"index {ing['index_bytes'] / 1e6:.0f} MB on disk")
        entries.append({"target_chunks": n, "chunks": ing["chunks"], "articles": summary.articles,
                        "bytes": summary.bytes, "synth_s": round(summary.seconds, 2), "ingest": ing,
                        "index_mb": round(ing["index_bytes"] / 1e6, 1), "ingest_peak_rss_mb": ing["peak_rss_mb"]})
        synth = random.Random(b.args.seed).sample(summary.questions, min(SCALING_SYNTH, len(summary.questions)))
        homes[n], questions[n] = home, picked[:SCALING_GOLD] + [
            {"id": f"s{i:02d}", "question": q["question"], "expected": q["answer"], "source": q["source"]}
            for i, q in enumerate(synth)]
        b.results["steps_s"][f"size_{n}"] = round(time.perf_counter() - t0, 1)
        b.save()
    with ExitStack() as stack:
        workers = {}
        for n, home in homes.items():
            b.step(f"Starting the pipeline at {n:,} chunks")
            workers[n] = stack.enter_context(Worker("query", {}, base_env(home), f"size {n}")).start()
        load0 = _load()
        outs = b.interleave(workers, questions, max(1, b.args.block // 2), "questions at every size") if homes else {}
        load1 = _load()
        for entry in entries:
            if (n := entry["target_chunks"]) in workers:
                entry["query"] = latency_summary(outs[n], {**workers[n].ready, **workers[n].close()})
                entry["query"]["load_avg"] = [load0, load1]
                entry["questions"] = [q["question"] for q in questions[n]]
                b.log_latency(f"{n:,} chunks", entry["query"])
    return entries


def latency(b: Bench) -> dict:
    """Warm latency over the gold questions: newsdesk with its default reader (the local GGUF), the
    naive chain answering through that same model in its own process, and newsdesk without a model
    (``NEWSDESK_LLM=none``), measured in alternating blocks."""
    lat = {"questions": len(b.gold), "block": b.args.block}
    specs = {"newsdesk_local": ("query", {}, base_env(b.home)),
             "newsdesk_none": ("query", {}, base_env(b.home, NEWSDESK_LLM="none"))}
    if not b.args.skip_llm:
        specs["naive_local"] = ("naive_query", {"corpus": str(b.args.corpus.resolve()),
                                                "work": str(b.work / "naive-eval")}, base_env(b.home))
        lat["llm"] = {"model": "the reader's local GGUF (retrieval.models.model_path), in-process in each "
                               "system's own process, llama-cpp-python"}
    with ExitStack() as stack:
        workers: dict[str, Worker] = {}
        for name, (kind, wargs, env) in specs.items():
            b.step(f"Starting {name} (loads models, answers one warm-up question)")
            try:
                workers[name] = stack.enter_context(Worker(kind, wargs, env, name)).start()
            except RuntimeError as exc:
                if name == "newsdesk_local":
                    raise
                lat[name] = {"error": f"did not start: {str(exc)[-600:]}"}
                b.step(f"[red]{name} did not start[/red]: {str(exc)[-300:]}")
        load0 = _load()
        b.step(f"Warm latency over {len(b.gold)} gold questions, blocks of {b.args.block} in turn: "
               f"{', '.join(workers)}")
        outs = b.interleave(workers, {n: b.gold for n in workers}, b.args.block, "gold questions")
        load1 = _load()
        (b.work / "answers").mkdir(exist_ok=True)
        for name, w in workers.items():
            r = lat[name] = latency_summary(outs[name], {**w.ready, **w.close()})
            r["eval"] = eval_figures(b.gold, outs[name], Path(w.ready.get("root") or b.args.corpus.resolve()))
            r["load_avg"] = [load0, load1]
            (b.work / "answers" / f"{name}.jsonl").write_text(
                "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outs[name]), encoding="utf-8")
            b.log_latency(name, r)
    return lat


@dataclass(frozen=True)
class Section:
    key: str  # where its figures go in results.json (and its errors in results["errors"])
    run: Callable[[Bench], object]  # measures and returns the figures
    step: str  # its time in results["steps_s"]
    synthetic: bool = False  # works on synthetic corpora: skipped with --skip-scaling


# In order: later sections use what earlier ones made (the corpus index, the ingest rate).
SECTIONS = (
    Section("corpus_index", corpus_index, "corpus_ingest"),
    Section("cold_start", cold_start, "cold_start"),
    Section("chat", chat_memory, "chat_memory"),
    Section("server", server, "server"),
    Section("throughput", throughput, "throughput", synthetic=True),
    Section("scaling", scaling, "scaling", synthetic=True),
    Section("latency", latency, "latency"),
)


# ============================================================================ the bar
def check_bar(results: dict) -> list[dict]:
    checks = []

    def add(key: str, value, detail: str) -> None:
        what, op, threshold = BAR[key]
        checks.append({"id": key, "what": what, "value": value, "op": op, "threshold": threshold,
                       "pass": None if value is None else OPS[op](value, threshold), "detail": detail})

    tp = results.get("throughput") or {}
    nd, enc, naive, rounds = tp.get("newsdesk"), tp.get("encode"), tp.get("naive"), len(tp.get("shards", []))
    add("ingest_vs_encode", tp["ratio_vs_encode"] if nd and enc else None,
        f"median of {rounds} paired shards, {nd['chunks']:,} chunks in all: {nd['chunks_per_s']} vs "
        f"{enc['chunks_per_s']} chunks/s overall; model load excluded on both sides" if nd and enc else "not measured")
    add("ingest_vs_naive", tp["ratio_vs_naive"] if nd and naive else None,
        f"median of {rounds} paired shards: {nd['chunks_per_s']} vs {naive['chunks_per_s']} chunks/s overall; per MB "
        f"of the same files: {tp['ratio_vs_naive_per_mb']}× ({nd['mb_per_s']} vs {naive['mb_per_s']} MB/s)"
        if nd and naive else "not measured")
    lat = results.get("latency") or {}
    nd_llm, naive_llm = lat.get("newsdesk_local") or {}, lat.get("naive_local") or {}
    t = nd_llm.get("latency_ms", {}).get("total") or {}
    for key, q in (("reader_median_s", "median"), ("reader_p95_s", "p95")):
        add(key, round(t[q] / 1000, 3) if t.get(q) is not None else None,
            f"warm {q} total {t.get(q)} ms" if t else "not measured")
    both = bool(t and naive_llm.get("latency_ms", {}).get("total"))
    a, nb = t.get("median"), naive_llm.get("latency_ms", {}).get("total", {}).get("median") if both else None
    add("latency_vs_naive", _ratio(a, nb) if both else None,
        f"{a} ms vs {nb} ms median total over {nd_llm.get('questions')} gold questions, both reading with the same "
        "local GGUF" if both else "not measured (--skip-llm or the naive baseline is unavailable)")
    fa, fb = nd_llm.get("eval", {}).get("all", {}), naive_llm.get("eval", {}).get("all", {})
    for key in ("accuracy", "abstention_recall"):
        ok = both and fa.get(key) is not None and fb.get(key) is not None
        add(f"{key}_minus_naive", round(fa[key] - fb[key], 3) if ok else None,
            f"{fa[key]:.3f} vs {fb[key]:.3f} over the same gold questions, same model" if ok else "not measured")
    fast = nd_llm.get("eval", {}).get("fast")
    add("eval_figures_kept", fast["pass"] if fast else None,
        f"newsdesk_local: {'pass' if fast['pass'] else 'FAIL'}" if fast else "")
    sc = [s for s in results.get("scaling", []) if s.get("query")]
    lo, hi = (sc[0], sc[-1]) if len(sc) >= 2 else (None, None)
    a, nb = [e["query"]["latency_ms"]["total"]["median"] for e in (hi, lo)] if lo else (0, 0)
    add("scaling_latency", _ratio(a, nb) if lo else None,
        f"{a} ms at {hi['chunks']:,} chunks vs {nb} ms at {lo['chunks']:,}" if lo else "needs two sizes")
    sc = [s for s in results.get("scaling", []) if s.get("ingest_peak_rss_mb")]
    lo, hi = (sc[-2], sc[-1]) if len(sc) >= 2 else (None, None)
    add("scaling_memory", _ratio(hi["ingest_peak_rss_mb"], lo["ingest_peak_rss_mb"]) if lo else None,
        f"{hi['ingest_peak_rss_mb']} MB at {hi['chunks']:,} chunks vs {lo['ingest_peak_rss_mb']} MB at "
        f"{lo['chunks']:,}" if lo else "needs two sizes")
    add("help_seconds", (results.get("cold_start") or {}).get("help", {}).get("median_s"), "median of fresh processes")
    over, mem = (results.get("server") or {}).get("overhead") or {}, (results.get("server") or {}).get("memory") or {}
    add("server_client_overhead_s", over.get("client_overhead_median_s"),
        f"{over['questions']} questions; in-process cold `newsdesk ask` median {over['in_process_cold_median_s']} s "
        "in the same run" if over else "not measured")
    add("server_memory_ratio", mem.get("rss_ratio"),
        f"{mem['with_server_total_rss_mb']:,.0f} vs {mem['in_process_total_rss_mb']:,.0f} MB RSS" if mem
        else "not measured")
    return checks


# ============================================================================ main
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="newsdesk bench", description="Measure newsdesk's ingest throughput, warm "
                                "query latency, cold start, scaling and memory; write OUT/results.json and "
                                "OUT/report.html.")
    add, flag = p.add_argument, partial(p.add_argument, action="store_true")
    add("--out", type=Path, default=ROOT / "evals" / "bench", help="where results.json and report.html go (default "
        "evals/bench)")
    add("--sizes", help="comma-separated synthetic corpus sizes in chunks (default 1000,10000,100000; with --quick "
        "300,1000,3000)")
    add("--throughput-size", type=int, help=f"chunks in the ingest throughput corpus (default {THROUGHPUT_SIZE:,}; "
        "with --quick the smallest size)")
    add("--shards", type=int, help=f"throughput shards, each measured for all three systems in rotated order "
        f"(default {THROUGHPUT_SHARDS}; --quick 3)")
    add("--block", type=int, default=10, help="questions per turn when systems alternate (default 10)")
    flag("--quick", help="small sizes, one round, fewer repeats, no LLM: a smoke run")
    flag("--skip-llm", help="skip the naive chain (a second copy of the local model)")
    flag("--skip-scaling", help="skip the synthetic corpora (throughput and scaling)")
    flag("--carry-scaling", help="with --skip-scaling: keep the throughput and scaling sections of the results.json "
         "already in OUT (marked with that run's start time), so a rerun of the other sections does not lose hours "
         "of ingest figures")
    add("--max-minutes", type=float, help="skip scaling sizes whose estimated ingest would end past this many "
        "minutes from the start (default: no limit)")
    add("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    add("--corpus", type=Path, default=ROOT / "corpus")
    add("--tag", help="use only the gold questions with this tag (e.g. fast: every type, 20 questions)")
    add("--gold-limit", type=int, help="use only the first N gold questions (for tests; default all)")
    add("--work", type=Path, help="scratch folder for indexes and corpora (default: a new temp folder, removed at "
        "the end)")
    flag("--keep", help="keep the scratch folder")
    add("--seed", type=int, default=0, help="seed of the synthetic corpora (default 0)")
    flag("--strict", help="exit 1 when a measured figure misses the bar")
    args = p.parse_args(argv)
    args.sizes = sorted({int(s) for s in args.sizes.split(",")} if args.sizes else
                        set(QUICK_SIZES if args.quick else DEFAULT_SIZES))
    args.skip_llm = args.skip_llm or args.quick
    args.throughput_size = args.throughput_size or (min(args.sizes) if args.quick else THROUGHPUT_SIZE)
    args.shards = args.shards or (3 if args.quick else THROUGHPUT_SHARDS)
    args.started = time.time()
    return args


def machine_info() -> dict:
    import psutil

    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version for d in metadata.distributions()}
    cpu = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
           if line.startswith("model name")] if Path("/proc/cpuinfo").exists() else []
    git = ["git", "-C", str(ROOT)]
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu_count": psutil.cpu_count(),
            "cpus_usable": len(psutil.Process().cpu_affinity() or []) or psutil.cpu_count(),
            "mem_total_gb": round(psutil.virtual_memory().total / 2 ** 30, 1),
            "cpu": cpu[0] if cpu else platform.processor(),
            "versions": {pkg: installed.get(pkg.replace("_", "-")) for pkg in (
                "torch", "sentence-transformers", "chromadb", "langchain-core", "langchain-chroma",
                "langchain-huggingface", "langchain-text-splitters", "bm25s", "llama_cpp_python", "newsdesk")},
            "git_commit": subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
            "git_dirty_files": len(subprocess.run([*git, "status", "--porcelain"], capture_output=True,
                                                  text=True).stdout.splitlines()),
            "load_avg_start": list(os.getloadavg())}


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
    if not (kept := [name for name in ("throughput", "scaling") if name in old]):
        raise SystemExit(f"--carry-scaling: {previous} has no throughput or scaling section to keep.")
    for name in kept:
        results[name] = old[name]
        for part in ("steps_s", "errors"):
            if name in old.get(part, {}):
                results.setdefault(part, {})[name] = old[part][name]
    # sections the earlier run itself carried keep their first origin
    origin = old.get("carried_over") or {f"from_run_{k}": old.get(k) for k in ("started_at", "args", "machine")}
    results["carried_over"] = {"sections": kept, **{f"from_run_{k}": origin.get(f"from_run_{k}")
                                                    for k in ("started_at", "args", "machine")}}


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    from evals.bench_report import print_tables, write_report
    from evals.runner import load_gold

    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 150)
    work = args.work or Path(tempfile.mkdtemp(prefix="newsdesk-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    args.out.mkdir(parents=True, exist_ok=True)
    gold = load_gold(args.gold, args.tag)[: args.gold_limit or None]
    results: dict = {"schema": 1, "started_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
                     "args": {"sizes": args.sizes, "throughput_size": args.throughput_size,
                              "throughput_shards": args.shards, "quick": args.quick, "skip_llm": args.skip_llm,
                              "gold": str(args.gold), "tag": args.tag, "gold_questions": len(gold),
                              "corpus": str(args.corpus), "seed": args.seed, "max_minutes": args.max_minutes,
                              "block": args.block},
                     "machine": machine_info(), "steps_s": {}}
    if args.carry_scaling:
        carry_scaling(results, args.out / "results.json", args.skip_scaling)

    def save() -> None:
        results["bar"] = check_bar(results)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n",
                                               encoding="utf-8")

    b = Bench(args, console, work, gold, results, save)
    b.step(f"[bold]newsdesk bench[/bold]: sizes {args.sizes}, throughput on ~{args.throughput_size:,} chunks in "
           f"{args.shards} shards, {len(gold)} gold questions, LLM {'skipped' if args.skip_llm else 'on'}; "
           f"scratch {work}")
    try:
        for section in [s for s in SECTIONS if not (s.synthetic and args.skip_scaling)]:
            t = time.perf_counter()
            try:
                if (value := section.run(b)) is not None:
                    results[section.key] = value
            except Exception as exc:  # noqa: BLE001 - one broken section must not lose the others
                results.setdefault("errors", {})[section.key] = "".join(
                    traceback.format_exception_only(exc)).strip()[-2000:]
                b.step(f"[red]{section.key} failed:[/red] {str(exc)[-500:]}")
            finally:
                results["steps_s"][section.step] = round(time.perf_counter() - t, 1)
                save()
    finally:
        results.update(finished_at=time.strftime("%Y-%m-%dT%H:%M:%S"), duration_s=round(time.time() - args.started, 1))
        results["machine"].update(load_avg_end=list(os.getloadavg()), bench_process_peak_rss_mb=round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1))
        save()
        try:
            b.step(f"Wrote {args.out / 'results.json'} and {write_report(results, args.out / 'report.html')}")
        except Exception as exc:  # the numbers matter more than the page
            b.step(f"[red]report.html failed: {exc!r}[/red]")
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print_tables(console, results)
    if missed := [c["id"] for c in results["bar"] if c["pass"] is False]:
        console.print(f"Missed the bar: {', '.join(missed)}." + ("" if args.strict else " (exit 0; --strict exits 1)"))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
