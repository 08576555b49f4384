"""``evals/bench/report.html``: one self-contained page (inline SVG, no scripts, no network) for
the figures ``evals/bench.py`` writes to ``results.json``.

    python -m evals.bench_report [evals/bench/results.json] [--out evals/bench/report.html]
"""
from __future__ import annotations

import argparse
import html
import json
import math
from pathlib import Path

COLORS = {"newsdesk": "#1f77b4", "encode": "#7f7f7f", "naive": "#ff7f0e", "p95": "#9467bd",
          "newsdesk_local": "#1f77b4", "newsdesk_none": "#2ca02c", "naive_local": "#ff7f0e"}
LABELS = {"newsdesk_local": "newsdesk (local reader)", "newsdesk_none": "newsdesk (no model)",
          "naive_local": "naive chain (same local model)"}
STAGES = ("rewrite", "retrieve", "answer", "verify", "total")


def esc(x) -> str:
    return html.escape(str(x), quote=True)


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


def _nice_max(v: float) -> float:
    """A round axis maximum at or above ``v`` (the eval report's rule)."""
    from evals.report import _nice_step

    return _nice_step(v)


# ---------------------------------------------------------------------------- charts
def bar_chart(title: str, categories: list[str], series: list[tuple[str, list, str]], unit: str,
              width: int = 560, height: int = 300, log: bool = False) -> str:
    """Grouped vertical bars; ``series`` is (name, values per category, colour)."""
    left, right, top, bottom = 64, 16, 34, 70
    pw, ph = width - left - right, height - top - bottom
    vals = [v for _, vs, _ in series for v in vs if v is not None and v > 0]
    if not vals:
        return ""
    if log:
        lo = 10 ** math.floor(math.log10(min(vals)))
        hi = 10 ** math.ceil(math.log10(max(vals)))
        if hi <= lo:
            hi = lo * 10

        def y(v):
            return top + ph - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        ticks = [lo * 10 ** i for i in range(int(round(math.log10(hi / lo))) + 1)]
    else:
        hi = _nice_max(max(vals) * 1.08)

        def y(v):
            return top + ph - v / hi * ph
        ticks = [hi * i / 5 for i in range(6)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(title)}"><text x="{width / 2}" y="20" text-anchor="middle" class="t">{esc(title)}</text>']
    for tv in ticks:
        ty = y(tv) if tv > 0 or not log else top + ph
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{ty:.1f}" y2="{ty:.1f}" class="g"/>'
                   f'<text x="{left - 6}" y="{ty + 4:.1f}" text-anchor="end" class="a">{fmt(tv)}</text>')
    out.append(f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle" '
               f'class="a">{esc(unit)}</text>')
    group = pw / max(1, len(categories))
    bw = min(48, group * 0.8 / max(1, len(series)))
    for ci, cat in enumerate(categories):
        gx = left + ci * group + (group - bw * len(series)) / 2
        for si, (name, vs, color) in enumerate(series):
            v = vs[ci] if ci < len(vs) else None
            if v is None:
                continue
            x = gx + si * bw
            yy = y(v) if v > 0 else top + ph
            out.append(f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bw - 3:.1f}" height="{top + ph - yy:.1f}" '
                       f'fill="{color}"><title>{esc(name)} {esc(cat)}: {fmt(v)} {esc(unit)}</title></rect>'
                       f'<text x="{x + (bw - 3) / 2:.1f}" y="{yy - 4:.1f}" text-anchor="middle" class="v">{fmt(v)}</text>')
        out.append(f'<text x="{left + ci * group + group / 2:.1f}" y="{top + ph + 16}" text-anchor="middle" '
                   f'class="a">{esc(cat)}</text>')
    if len(series) > 1:
        lx = left
        for name, _, color in series:
            out.append(f'<rect x="{lx}" y="{height - 22}" width="12" height="12" fill="{color}"/>'
                       f'<text x="{lx + 16}" y="{height - 12}" class="a">{esc(name)}</text>')
            lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, xs: list[float], series: list[tuple[str, list, str]], ylabel: str,
               width: int = 560, height: int = 300, ylog: bool = False, yzero: bool = True) -> str:
    """Lines over a log-scaled x axis (corpus size in chunks)."""
    left, right, top, bottom = 64, 20, 34, 62
    pw, ph = width - left - right, height - top - bottom
    pts = [(x, v) for _, vs, _ in series for x, v in zip(xs, vs) if v is not None]
    if not pts or not xs:
        return ""
    xlo, xhi = min(xs), max(xs)
    if xhi == xlo:
        xhi = xlo * 10
    lxlo, lxhi = math.log10(xlo) - 0.1, math.log10(xhi) + 0.1

    def X(x):
        return left + (math.log10(x) - lxlo) / (lxhi - lxlo) * pw

    vals = [v for _, v in pts if v > 0]
    if ylog and vals:
        lo, hi = 10 ** math.floor(math.log10(min(vals))), 10 ** math.ceil(math.log10(max(vals)))
        hi = hi if hi > lo else lo * 10

        def Y(v):
            return top + ph - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)) * ph
        ticks = [lo * 10 ** i for i in range(int(round(math.log10(hi / lo))) + 1)]
    else:
        hi = _nice_max(max(v for _, v in pts) * 1.1)
        lo = 0.0

        def Y(v):
            return top + ph - (v - lo) / (hi - lo) * ph
        ticks = [hi * i / 5 for i in range(6)]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
           f'aria-label="{esc(title)}"><text x="{width / 2}" y="20" text-anchor="middle" class="t">{esc(title)}</text>']
    for tv in ticks:
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{Y(tv):.1f}" y2="{Y(tv):.1f}" class="g"/>'
                   f'<text x="{left - 6}" y="{Y(tv) + 4:.1f}" text-anchor="end" class="a">{fmt(tv)}</text>')
    for x in xs:
        out.append(f'<line x1="{X(x):.1f}" x2="{X(x):.1f}" y1="{top}" y2="{top + ph}" class="g"/>'
                   f'<text x="{X(x):.1f}" y="{top + ph + 16}" text-anchor="middle" class="a">{x:,.0f}</text>')
    out.append(f'<text x="{left + pw / 2}" y="{top + ph + 34}" text-anchor="middle" class="a">chunks (log scale)</text>'
               f'<text x="14" y="{top + ph / 2}" transform="rotate(-90 14 {top + ph / 2})" text-anchor="middle" '
               f'class="a">{esc(ylabel)}</text>')
    for name, vs, color in series:
        p = [(X(x), Y(v), v) for x, v in zip(xs, vs) if v is not None]
        if len(p) > 1:
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b, _ in p) + '"/>')
        for a, b, v in p:
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{color}"><title>{esc(name)}: {fmt(v)}</title>'
                       f'</circle><text x="{a + 6:.1f}" y="{b - 6:.1f}" class="v">{fmt(v)}</text>')
    if len(series) > 1:
        lx = left
        for name, _, color in series:
            out.append(f'<rect x="{lx}" y="{height - 16}" width="12" height="12" fill="{color}"/>'
                       f'<text x="{lx + 16}" y="{height - 6}" class="a">{esc(name)}</text>')
            lx += 24 + 7 * len(name)
    out.append("</svg>")
    return "".join(out)


