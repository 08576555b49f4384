"""``evals/bench/report.html`` (``templates/bench.html.j2``) and the console tables of ``newsdesk
bench``, both from ``results.json``: one view per section (``VIEWS``), each a ``Block`` of notes,
charts and tables that the page shows and the console prints.

    python -m evals.bench_report [evals/bench/results.json] [--out evals/bench/report.html]
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from evals import charts
from evals.compare import STAGES

COLOURS = {"newsdesk": "#2563eb", "encode": "#64748b", "naive": "#f59e0b", "p95": "#8b5cf6",
           "newsdesk_local": "#2563eb", "newsdesk_none": "#10b981", "naive_local": "#f59e0b"}
VERDICTS = {True: "pass", False: "FAIL", None: "n/a"}
SYSTEMS = {"newsdesk_local": "newsdesk (local reader)", "newsdesk_none": "newsdesk (no model)",
           "naive_local": "naive chain (same local model)"}


def fmt(v, nd: int = 1) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if abs(v) >= 100:
            return f"{v:,.0f}"
        if 0 < abs(v) < 1:
            return f"{v:.{max(nd, 2)}g}" if abs(v) >= 0.01 else f"{v:.2g}"
        return f"{v:,.{nd}f}"
    return str(v)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]  # "pass" / "FAIL" / "n/a" cells are coloured
    cls: str = ""


@dataclass
class Block:
    id: str
    title: str
    note: str = ""
    charts: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    after: list[str] = field(default_factory=list)  # notes under the tables
    errors: list[str] = field(default_factory=list)  # sections that failed


def bar_view(r: dict, draw: bool) -> Block:
    rows = [[c["id"], c["what"], fmt(c["value"], 3), f"{c['op']} {c['threshold']}", VERDICTS[c["pass"]], c["detail"]]
            for c in r.get("bar", [])]
    return Block("bar", "The bar", tables=[Table(["check", "what", "value", "bar", "result", "detail"], rows, "text")],
                 errors=[f"{name} failed: {err}" for name, err in (r.get("errors") or {}).items()])


def throughput_view(r: dict, draw: bool) -> Block | None:
    tp = r.get("throughput")
    if not (tp and tp.get("newsdesk")):
        return None
    names = {"newsdesk": "newsdesk ingest", "encode": "raw encode", "naive": "naive LangChain"}
    rows = [[str(x["shard"] + 1), " → ".join(x["order"]), f"{x['files']:,}", fmt(x["bytes"] / 1e6, 2)]
            + [f"{x[k]['chunks']:,} in {fmt(x[k]['s'])} s" for k in names]
            + [fmt(x[k], 3) for k in ("ratio_vs_encode", "ratio_vs_naive", "ratio_vs_naive_per_mb")]
            for x in tp["shards"]]
    rows.append(["all", "", f"{tp['files']:,}", fmt(tp["bytes"] / 1e6, 2)]
                + [f"{tp[k]['chunks']:,} in {fmt(tp[k]['seconds'])} s" for k in names]
                + [f"median {fmt(tp[k], 3)}" for k in ("ratio_vs_encode", "ratio_vs_naive", "ratio_vs_naive_per_mb")])
    overall = [charts.bars(list(names.values()), [("overall", [tp[k][key] for k in names])], title, fmt=fmt,
                           ylabel=unit, ylim=(0, 0), size=(5.4, 3), colours=[COLOURS[colour]], title=title)
               for key, title, unit, colour in (("chunks_per_s", "chunks per second (all shards)", "chunks/s", "newsdesk"),
                                                ("mb_per_s", "MB of article text per second", "MB/s", "naive"))]
    return Block("throughput", "Ingest throughput", note=(
        f"{tp['chunks']:,} newsdesk chunks from {tp['files']:,} synthetic articles ({tp['bytes'] / 1e6:.1f} MB), split "
        f"into {len(tp['shards'])} shards of whole files. In one process, with the three models loaded first (timed "
        "apart and excluded from every rate), each shard was ingested by newsdesk into a fresh index, encoded by the "
        "raw model (same chunk texts), and ingested by naive LangChain, in an order rotated from shard to shard, so "
        "the three see the same machine conditions. The bar's ratios are medians of the per-shard ratios. The naive "
        "splitter makes fewer, longer chunks (1000/200 characters), so MB/s compares the same work."),
        charts=overall + [charts.bars([f"shard {x['shard'] + 1}" for x in tp["shards"]],
                                      [(n, tp[k]["shard_chunks_per_s"]) for k, n in names.items()],
                                      "chunks per second, shard by shard", fmt=fmt, ylabel="chunks/s", ylim=(0, 0),
                                      size=(11, 3), colours=[COLOURS[k] for k in names],
                                      title="chunks per second, shard by shard")] if draw else [],
        tables=[Table(["shard", "order", "files", "MB", "newsdesk", "raw encode", "naive", "newsdesk ÷ encode",
                       "newsdesk ÷ naive (chunks/s)", "newsdesk ÷ naive (MB/s)"], rows)],
        after=[f"Model load (excluded): {json.dumps(tp['model_load_s'])} s. Chunk texts encoded = texts newsdesk "
               f"stored: {fmt(tp.get('texts_match'))}."])


def latency_view(r: dict, draw: bool) -> Block | None:
    lat = r.get("latency") or {}
    present = [k for k in SYSTEMS if lat.get(k, {}).get("latency_ms")]
    errors = [f"{SYSTEMS[k]}: {lat[k]['error']}" for k in SYSTEMS if lat.get(k, {}).get("error")]
    if not present:
        return Block("latency", "Warm query latency", after=errors) if errors else None
    stage = {k: lat[k]["latency_ms"] for k in present}
    rows = [[s] + [f"{fmt(stage[k].get(s, {}).get('median'))} / {fmt(stage[k].get(s, {}).get('p95'))}"
                   for k in present] for s in STAGES]
    figures = {k: lat[k].get("eval") or {} for k in present}
    rows += [[f"eval: {key}"] + [fmt(figures[k].get("all", {}).get(key), 3) for k in present]
             for key in ("accuracy", "token_f1", "hit@5", "mrr@10", "citation_validity", "citation_precision",
                         "citation_recall", "abstention_recall", "false_abstention")]
    rows.append(["eval: fast subset meets evals/thresholds.toml"]
                + [VERDICTS[figures[k].get("fast", {}).get("pass")] for k in present])
    rows.append(["abstained / LLM fallbacks"] + [f"{lat[k].get('abstained', '–')} / {lat[k].get('llm_fallbacks', '–')}"
                                                 for k in present])
    llm = (lat.get("llm") or {}).get("model")
    return Block("latency", f"Warm query latency over {lat['questions']} gold questions", note=(
        "Each system was built once in its own process and warmed with one question; the systems then answered the "
        f"gold questions in alternating blocks of {lat.get('block')}. Stage times are the systems' own timings_ms."
        + (f" LLM: {llm}." if llm else "")),
        charts=[charts.bars(list(STAGES), [(SYSTEMS[k], [stage[k].get(s, {}).get(q) for s in STAGES]) for k in present],
                            f"{q} latency per stage", fmt=fmt, ylabel="ms (log scale)", log=True, size=(11, 3.2),
                            colours=[COLOURS[k] for k in present], title=f"{q} latency per stage")
                for q in ("median", "p95")] if draw else [],
        tables=[Table(["stage (median / p95 ms)"] + [SYSTEMS[k] for k in present], rows)], after=errors)


def cold_view(r: dict, draw: bool) -> Block | None:
    cold, chat, ci = r.get("cold_start"), r.get("chat"), r.get("corpus_index")
    rows = []
    if cold:
        rows += [["newsdesk --help (fresh process)", f"{fmt(cold['help']['median_s'], 3)} s",
                  ", ".join(fmt(x, 3) for x in cold["help"]["runs_s"])],
                 [f"newsdesk ask “{cold['question'][:60]}…” (fresh process)", f"{fmt(cold['ask']['median_s'], 2)} s",
                  ", ".join(fmt(x, 2) for x in cold["ask"]["runs_s"])],
                 ["newsdesk ask peak RSS", f"{fmt(max(cold['ask']['peak_rss_mb']))} MB", ""]]
    if chat:
        rows.append([f"newsdesk chat peak RSS after {chat['questions']} questions", f"{fmt(chat['peak_rss_mb'])} MB",
                     f"{fmt(chat['wall_s'])} s wall"])
    if ci:
        rows.append(["newsdesk ingest of corpus/ (fresh process, wall)", f"{fmt(ci['process_wall_s'])} s",
                     f"{ci['chunks']} chunks; model load {fmt(ci['model_load_s'])} s; peak RSS {fmt(ci['peak_rss_mb'])} MB"])
    return Block("cold", "Cold start and memory", tables=[Table(["figure", "value", "runs / detail"], rows)]) \
        if rows else None


def server_view(r: dict, draw: bool) -> Block | None:
    srv = r.get("server")
    if not srv:
        return None
    o, m = srv["overhead"], srv["memory"]
    rows = [["newsdesk ask through the server: client overhead (wall − server time), median / max",
             f"{fmt(o['client_overhead_median_s'], 3)} s", f"max {fmt(o['client_overhead_max_s'], 3)} s over "
             f"{o['questions']} questions; client wall median {fmt(o['client_wall_median_s'], 2)} s"],
            ["newsdesk ask in-process (fresh process, cold), median", f"{fmt(o['in_process_cold_median_s'], 2)} s",
             ", ".join(fmt(x, 2) for x in o["in_process_cold_runs_s"])]]
    if sl := srv.get("slack"):
        rows.append(["Slack bot using the server: signed app_mention → final chat.update, median",
                     f"{fmt(sl['round_trip_median_s'], 2)} s", f"p95 {fmt(sl['round_trip_p95_s'], 2)} s over "
                     f"{sl['questions']} questions the server had answered before (the client runs above)"])
    for label, group in (("server + Slack bot + 2 REPLs using it", "with_server"),
                         ("Slack bot + 2 REPLs, each in-process", "in_process")):
        parts = ", ".join(f"{k} {fmt(v['rss_mb'])}" for k, v in m[group].items())
        rows.append([f"RSS: {label}", f"{fmt(m[group + '_total_rss_mb'])} MB",
                     f"{parts}; USS {fmt(m[group + '_total_uss_mb'])} MB"
                     + (f"; PSS {fmt(m[group + '_total_pss_mb'])} MB" if m.get(group + "_total_pss_mb") else "")])
    return Block("server", "newsdesk serve: one warm process for every client", tables=[
        Table(["figure", "value", "detail"], rows)], note=(
        "Measured side by side in one run: questions through the server interleaved with fresh in-process asks; "
        "each client has answered one question when its memory is read (psutil); then the same questions to the "
        "Slack bot that uses the server, against a local fake of Slack's Web API, one at a time."))


def scaling_view(r: dict, draw: bool) -> Block | None:
    sc = [e for e in r.get("scaling", []) if e.get("ingest")]
    skipped = [f"{e['target_chunks']:,} chunks skipped: {e['skipped']}" for e in r.get("scaling", []) if e.get("skipped")]
    if not sc:
        return Block("scaling", "Scaling", after=skipped) if skipped else None
    xs, q = [e["chunks"] for e in sc], [(e.get("query") or {}).get("latency_ms", {}) for e in sc]
    rows = [[f"{e['target_chunks']:,}", f"{e['chunks']:,}", f"{e['articles']:,}", fmt(e["bytes"] / 1e6)]
            + [fmt(x) for x in (e["ingest"]["ingest_s"], e["ingest"]["chunks_per_s"],
                                e["ingest"]["phases_s"]["of_which_embed"],
                                e["ingest"]["phases_s"]["keyword_index_and_manifest"], e["index_mb"],
                                e["ingest_peak_rss_mb"], qq.get("total", {}).get("median"),
                                qq.get("total", {}).get("p95"), qq.get("retrieve", {}).get("median"),
                                qq.get("answer", {}).get("median"), (e.get("query") or {}).get("worker", {}).get("init_s"))]
            for e, qq in zip(sc, q)]

    def plot(title, series, ylabel, ylog=False):
        return charts.lines(xs, [(n, v) for n, v, _ in series], title, title=title, fmt=fmt, xlog=True, ylog=ylog,
                            ylim=(0, 0), xlabel="chunks (log scale)", ylabel=ylabel, colours=[c for *_, c in series])

    return Block("scaling", "Scaling (synthetic corpora from evals/synth.py)", note=(
        "Each size is generated, ingested by newsdesk in a fresh process, then all sizes answer the same 10 gold "
        "questions plus 10 questions about their own synthetic articles, in alternating blocks."), charts=[
        plot("warm query latency vs corpus size", [
            ("total median", [x.get("total", {}).get("median") for x in q], COLOURS["newsdesk"]),
            ("total p95", [x.get("total", {}).get("p95") for x in q], COLOURS["p95"]),
            ("retrieve median", [x.get("retrieve", {}).get("median") for x in q], COLOURS["newsdesk_none"])], "ms"),
        plot("ingest time vs corpus size", [("ingest s", [e["ingest"]["ingest_s"] for e in sc], COLOURS["newsdesk"])],
             "seconds (log scale)", ylog=True),
        plot("ingest peak memory vs corpus size", [
            ("ingest peak RSS", [e["ingest_peak_rss_mb"] for e in sc], COLOURS["newsdesk"]),
            ("query process peak RSS", [(e.get("query") or {}).get("worker", {}).get("peak_rss_mb") for e in sc],
             COLOURS["naive"])], "MB"),
        plot("index size on disk vs corpus size", [("index MB", [e["index_mb"] for e in sc], COLOURS["newsdesk"])],
             "MB (log scale)", ylog=True)] if draw else [],
        tables=[Table(["target", "chunks", "articles", "MB text", "ingest s", "chunks/s", "embed s", "keyword index s",
                       "index MB", "ingest peak RSS MB", "query median ms", "query p95 ms", "retrieve median ms",
                       "answer median ms", "pipeline start s"], rows)], after=skipped)


VIEWS = (bar_view, throughput_view, latency_view, cold_view, server_view, scaling_view)


def blocks(results: dict, draw: bool = True) -> list[Block]:
    return [b for view in VIEWS if (b := view(results, draw))]


def render(results: dict) -> str:
    m = results.get("machine", {})
    versions, load = m.get("versions", {}), [(m.get(k) or [None])[0] for k in ("load_avg_start", "load_avg_end")]
    meta = [("run", f"{results.get('started_at', '?')} – {results.get('finished_at', '?')}"),
            ("duration", f"{fmt((results.get('duration_s') or 0) / 60)} min"),
            ("machine", f"{m.get('cpu', '?')}, {m.get('cpus_usable')} CPUs, {m.get('mem_total_gb')} GB"),
            ("python", m.get("python")), ("torch", versions.get("torch")), ("chromadb", versions.get("chromadb")),
            ("commit", str(m.get("git_commit", ""))[:10] + (f" (+{m['git_dirty_files']} changed files)"
                                                           if m.get("git_dirty_files") else "")),
            ("load average", f"{fmt(load[0], 2)} at start, {fmt(load[1], 2)} at end")]
    carried = results.get("carried_over")
    note = (f"Sections {', '.join(carried.get('sections', []))} were measured by an earlier run started "
            f"{carried.get('from_run_started_at', '?')} (commit "
            f"{str((carried.get('from_run_machine') or {}).get('git_commit', ''))[:10]}) and carried over with "
            "--carry-scaling.") if carried else ""
    return charts.render_page("bench.html.j2", title="newsdesk bench", meta=meta, carried=note,
                              blocks=blocks(results), run=[("Arguments", results.get("args", {})),
                                                           ("Step durations (s)", results.get("steps_s", {})),
                                                           ("Versions", versions)])


def write_report(results: dict, path: Path) -> Path:
    (path := Path(path)).parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results), encoding="utf-8")
    return path


def print_tables(console, results: dict) -> None:
    """The page's tables on the console (rich), the bar last."""
    from rich.table import Table as RichTable

    if carried := results.get("carried_over"):
        console.print(f"Sections {', '.join(carried['sections'])} carried over from the run started "
                      f"{carried.get('from_run_started_at')} (--carry-scaling).")
    found = blocks(results, draw=False)
    for block in found[1:] + found[:1]:
        for t in block.tables:
            table = RichTable(title=block.title)
            for h in t.headers:
                table.add_column(h, overflow="fold")
            for row in t.rows:
                table.add_row(*[{"pass": "[green]pass[/green]", "FAIL": "[red]FAIL[/red]",
                                 "n/a": "[dim]n/a[/dim]"}.get(c, c.replace("[", r"\["))for c in row])
            console.print(table)
        for line in block.after + block.errors:
            console.print(line, markup=False, highlight=False, style="red" if line in block.errors else None)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_report", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", type=Path, default=Path("evals/bench/results.json"))
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    print(write_report(json.loads(a.results.read_text(encoding="utf-8")), a.out or a.results.with_name("report.html")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