def table(headers: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


# ---------------------------------------------------------------------------- page
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.meta{color:#666;font-size:12px} .charts{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fafafa;border:1px solid #e5e5e5;border-radius:4px}
svg .t{font-size:13px;font-weight:600} svg .a{font-size:11px;fill:#555} svg .v{font-size:10px;fill:#222}
svg .g{stroke:#e3e3e3;stroke-width:1}
table{border-collapse:collapse;margin:8px 0;font-size:13px} th,td{border:1px solid #ddd;padding:4px 8px;text-align:right}
th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
table.bar td{text-align:left} table.bar td:nth-child(3){text-align:right}
.pass{color:#127a12;font-weight:600} .fail{color:#b00;font-weight:600} .na{color:#888}
.note{color:#555;font-size:13px;max-width:900px}
"""


def _mark(ok) -> str:
    return '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>' if ok is False else \
        '<span class="na">n/a</span>'


def render(results: dict) -> str:
    m = results.get("machine", {})
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>newsdesk bench</title>"
             f"<style>{CSS}</style></head><body><h1>newsdesk bench</h1>"
             f"<p class='meta'>{esc(results.get('started_at', ''))} – {esc(results.get('finished_at', ''))} · "
             f"{fmt(results.get('duration_s', 0) / 60)} min · {esc(m.get('cpu', '?'))}, {m.get('cpus_usable')} CPUs, "
             f"{m.get('mem_total_gb')} GB · Python {esc(m.get('python'))} · torch {esc(m.get('versions', {}).get('torch'))}"
             f" · chromadb {esc(m.get('versions', {}).get('chromadb'))} · commit {esc(str(m.get('git_commit', ''))[:10])}"
             f"{' (+' + str(m.get('git_dirty_files')) + ' changed files)' if m.get('git_dirty_files') else ''} · "
             f"load average at start {esc(fmt((m.get('load_avg_start') or [None])[0], 2))}, end "
             f"{esc(fmt((m.get('load_avg_end') or [None])[0], 2))}</p>"]

    carried = results.get("carried_over")
    if carried:
        cm = carried.get("from_run_machine") or {}
        parts.append(f"<p class='meta'>Sections {esc(', '.join(carried.get('sections', [])))} were measured by an "
                     f"earlier run started {esc(carried.get('from_run_started_at', '?'))} (commit "
                     f"{esc(str(cm.get('git_commit', ''))[:10])}) and carried over with --carry-scaling.</p>")

    # the bar
    rows = [[esc(c["id"]), esc(c["what"]), esc(fmt(c["value"], 3)), esc(f"{c['op']} {c['threshold']}"),
             _mark(c["pass"]), esc(c["detail"])] for c in results.get("bar", [])]
    parts.append("<h2>The bar</h2>" + table(["check", "what", "value", "bar", "result", "detail"], rows, "bar"))
    for name, err in (results.get("errors") or {}).items():
        parts.append(f"<p class='fail'>{esc(name)} failed: {esc(err)}</p>")

    # throughput
    tp = results.get("throughput")
    if tp and tp.get("newsdesk"):
        parts.append(f"<h2>Ingest throughput</h2><p class='note'>{tp['chunks']:,} newsdesk chunks from {tp['files']:,} "
                     f"synthetic articles ({tp['bytes'] / 1e6:.1f} MB), split into {len(tp['shards'])} shards of whole "
                     "files. In one process, with the three models loaded first (timed apart and excluded from every "
                     "rate), each shard was ingested by newsdesk into a fresh index, encoded by the raw model "
                     "(same chunk texts), and ingested by naive LangChain, in an order rotated from shard to shard, so "
                     "the three see the same machine conditions. The bar's ratios are medians of the per-shard ratios. "
                     "The naive splitter makes fewer, longer chunks (1000/200 characters), so MB/s compares the same "
                     "work.</p>")
        names = [("newsdesk", "newsdesk ingest"), ("encode", "raw encode"), ("naive", "naive LangChain")]
        charts = [bar_chart("chunks per second (all shards)", [n for _, n in names],
                            [("overall", [tp[k]["chunks_per_s"] for k, _ in names], COLORS["newsdesk"])], "chunks/s"),
                  bar_chart("MB of article text per second", [n for _, n in names],
                            [("overall", [tp[k]["mb_per_s"] for k, _ in names], COLORS["naive"])], "MB/s"),
                  bar_chart("chunks per second, shard by shard", [f"shard {x['shard'] + 1}" for x in tp["shards"]],
                            [(n, tp[k]["shard_chunks_per_s"], COLORS[k]) for k, n in names], "chunks/s", width=760)]
        parts.append("<div class='charts'>" + "".join(charts) + "</div>")
        rrows = []
        for x in tp["shards"]:
            rrows.append([str(x["shard"] + 1), esc(" → ".join(x["order"])), f"{x['files']:,}", fmt(x["bytes"] / 1e6, 2)]
                         + [f"{x[k]['chunks']:,} in {fmt(x[k]['s'])} s" for k, _ in names]
                         + [fmt(x["ratio_vs_encode"], 3), fmt(x["ratio_vs_naive"], 3), fmt(x["ratio_vs_naive_per_mb"], 3)])
        rrows.append(["all", "", f"{tp['files']:,}", fmt(tp["bytes"] / 1e6, 2)]
                     + [f"{tp[k]['chunks']:,} in {fmt(tp[k]['seconds'])} s" for k, _ in names]
                     + [f"median {fmt(tp['ratio_vs_encode'], 3)}", f"median {fmt(tp['ratio_vs_naive'], 3)}",
                        f"median {fmt(tp['ratio_vs_naive_per_mb'], 3)}"])
        parts.append(table(["shard", "order", "files", "MB", "newsdesk", "raw encode", "naive", "newsdesk ÷ encode",
                            "newsdesk ÷ naive (chunks/s)", "newsdesk ÷ naive (MB/s)"], rrows))
        parts.append(f"<p class='note'>Model load (excluded): {esc(json.dumps(tp['model_load_s']))} s. Chunk texts "
                     f"encoded = texts newsdesk stored: {fmt(tp.get('texts_match'))}.</p>")

    # latency
    lat = results.get("latency") or {}
    present = [k for k in LABELS if lat.get(k, {}).get("latency_ms")]
    if present:
        llm = lat.get("llm") or {}
        parts.append(f"<h2>Warm query latency over {lat['questions']} gold questions</h2><p class='note'>Each system "
                     "was built once in its own process and warmed with one question; the systems then answered "
                     f"the gold questions in alternating blocks of {lat.get('block')}. Stage times are the systems' "
                     "own <code>timings_ms</code>."
                     + (f" LLM: {esc(llm.get('model'))} via {esc(llm.get('server'))}, {llm.get('n_threads')} "
                        f"threads; client {esc(llm.get('client'))}." if llm else "") + "</p>")
        charts = [bar_chart("median latency per stage (ms, log scale)", list(STAGES),
                            [(LABELS[k], [lat[k]["latency_ms"].get(s, {}).get("median") for s in STAGES], COLORS[k])
                             for k in present], "ms", width=760, log=True),
                  bar_chart("p95 latency per stage (ms, log scale)", list(STAGES),
                            [(LABELS[k], [lat[k]["latency_ms"].get(s, {}).get("p95") for s in STAGES], COLORS[k])
                             for k in present], "ms", width=760, log=True)]
        parts.append("<div class='charts'>" + "".join(charts) + "</div>")
        rows = []
        for s in STAGES:
            rows.append([s] + [f"{fmt(lat[k]['latency_ms'].get(s, {}).get('median'))} / "
                               f"{fmt(lat[k]['latency_ms'].get(s, {}).get('p95'))}" for k in present])
        for key in ("accuracy", "token_f1", "hit@5", "mrr@10", "citation_validity", "citation_precision",
                    "citation_recall", "abstention_recall", "false_abstention"):
            rows.append([f"eval: {key}"] + [fmt((lat[k].get("eval") or {}).get("all", {}).get(key), 3) for k in present])
        rows.append(["eval: fast subset meets evals/thresholds.toml"]
                    + [_mark((lat[k].get("eval") or {}).get("fast", {}).get("pass")) for k in present])
        rows.append(["abstained / LLM fallbacks"] + [f"{lat[k].get('abstained', '–')} / {lat[k].get('llm_fallbacks', '–')}"
                                                     for k in present])
        parts.append(table(["stage (median / p95 ms)"] + [LABELS[k] for k in present], rows))
    for k in LABELS:
        if lat.get(k, {}).get("error"):
            parts.append(f"<p class='note'>{esc(LABELS[k])}: {esc(lat[k]['error'])}</p>")

    # cold start and memory
    cold, chat = results.get("cold_start"), results.get("chat")
    rows = []
    if cold:
        rows.append(["newsdesk --help (fresh process)", f"{fmt(cold['help']['median_s'], 3)} s",
                     esc(", ".join(fmt(x, 3) for x in cold["help"]["runs_s"]))])
        rows.append([f"newsdesk ask “{esc(cold['question'][:60])}…” (fresh process)", f"{fmt(cold['ask']['median_s'], 2)} s",
                     esc(", ".join(fmt(x, 2) for x in cold["ask"]["runs_s"]))])
        rows.append(["newsdesk ask peak RSS", f"{fmt(max(cold['ask']['peak_rss_mb']))} MB", ""])
    if chat:
        rows.append([f"newsdesk chat peak RSS after {chat['questions']} questions", f"{fmt(chat['peak_rss_mb'])} MB",
                     f"{fmt(chat['wall_s'])} s wall"])
    ci = results.get("corpus_index")
    if ci:
        rows.append(["newsdesk ingest of corpus/ (fresh process, wall)", f"{fmt(ci['process_wall_s'])} s",
                     f"{ci['chunks']} chunks; model load {fmt(ci['model_load_s'])} s; peak RSS {fmt(ci['peak_rss_mb'])} MB"])
    if rows:
        parts.append("<h2>Cold start and memory</h2>" + table(["figure", "value", "runs / detail"], rows))

    # scaling
    sc = [e for e in results.get("scaling", []) if e.get("ingest")]
    if sc:
        xs = [e["chunks"] for e in sc]
        q = [(e.get("query") or {}).get("latency_ms", {}) for e in sc]
        parts.append("<h2>Scaling (synthetic corpora from evals/synth.py)</h2><p class='note'>Each size is generated, "
                     "ingested by newsdesk in a fresh process, then all sizes answer the same 10 gold questions plus "
                     "10 questions about their own synthetic articles, in alternating blocks.</p>")
        charts = [
            line_chart("warm query latency vs corpus size", xs,
                       [("total median", [x.get("total", {}).get("median") for x in q], COLORS["newsdesk"]),
                        ("total p95", [x.get("total", {}).get("p95") for x in q], COLORS["p95"]),
                        ("retrieve median", [x.get("retrieve", {}).get("median") for x in q], COLORS["newsdesk_none"])],
                       "ms"),
            line_chart("ingest time vs corpus size (log)", xs,
                       [("ingest s", [e["ingest"]["ingest_s"] for e in sc], COLORS["newsdesk"])], "seconds", ylog=True),
            line_chart("ingest peak memory vs corpus size", xs,
                       [("ingest peak RSS", [e["ingest_peak_rss_mb"] for e in sc], COLORS["newsdesk"]),
                        ("query process peak RSS", [(e.get("query") or {}).get("worker", {}).get("peak_rss_mb")
                                                    for e in sc], COLORS["naive"])], "MB"),
            line_chart("index size on disk vs corpus size (log)", xs,
                       [("index MB", [e["index_mb"] for e in sc], COLORS["newsdesk"])], "MB", ylog=True),
        ]
        parts.append("<div class='charts'>" + "".join(charts) + "</div>")
        rows = []
        for e, qq in zip(sc, q):
            ing = e["ingest"]
            rows.append([f"{e['target_chunks']:,}", f"{e['chunks']:,}", f"{e['articles']:,}", fmt(e["bytes"] / 1e6),
                         fmt(ing["ingest_s"]), fmt(ing["chunks_per_s"]), fmt(ing["phases_s"]["of_which_embed"]),
                         fmt(ing["phases_s"]["keyword_index_and_manifest"]), fmt(e["index_mb"]),
                         fmt(e["ingest_peak_rss_mb"]), fmt(qq.get("total", {}).get("median")),
                         fmt(qq.get("total", {}).get("p95")), fmt(qq.get("retrieve", {}).get("median")),
                         fmt(qq.get("answer", {}).get("median")),
                         fmt((e.get("query") or {}).get("worker", {}).get("init_s"))])
        parts.append(table(["target", "chunks", "articles", "MB text", "ingest s", "chunks/s", "embed s",
                            "keyword index s", "index MB", "ingest peak RSS MB", "query median ms", "query p95 ms",
                            "retrieve median ms", "answer median ms", "pipeline start s"], rows))
    for e in results.get("scaling", []):
        if e.get("skipped"):
            parts.append(f"<p class='note'>{e['target_chunks']:,} chunks skipped: {esc(e['skipped'])}</p>")

    parts.append("<h2>Run</h2><p class='note'>Arguments: " + esc(json.dumps(results.get("args", {}))) +
                 "<br>Step durations (s): " + esc(json.dumps(results.get("steps_s", {}))) +
                 "<br>Versions: " + esc(json.dumps(m.get("versions", {}))) + "</p></body></html>")
    return "".join(parts)


def write_report(results: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(results), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m evals.bench_report", description=__doc__.splitlines()[0])
    p.add_argument("results", nargs="?", type=Path, default=Path("evals/bench/results.json"))
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    out = write_report(json.loads(a.results.read_text(encoding="utf-8")), a.out or a.results.with_name("report.html"))
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
