"""DIR/report.html: one self-contained page about an eval run (and its baseline, side by side).

No network at all: inline CSS, charts drawn here as inline SVG, a few lines of inline JS for the
expand/filter buttons (the page works without them). Every piece of text from the data goes
through :func:`html.escape`, since articles, answers and questions may contain markup.
Stdlib only; older metrics.json files with fewer keys render their missing values as "–".
"""
from __future__ import annotations

import bisect
import html
import json
import math
import statistics
from datetime import datetime
from pathlib import Path

from evals.compare import (
    DASH, GROUPS, KS, direction, extra_keys, fmt_delta, fmt_value, is_num, kind, latency_of, load_metrics,
    per_question, stages_of, type_metric, types_of,
)

PASSAGE_CHARS = 400
COLOURS = ("#2563eb", "#f59e0b")  # main run, baseline
LABELS = {
    "accuracy": "Accuracy", "token_f1": "Token F1", "answer_words_median": "Answer words (median)",
    "abstention_precision": "Abstention precision", "abstention_recall": "Abstention recall",
    "false_abstention": "False abstention", "citation_validity": "Citation validity",
    "citation_precision": "Citation precision", "citation_recall": "Citation recall",
    "citations": "Citations (count)", "evidence_recall": "Evidence recall",
    **{f"hit@{k}": f"Hit@{k}" for k in KS}, **{f"mrr@{k}": f"MRR@{k}" for k in KS},
}
TYPE_COLUMNS = ("accuracy", "token_f1", "abstention_recall", "false_abstention", "citation_precision",
                "citation_recall", "hit@5", "mrr@10", "evidence_recall")
SHORT = {"accuracy": "Acc.", "token_f1": "F1", "abstention_recall": "Abst. recall",
         "false_abstention": "False abst.", "citation_precision": "Cit. prec.", "citation_recall": "Cit. recall",
         "hit@5": "Hit@5", "mrr@10": "MRR@10", "evidence_recall": "Evid. recall"}
CARDS = (("accuracy", "Accuracy"), ("abstention_recall", "Abstention recall"),
         ("citation_validity", "Citation validity"), ("hit@5", "Hit@5"))
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"


def e(value) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


# ---------------------------------------------------------------- loading

def _read_jsonl(path: Path) -> list[dict]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return rows
    for line in lines:
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict):
                rows.append(row)
    return rows


class Run:
    """One eval output folder: metrics.json, answers.jsonl, and one row per question."""

    def __init__(self, folder: Path):
        self.dir = Path(folder)
        self.metrics = load_metrics(self.dir)
        answers = _read_jsonl(self.dir / "answers.jsonl")
        self.answers = {str(a.get("id", f"#{n}")): a for n, a in enumerate(answers, 1)}
        self.name = str(self.metrics.get("system") or self.dir.name)
        rows = per_question(self.metrics)
        if not rows:  # older files: rebuild from answers.jsonl and the failure list
            failures = self.metrics.get("failures")
            failed = {f.get("id") for f in failures if isinstance(f, dict)} if isinstance(failures, list) else None
            rows = [{"id": qid, "question": a.get("question"),
                     "correct": None if failed is None else qid not in failed,
                     "abstained": a.get("abstained")} for qid, a in self.answers.items()]
        self.questions = [dict(r, id=str(r.get("id"))) for r in rows]
        self.by_id = {q["id"]: q for q in self.questions}

    def get(self, key):
        return self.metrics.get(key)

    def total_ms(self) -> list[float]:
        values = []
        for q in self.questions:
            v = q.get("total_ms")
            if not is_num(v):
                v = (self.answers.get(q["id"], {}).get("timings_ms") or {}).get("total")
            if is_num(v):
                values.append(float(v))
        return values


def load_gold(path) -> dict[str, dict]:
    if not path:
        return {}
    return {str(g.get("id")): g for g in _read_jsonl(Path(path)) if "id" in g}


# ---------------------------------------------------------------- SVG charts

def _nice_step(raw: float) -> float:
    if raw <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _svg_open(w: int, h: int, label: str) -> str:
    return (f'<svg viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{e(label)}" '
            f'class="chart" style="max-width:100%;height:auto" font-family="{e(FONT)}">')


def _legend(names: list[str], x: float, y: float) -> str:
    out = []
    for name, colour in zip(names, COLOURS):
        out.append(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="12" height="12" rx="2" fill="{colour}"/>'
                   f'<text x="{x + 17:.1f}" y="{y + 1:.1f}" font-size="12" fill="#334155">{e(name)}</text>')
        x += 30 + 7.2 * len(name)
    return "".join(out)


def _y_axis(ml, mt, pw, ph, ymax, ticks, fmt) -> str:
    out = []
    for i in range(ticks + 1):
        v = ymax * i / ticks
        y = mt + ph - ph * i / ticks
        stroke = "#94a3b8" if i == 0 else "#e2e8f0"
        out.append(f'<line x1="{ml}" x2="{ml + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="{stroke}"/>'
                   f'<text x="{ml - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end" '
                   f'fill="#64748b">{e(fmt(v))}</text>')
    return "".join(out)


def bar_chart(categories: list[tuple[str, str]], series: list[tuple[str, list]], *, ymax: float = 1.0,
              ticks: int = 4, fmt=lambda v: f"{v * 100:.0f}%", width: int = 1100, height: int = 300,
              label: str = "bar chart", zero_labels: bool = True) -> str:
    """Grouped bars: ``categories`` are (label, sublabel); ``series`` are (name, values) with None for n/a."""
    ml, mr, mt, mb = 52, 16, 34, 48
    pw, ph = width - ml - mr, height - mt - mb
    n = max(1, len(categories))
    gw = pw / n
    bw = min(46.0, gw * 0.72 / max(1, len(series)))
    out = [_svg_open(width, height, label), _y_axis(ml, mt, pw, ph, ymax, ticks, fmt),
           _legend([s[0] for s in series], ml, 16)]
    for i, (cat, sub) in enumerate(categories):
        cx = ml + gw * (i + 0.5)
        x0 = cx - bw * len(series) / 2
        for j, (name, values) in enumerate(series):
            v = values[i] if i < len(values) else None
            x = x0 + j * bw
            if not is_num(v):
                out.append(f'<text x="{x + bw / 2:.1f}" y="{mt + ph - 6}" font-size="12" text-anchor="middle" '
                           f'fill="#94a3b8">{DASH}</text>')
                continue
            hgt = max(0.0, min(1.0, v / ymax)) * ph if ymax else 0
            y = mt + ph - hgt
            out.append(f'<rect x="{x + 1.5:.1f}" y="{y:.1f}" width="{bw - 3:.1f}" height="{hgt:.1f}" rx="3" '
                       f'fill="{COLOURS[j % 2]}"><title>{e(name)} · {e(cat)}: {e(fmt(v))}</title></rect>')
            if bw >= 22 and (v or zero_labels):
                out.append(f'<text x="{x + bw / 2:.1f}" y="{y - 5:.1f}" font-size="11" text-anchor="middle" '
                           f'fill="#334155">{e(fmt(v))}</text>')
        out.append(f'<text x="{cx:.1f}" y="{mt + ph + 18}" font-size="12" text-anchor="middle" '
                   f'fill="#1e293b" font-weight="600">{e(cat)}</text>')
        if sub:
            out.append(f'<text x="{cx:.1f}" y="{mt + ph + 34}" font-size="11" text-anchor="middle" '
                       f'fill="#64748b">{e(sub)}</text>')
    out.append("</svg>")
    return "".join(out)


def line_chart(xs: list[str], series: list[tuple[str, list]], *, width: int = 540, height: int = 280,
               label: str = "line chart", xlabel: str = "") -> str:
    """Values 0..1 at evenly spaced categorical x positions, one line per series."""
    ml, mr, mt, mb = 52, 24, 34, 44
    pw, ph = width - ml - mr, height - mt - mb
    out = [_svg_open(width, height, label), _y_axis(ml, mt, pw, ph, 1.0, 4, lambda v: f"{v * 100:.0f}%"),
           _legend([s[0] for s in series], ml, 16)]
    step = pw / max(1, len(xs))
    px = [ml + step * (i + 0.5) for i in range(len(xs))]
    for x, name in zip(px, xs):
        out.append(f'<text x="{x:.1f}" y="{mt + ph + 18}" font-size="12" text-anchor="middle" '
                   f'fill="#1e293b" font-weight="600">{e(name)}</text>')
    if xlabel:
        out.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
                   f'fill="#64748b">{e(xlabel)}</text>')
    for j, (name, values) in enumerate(series):
        colour = COLOURS[j % 2]
        pts = [(px[i], mt + ph - max(0.0, min(1.0, v)) * ph, v) for i, v in enumerate(values) if is_num(v)]
        if len(pts) > 1:
            path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in pts)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"/>')
        for x, y, v in pts:
            dy = -9 if j == 0 else 17
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="#fff" stroke="{colour}" stroke-width="2.5">'
                       f'<title>{e(name)}: {v * 100:.1f}%</title></circle>'
                       f'<text x="{x:.1f}" y="{y + dy:.1f}" font-size="11" text-anchor="middle" '
                       f'fill="{colour}" font-weight="600">{v * 100:.0f}%</text>')
        if not pts:
            out.append(f'<text x="{ml + pw / 2:.1f}" y="{mt + ph / 2 + 14 * j:.1f}" font-size="12" '
                       f'text-anchor="middle" fill="#94a3b8">{e(name)}: no retrieval data</text>')
    out.append("</svg>")
    return "".join(out)


def _fmt_ms_short(v: float) -> str:
    if v >= 1000:
        s = f"{v / 1000:.2f}".rstrip("0").rstrip(".")
        return f"{s}s"
    return f"{v:.0f}"


R10 = (1, 1.25, 1.6, 2, 2.5, 3.2, 4, 5, 6.3, 8)  # log-spaced "preferred numbers"


def _bin_edges(values: list[float]) -> tuple[list[float], bool]:
    """Bin edges for the latency histogram: log-spaced when the values span 10x or more."""
    pos = [v for v in values if v > 0]
    hi = max(values)
    if pos and hi / min(pos) >= 10:
        d = 10.0 ** math.floor(math.log10(min(pos)))
        seq = []
        while not seq or seq[-1] <= hi:
            seq += [round(m * d, 6) for m in R10]
            d *= 10
        first = max(i for i, x in enumerate(seq) if x <= min(pos))
        last = min(i for i, x in enumerate(seq) if x > hi)
        return seq[first:last + 1], True
    step = _nice_step(hi / 14) if hi > 0 else 1.0
    lo = step * math.floor(min(values) / step) if min(values) > 4 * step else 0.0
    edges = [lo]
    while edges[-1] <= hi:
        edges.append(edges[-1] + step)
    return edges, False


def histogram(series: list[tuple[str, list[float]]], *, width: int = 1100, height: int = 280,
              label: str = "latency histogram") -> str:
    """Per-question total latency: shared bins, the runs' bars side by side, dashed medians."""
    values = [v for _, vs in series for v in vs]
    if not values:
        return '<p class="muted">No per-question latency in this run.</p>'
    edges, log = _bin_edges(values)
    bins = len(edges) - 1

    def where(v: float) -> float:
        """Position of ``v`` in bins (bin index plus fraction)."""
        i = max(0, min(bins - 1, bisect.bisect_right(edges, v) - 1))
        a, b = edges[i], edges[i + 1]
        if log:
            frac = math.log(max(v, a * 0.999) / a) / math.log(b / a)
        else:
            frac = (v - a) / (b - a)
        return i + max(0.0, min(1.0, frac))

    counts = [[0] * bins for _ in series]
    for j, (_, vs) in enumerate(series):
        for v in vs:
            counts[j][min(bins - 1, int(where(v)))] += 1
    top = max(max(c) for c in counts) or 1
    ystep = max(1.0, _nice_step(top / 4))
    ymax = ystep * math.ceil(top / ystep)
    ticks = int(round(ymax / ystep))
    ml, mr, mt, mb = 52, 16, 34, 46
    pw, ph = width - ml - mr, height - mt - mb
    out = [_svg_open(width, height, label), _y_axis(ml, mt, pw, ph, ymax, ticks, lambda v: f"{v:.0f}"),
           _legend([s[0] for s in series], ml, 16)]
    gw = pw / bins
    bw = gw * 0.86 / len(series)
    for b in range(bins):
        x0 = ml + gw * b + gw * 0.07
        for j in range(len(series)):
            c = counts[j][b]
            if not c:
                continue
            hgt = c / ymax * ph
            out.append(f'<rect x="{x0 + j * bw:.1f}" y="{mt + ph - hgt:.1f}" width="{max(1.0, bw - 1):.1f}" '
                       f'height="{hgt:.1f}" rx="2" fill="{COLOURS[j % 2]}"><title>{e(series[j][0])}: {c} '
                       f'question{"s" if c != 1 else ""} at '
                       f'{_fmt_ms_short(edges[b])}–{_fmt_ms_short(edges[b + 1])} ms'
                       f'</title></rect>')
    every = max(1, math.ceil(bins / 16))
    for b in range(0, bins + 1, every):
        x = ml + gw * b
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt + ph}" y2="{mt + ph + 4}" stroke="#94a3b8"/>'
                   f'<text x="{x:.1f}" y="{mt + ph + 17}" font-size="11" text-anchor="middle" '
                   f'fill="#64748b">{_fmt_ms_short(edges[b])}</text>')
    scale = "log scale, " if log else ""
    out.append(f'<text x="{ml + pw / 2:.1f}" y="{height - 6}" font-size="11" text-anchor="middle" '
               f'fill="#64748b">total latency per question ({scale}ms; “s” = seconds) · '
               f'dashed line: median</text>')
    for j, (name, vs) in enumerate(series):
        if vs:
            med = statistics.median(vs)
            x = ml + where(med) * gw
            colour = COLOURS[j % 2]
            right = x > ml + pw - 110
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{mt}" y2="{mt + ph}" stroke="{colour}" '
                       f'stroke-width="2" stroke-dasharray="5 4"><title>{e(name)} median {med:,.0f} ms</title></line>'
                       f'<text x="{x - 5 if right else x + 5:.1f}" y="{mt + 11 + 15 * j}" font-size="11" '
                       f'text-anchor="{"end" if right else "start"}" fill="{colour}" font-weight="700" '
                       f'stroke="#fff" stroke-width="3" paint-order="stroke">{e(name)} median '
                       f'{_fmt_ms_short(med)}{"" if med >= 1000 else " ms"}</text>')
    out.append("</svg>")
    return "".join(out)


def stage_bars(runs: list[Run], *, width: int = 540) -> str:
    """Horizontal stacked bar of median time per stage (excluding total), one per run."""
    stages = [s for s in stages_of(*(r.metrics for r in runs)) if s != "total"]
    rows = [(r.name, latency_of(r.metrics)) for r in runs]
    totals = [sum(lat.get(s, {}).get("median") or 0 for s in stages) for _, lat in rows]
    if not stages or not any(totals):
        return ""
    palette = ("#6366f1", "#0ea5e9", "#10b981", "#f97316", "#a855f7", "#e11d48")
    ml, mr, row_h = 84, 60, 34
    height = 30 + row_h * len(rows) + 10
    pw = width - ml - mr
    scale = pw / max(totals)
    out = [_svg_open(width, height, "median time per stage")]
    x = ml
    for i, s in enumerate(stages):
        out.append(f'<rect x="{x}" y="6" width="12" height="12" rx="2" fill="{palette[i % len(palette)]}"/>'
                   f'<text x="{x + 17}" y="16" font-size="12" fill="#334155">{e(s)}</text>')
        x += 34 + 7.2 * len(s)
    for r, ((name, lat), total) in enumerate(zip(rows, totals)):
        y = 30 + r * row_h
        out.append(f'<text x="{ml - 8}" y="{y + 17}" font-size="12" text-anchor="end" fill="#1e293b" '
                   f'font-weight="600">{e(name)}</text>')
        x = float(ml)
        for i, s in enumerate(stages):
            v = lat.get(s, {}).get("median")
            if not is_num(v) or v <= 0:
                continue
            w = v * scale
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="24" fill="{palette[i % len(palette)]}">'
                       f'<title>{e(name)} · {e(s)}: median {v:,.0f} ms</title></rect>')
            if w > 44:
                out.append(f'<text x="{x + w / 2:.1f}" y="{y + 16}" font-size="11" text-anchor="middle" '
                           f'fill="#fff">{_fmt_ms_short(v)}</text>')
            x += w
        out.append(f'<text x="{x + 6:.1f}" y="{y + 16}" font-size="11" fill="#64748b">{_fmt_ms_short(total)}'
                   f'{"" if total >= 1000 else " ms"}</text>')
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------- HTML pieces

def _delta_cell(name: str, a, b) -> str:
    if not (is_num(a) and is_num(b)):
        return f'<td class="num muted">{DASH}</td>'
    d = a - b
    sign = direction(name)
    cls = "same" if abs(d) < 1e-9 or sign == 0 else ("good" if d * sign > 0 else "bad")
    arrow = "" if abs(d) < 1e-9 else ("▲ " if d > 0 else "▼ ")
    return f'<td class="num delta {cls}">{arrow}{e(fmt_delta(round(d, 9), kind(name)))}</td>'


def _value_cell(name: str, v, colour: str | None = None) -> str:
    k = kind(name)
    bar = ""
    if k == "ratio" and is_num(v):
        bar = (f'<span class="minibar"><i style="width:{max(0.0, min(1.0, v)) * 100:.1f}%;'
               f'background:{colour or COLOURS[0]}"></i></span>')
    return f'<td class="num">{bar}{e(fmt_value(v, k))}</td>'


def _metric_label(key: str, label: str | None = None, hint: bool = True) -> str:
    down = ""
    if hint and direction(key) < 0:
        down = ' <span class="hint" title="lower is better">↓ lower is better</span>'
    return f'<th scope="row" title="{e(key)}">{e(label or LABELS.get(key, key))}{down}</th>'


def summary_table(main: Run, base: Run | None) -> str:
    """Every summary metric as a row, grouped; with a baseline: both runs and the delta. A single
    run's table is split in two columns (answers/abstention/citations | retrieval/latency)."""
    head = f'<th>metric</th><th class="num">{e(main.name)}</th>'
    if base:
        head += f'<th class="num">{e(base.name)}</th><th class="num">Δ {e(main.name)} − {e(base.name)}</th>'
    cols = 4 if base else 2
    blocks: list[list[str]] = []
    groups = list(GROUPS)
    extra = extra_keys(main.metrics, *([base.metrics] if base else []))
    if extra:
        groups.insert(3, ("Other", tuple(extra)))
    for group, keys in groups:
        rows = [f'<tr class="group"><th colspan="{cols}">{e(group)}</th></tr>']
        for key in keys:
            a = main.get(key)
            cells = _metric_label(key) + _value_cell(key, a)
            if base:
                b = base.get(key)
                cells += _value_cell(key, b, COLOURS[1]) + _delta_cell(key, a, b)
            rows.append(f"<tr>{cells}</tr>")
        blocks.append(rows)
    rows = [f'<tr class="group"><th colspan="{cols}">Latency <span class="hint">↓ lower is better</span></th></tr>']
    la, lb = latency_of(main.metrics), latency_of(base.metrics) if base else {}
    stages = stages_of(main.metrics, *([base.metrics] if base else []))
    if not stages:
        dashes = f'<td class="num">{DASH}</td>' * (cols - 1)
        rows.append(f'<tr><th scope="row">latency</th>{dashes}</tr>')
    for stage in stages:
        for q in ("median", "p95"):
            name = f"latency_ms.{stage}.{q}"
            a = la.get(stage, {}).get(q)
            cells = _metric_label(name, f"Latency {stage} ({q})", hint=False) + _value_cell(name, a)
            if base:
                b = lb.get(stage, {}).get(q)
                cells += _value_cell(name, b) + _delta_cell(name, a, b)
            rows.append(f"<tr>{cells}</tr>")
    blocks.append(rows)

    def table(parts: list[list[str]]) -> str:
        body = "".join(r for rows in parts for r in rows)
        return f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    if base:
        return table(blocks)
    split = next(i for i, (group, _) in enumerate(groups) if group == "Retrieval")
    return f'<div class="two">{table(blocks[:split])}{table(blocks[split:])}</div>'


def cards(main: Run, base: Run | None) -> str:
    out = []
    items = list(CARDS) + [("latency_ms.total.median", "Median latency")]
    for key, label in items:
        if key.startswith("latency"):
            a = latency_of(main.metrics).get("total", {}).get("median")
            b = latency_of(base.metrics).get("total", {}).get("median") if base else None
        else:
            a, b = main.get(key), base.get(key) if base else None
        k = kind(key)
        sub = ""
        if base:
            d = a - b if is_num(a) and is_num(b) else None
            cls = "same" if not d or not direction(key) else ("good" if d * direction(key) > 0 else "bad")
            sub = (f'<div class="sub">{e(base.name)} {e(fmt_value(b, k))} '
                   f'<span class="{cls}">{e(fmt_delta(round(d, 9) if d is not None else None, k))}</span></div>')
        out.append(f'<div class="card"><div class="label">{e(label)}</div>'
                   f'<div class="big">{e(fmt_value(a, k))}</div>{sub}</div>')
    return f'<div class="cards">{"".join(out)}</div>'


def _type_key(t: str) -> str:
    return "abstention_recall" if t == "unanswerable" else "accuracy"


def _type_n(runs: list[Run], t: str):
    for r in runs:
        n = type_metric(r.metrics, t, "n")
        if is_num(n):
            return int(n)
    n = sum(1 for q in runs[0].questions if q.get("type") == t)
    return n or None


def per_type(runs: list[Run]) -> str:
    types = types_of(*(r.metrics for r in runs))
    if not types:
        return '<p class="muted">No per-type metrics in this run.</p>'
    cats = []
    for t in types:
        n = _type_n(runs, t)
        cats.append((t, f"{'n=' + str(n) + ' · ' if n else ''}{_type_key(t).replace('_', ' ')}"))
    series = [(r.name, [type_metric(r.metrics, t, _type_key(t)) for t in types]) for r in runs]
    chart = bar_chart(cats, series, label="accuracy per question type")
    head = "<th>type</th><th class=num>n</th>" + (f"<th>system</th>" if len(runs) > 1 else "")
    head += "".join(f'<th class="num" title="{e(LABELS.get(k, k))}">{e(SHORT.get(k, k))}</th>' for k in TYPE_COLUMNS)
    rows = []
    for t in types:
        for i, r in enumerate(runs):
            first = ""
            if i == 0:
                span = f' rowspan="{len(runs)}"' if len(runs) > 1 else ""
                first = (f'<th scope="row"{span}><span class="type t-{e(t)}">{e(t)}</span></th>'
                         f'<td class="num"{span}>{e(_type_n(runs, t) or DASH)}</td>')
            sys_cell = (f'<td class="sys"><span class="dot" style="background:{COLOURS[i % 2]}"></span>{e(r.name)}</td>'
                        if len(runs) > 1 else "")
            cells = "".join(f'<td class="num">{e(fmt_value(type_metric(r.metrics, t, k), kind(k)))}</td>'
                            for k in TYPE_COLUMNS)
            rows.append(f'<tr class="{"alt" if i else ""}">{first}{sys_cell}{cells}</tr>')
    table = (f'<div class="scroll"><table class="types"><thead><tr>{head}</tr></thead>'
             f'<tbody>{"".join(rows)}</tbody></table></div>')
    return chart + table


def retrieval(runs: list[Run]) -> str:
    xs = [f"k={k}" for k in KS]
    hit = line_chart(xs, [(r.name, [r.get(f"hit@{k}") for k in KS]) for r in runs],
                     label="hit at k", xlabel="hit@k: share of questions with gold evidence in the top k passages")
    mrr = line_chart(xs, [(r.name, [r.get(f"mrr@{k}") for k in KS]) for r in runs],
                     label="MRR at k", xlabel="MRR@k: mean reciprocal rank of the first evidence passage")
    # rank of the first passage holding gold evidence, over answerable questions with evidence
    ranks = []
    for r in runs:
        counts: dict[str, int] = {}
        for q in r.questions:
            if q.get("type") == "unanswerable" or q.get("has_evidence") is False or "hit_rank" not in q:
                continue
            rank = q.get("hit_rank")
            key = str(rank) if is_num(rank) and rank <= 10 else ("> 10" if is_num(rank) else "none")
            counts[key] = counts.get(key, 0) + 1
        ranks.append(counts)
    cats = [str(i) for i in range(1, 11)] + [c for c in ("> 10", "none") if any(c in x for x in ranks)]
    dist = ""
    if any(ranks):
        top = max(v for x in ranks for v in x.values())
        step = _nice_step(top / 4)
        ymax = step * math.ceil(top / step)
        dist = ('<h3>Rank of the first passage with gold evidence</h3>' +
                bar_chart([(c, "") for c in cats], [(r.name, [x.get(c, 0) for c in cats]) for r, x in zip(runs, ranks)],
                          ymax=ymax, ticks=int(round(ymax / step)), fmt=lambda v: f"{v:.0f}", height=240,
                          label="rank of first evidence passage", zero_labels=False))
    return f'<div class="two"><div><h3>Hit@k</h3>{hit}</div><div><h3>MRR@k</h3>{mrr}</div></div>{dist}'


def threshold_curve(runs: list[Run]) -> str:
    """The reader's threshold curve (metrics.json ``threshold_curve``): one chart per run."""
    out = []
    for r in runs:
        curve = r.metrics.get("threshold_curve") or []
        if not curve:
            continue
        xs = [f"{c['threshold']:.2f}" for c in curve][::2]
        keep = curve[::2]
        for key, name in (("accuracy", "accuracy"), ("abstention", "abstention"),
                          ("false_abstention", "false abstention")):
            out.append(f"<div><h3>{e(r.name)}: {name}</h3>" + line_chart(
                xs, [(name, [c[key] for c in keep])], width=540, height=240, label=f"{name} by threshold",
                xlabel="the judge's P(yes) needed to answer (NEWSDESK_MIN_EVIDENCE)") + "</div>")
    if not out:
        return "<p>No threshold curve: this run's answers carry no confidence.</p>"
    return ('<p>Each point re-scores this run as if the reader answered only when its best evidence '
            'scored at least the threshold (exact at and above the threshold the run used).</p>'
            f'<div class="two">{"".join(out)}</div>')


def latency(runs: list[Run]) -> str:
    hist = histogram([(r.name, r.total_ms()) for r in runs])
    stages = stages_of(*(r.metrics for r in runs))
    head = '<th rowspan="2">stage</th>' + "".join(
        f'<th class="num sysh" colspan="2"><span class="dot" style="background:{COLOURS[i % 2]}"></span>'
        f'{e(r.name)}</th>' for i, r in enumerate(runs))
    head += "</tr><tr>" + '<th class="num">median</th><th class="num">p95</th>' * len(runs)
    rows = []
    for s in stages:
        cells = ""
        for r in runs:
            v = latency_of(r.metrics).get(s, {})
            cells += f'<td class="num">{e(fmt_value(v.get("median"), "ms"))}</td>'
            cells += f'<td class="num">{e(fmt_value(v.get("p95"), "ms"))}</td>'
        rows.append(f'<tr class="{"total" if s == "total" else ""}"><th scope="row">{e(s)}</th>{cells}</tr>')
    if not rows:
        rows.append(f'<tr><td colspan="{1 + 2 * len(runs)}" class="muted">No latency in metrics.json.</td></tr>')
    table = f'<table class="stages"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    bars = stage_bars(runs)
    return (f'{hist}<div class="two"><div><h3>Per stage (median / p95)</h3>{table}</div>'
            f'<div><h3>Where the median time goes</h3>{bars or "<p class=muted>No stage timings.</p>"}</div></div>')


# ---------------------------------------------------------------- questions

def _norm(text: str) -> str:
    return " ".join(str(text).split())


def _mark(correct) -> str:
    if correct is True:
        return '<span class="mark ok" title="correct">✓</span>'
    if correct is False:
        return '<span class="mark ko" title="wrong">✗</span>'
    return '<span class="mark unk" title="not scored">?</span>'


def _trim(text: str, n: int = PASSAGE_CHARS) -> str:
    text = _norm(text)
    return text if len(text) <= n else text[:n].rstrip() + "…"


def _offsets(item: dict) -> str:
    s, t = item.get("start"), item.get("end")
    return f"[{s}–{t}]" if s is not None or t is not None else ""


def _field(label: str, inner_html: str, cls: str = "v") -> str:
    return f'<div class="field"><span class="k">{e(label)}</span><div class="{cls}">{inner_html}</div></div>'


def _side(run: Run, qid: str, gold: dict, colour: str) -> str:
    q = run.by_id.get(qid, {})
    a = run.answers.get(qid)
    head = (f'<h4><span class="dot" style="background:{colour}"></span>{e(run.name)} '
            f'{_mark(q.get("correct")) if q else ""}</h4>')
    if a is None and not q:
        return f'<div class="side">{head}<p class="muted">Not in this run.</p></div>'
    a = a or {}
    chips = []
    for label, v in (("F1", q.get("f1")), ("hit rank", q.get("hit_rank")),
                     ("citations valid", f"{q.get('citations_valid')}/{q.get('citations')}"
                      if q.get("citations") is not None else None),
                     ("total", fmt_value(q.get("total_ms"), "ms") if is_num(q.get("total_ms")) else None),
                     ("backend", a.get("backend"))):
        if v is not None:
            chips.append(f'<span class="chip">{e(label)}: <b>{e(v)}</b></span>')
    if q.get("abstained") or a.get("abstained"):
        chips.insert(0, '<span class="chip warn">abstained</span>')
    parts = [head, f'<div class="chips">{"".join(chips)}</div>']
    standalone = a.get("standalone_question") or q.get("standalone")
    if standalone:
        parts.append(f'<div class="field"><span class="k">standalone question</span>'
                     f'<div class="v">{e(standalone)}</div></div>')
    answer = a.get("answer", q.get("got"))
    parts.append(_field("answer", e(answer) or DASH, "v answer"))
    short = a.get("short_answer", q.get("short_answer"))
    parts.append(_field("short answer", e(short) if short else DASH))
    notes = a.get("notes") or []
    if notes:
        parts.append('<div class="field"><span class="k">notes</span><ul class="notes">'
                     + "".join(f"<li>{e(n)}</li>" for n in notes) + "</ul></div>")
    cits = [c for c in a.get("citations") or [] if isinstance(c, dict)]
    items = "".join(
        f'<li><div class="phead"><b>[{e(c.get("id", i))}]</b> <span class="src">{e(c.get("source"))}</span> '
        f'<span class="off">{e(_offsets(c))}</span> <span class="ttl">{e(c.get("title"))}</span></div>'
        f'<blockquote>{e(c.get("quote"))}</blockquote></li>' for i, c in enumerate(cits, 1))
    parts.append(f'<div class="field"><span class="k">citations ({len(cits)})</span>'
                 + (f'<ol class="cits">{items}</ol>' if cits else f'<div class="v muted">none</div>') + "</div>")
    evidence = [_norm(x) for x in (gold.get("evidence") or []) if x]
    passages = [p for p in a.get("passages") or [] if isinstance(p, dict)]
    pitems = []
    for rank, p in enumerate(passages, 1):
        text = str(p.get("text") or "")
        is_ev = (evidence and any(ev in _norm(text) for ev in evidence)) or q.get("hit_rank") == rank
        score = p.get("score")
        score_s = f"score {score:.3f}" if is_num(score) else ""
        pitems.append(f'<li class="{"ev" if is_ev else ""}"><div class="phead"><b>#{rank}</b> '
                      f'<span class="src">{e(p.get("source"))}</span> <span class="off">{e(_offsets(p))}</span> '
                      f'<span class="score">{e(score_s)}</span>'
                      f'{" <span class=evb>gold evidence</span>" if is_ev else ""}'
                      f'</div><div class="ptext">{e(_trim(text))}</div></li>')
    parts.append(f'<div class="field"><span class="k">retrieved passages ({len(passages)})</span>'
                 + (f'<ol class="passages">{"".join(pitems)}</ol>' if pitems else '<div class="v muted">none</div>')
                 + "</div>")
    return f'<div class="side">{"".join(parts)}</div>'


def _expected_html(q: dict, gold: dict) -> str:
    exp = q.get("expected")
    if exp is None:
        exp = "abstain" if gold.get("type") == "unanswerable" else gold.get("answers")
    if exp == "abstain":
        return '<span class="chip warn">abstain (unanswerable)</span>'
    if isinstance(exp, list):
        return "".join(f'<span class="chip alias">{e(x)}</span>' for x in exp) or DASH
    return f'<span class="chip alias">{e(exp)}</span>' if exp else DASH


def question_rows(main: Run, base: Run | None, gold: dict[str, dict]) -> str:
    qs = main.questions
    order = ([q for q in qs if q.get("correct") is False] + [q for q in qs if q.get("correct") is True]
             + [q for q in qs if not isinstance(q.get("correct"), bool)])
    out = []
    for q in order:
        qid = q["id"]
        g = gold.get(qid, {})
        a = main.answers.get(qid, {})
        t = q.get("type") or g.get("type") or ""
        text = q.get("question") or a.get("question") or g.get("question") or ""
        status = {True: "pass", False: "fail"}.get(q.get("correct"), "unk")
        other = ""
        if base:
            bq = base.by_id.get(qid)
            other = (f'<span class="other" title="{e(base.name)}">{e(base.name)} {_mark(bq.get("correct"))}</span>'
                     if bq else "")
        gold_bits = [_field("expected", _expected_html(q, g))]
        if g.get("evidence"):
            gold_bits.append('<div class="field"><span class="k">gold evidence</span><ul class="notes">'
                             + "".join(f"<li>{e(x)}</li>" for x in g["evidence"])
                             + (f'</ul><div class="v small">in {e(", ".join(map(str, g.get("sources") or [])))}</div>'
                                if g.get("sources") else "</ul>") + "</div>")
        if g.get("history"):
            hist = "".join(f"<li>{e(h if isinstance(h, str) else json.dumps(h, ensure_ascii=False))}</li>"
                           for h in g["history"])
            gold_bits.append(f'<div class="field"><span class="k">conversation history</span>'
                             f'<ul class="notes">{hist}</ul></div>')
        type_badge = f'<span class="type t-{e(t)}">{e(t)}</span>' if t else ""
        sides = _side(main, qid, g, COLOURS[0]) + (_side(base, qid, g, COLOURS[1]) if base else "")
        out.append(
            f'<details class="q {status}" id="q-{e(qid)}" data-status="{status}"><summary>{_mark(q.get("correct"))}'
            f'<code class="qid">{e(qid)}</code>{type_badge}'
            f'<span class="qtext">{e(text)}</span>{other}</summary>'
            f'<div class="qbody"><div class="gold">{"".join(gold_bits)}</div>'
            f'<div class="sides{" two" if base else ""}">{sides}</div></div></details>')
    if not out:
        return '<p class="muted">No questions in this run.</p>'
    return "".join(out)


# ---------------------------------------------------------------- page

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f1f5f9;color:#0f172a;font:14px/1.5 %(font)s}
.wrap{max-width:1180px;margin:0 auto;padding:24px 20px 60px}
header.top{background:linear-gradient(135deg,#1e3a8a,#2563eb);color:#fff;border-radius:14px;padding:22px 26px;
 box-shadow:0 6px 20px rgba(30,58,138,.25)}
header.top h1{margin:0 0 10px;font-size:24px;letter-spacing:-.01em}
header.top .meta{display:flex;flex-wrap:wrap;gap:8px}
header.top .meta span{background:rgba(255,255,255,.14);border-radius:999px;padding:3px 11px;font-size:13px}
header.top .meta b{font-weight:600}
nav{margin:14px 2px 0;display:flex;gap:16px;flex-wrap:wrap;font-size:13px}
nav a{color:#1d4ed8;text-decoration:none}nav a:hover{text-decoration:underline}
section{background:#fff;border-radius:12px;padding:18px 22px;margin-top:18px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
section h2{margin:0 0 12px;font-size:18px}
h3{font-size:14px;margin:14px 0 6px;color:#334155}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:14px;margin-top:18px}
.card{background:#fff;border-radius:12px;padding:14px 16px;box-shadow:0 1px 3px rgba(15,23,42,.08)}
.card .label{font-size:12px;color:#64748b;text-transform:uppercase;letter-spacing:.04em}
.card .big{font-size:26px;font-weight:700;margin-top:2px;font-variant-numeric:tabular-nums}
.card .sub{font-size:12px;color:#64748b}
table{border-collapse:collapse;width:100%%;font-variant-numeric:tabular-nums}
th,td{padding:5px 10px;border-bottom:1px solid #e2e8f0;text-align:left;vertical-align:top}
thead th{font-size:12px;color:#475569;text-transform:uppercase;letter-spacing:.03em;border-bottom:2px solid #cbd5e1;
 background:#f8fafc}
th[scope=row]{font-weight:500}
.num{text-align:right;white-space:nowrap}
tr.group th{background:#f1f5f9;color:#1e3a8a;font-size:12px;text-transform:uppercase;letter-spacing:.05em;
 padding-top:8px}
table.summary tbody tr:not(.group):hover,table.types tbody tr:hover{background:#f8fafc}
tr.group .hint{text-transform:none;letter-spacing:0}
tr.alt td{color:#475569;background:#fffbeb}
table.types td,table.types th{white-space:nowrap}
table.types tbody th{vertical-align:middle}
tr.total th,tr.total td{font-weight:700}
table.stages thead th{vertical-align:bottom}
table.stages th.sysh{text-align:center;text-transform:none;font-size:13px;color:#1e293b;border-bottom:1px solid #e2e8f0}
.minibar{display:inline-block;width:60px;height:6px;background:#e2e8f0;border-radius:3px;margin-right:8px;
 vertical-align:middle;overflow:hidden}
.minibar i{display:block;height:100%%;border-radius:3px}
.delta{font-weight:600}
.good{color:#15803d}.bad{color:#dc2626}.same{color:#94a3b8}
.hint{font-size:11px;color:#94a3b8;font-weight:400;margin-left:6px}
.muted{color:#94a3b8}.small{font-size:12px}
.two{display:grid;grid-template-columns:1fr 1fr;gap:22px;align-items:start}
.two>div{min-width:0}
.scroll{overflow-x:auto;margin-top:10px}
svg.chart{display:block;margin:4px 0}
.dot{display:inline-block;width:10px;height:10px;border-radius:50%%;margin-right:6px;vertical-align:baseline}
.type{display:inline-block;font-size:11px;padding:1px 8px;border-radius:999px;background:#e2e8f0;color:#334155;
 white-space:nowrap;font-weight:600}
.t-factoid{background:#dbeafe;color:#1e40af}.t-multi_source{background:#ede9fe;color:#5b21b6}
.t-conflict{background:#ffe4e6;color:#9f1239}.t-followup{background:#dcfce7;color:#166534}
.t-unanswerable{background:#fef3c7;color:#92400e}
.toolbar{display:flex;gap:8px;align-items:center;margin-bottom:10px;flex-wrap:wrap}
.toolbar button{font:inherit;font-size:13px;border:1px solid #cbd5e1;background:#fff;border-radius:8px;padding:4px 12px;
 cursor:pointer}
.toolbar button:hover{background:#f1f5f9}
.toolbar .count{color:#64748b;font-size:13px;margin-left:auto}
details.q{border:1px solid #e2e8f0;border-left:4px solid #cbd5e1;border-radius:8px;margin:6px 0;background:#fff}
details.q.fail{border-left-color:#dc2626}details.q.pass{border-left-color:#16a34a}
details.q>summary{cursor:pointer;padding:8px 12px;display:flex;gap:10px;align-items:baseline;list-style:none}
details.q>summary::-webkit-details-marker{display:none}
details.q>summary::before{content:"▸";color:#94a3b8;width:10px}
details.q[open]>summary::before{content:"▾"}
details.q[open]>summary{border-bottom:1px solid #e2e8f0;background:#f8fafc}
.qid{font-size:12px;color:#475569;background:#f1f5f9;padding:1px 6px;border-radius:4px}
.qtext{flex:1;min-width:0}
.other{font-size:12px;color:#64748b;white-space:nowrap}
.mark{font-weight:700;width:16px;display:inline-block;text-align:center}
.mark.ok{color:#16a34a}.mark.ko{color:#dc2626}.mark.unk{color:#94a3b8}
.qbody{padding:12px 16px 16px}
.gold{display:flex;flex-wrap:wrap;gap:6px 28px;padding-bottom:8px;margin-bottom:10px;border-bottom:1px dashed #e2e8f0}
.gold .field{min-width:200px;max-width:100%%}
.sides.two{gap:18px}
.side{min-width:0}
.side h4{margin:4px 0 6px;font-size:14px}
.field{margin:6px 0}
.field .k{display:block;font-size:11px;text-transform:uppercase;letter-spacing:.05em;color:#64748b;font-weight:600}
.field .v{white-space:pre-wrap;overflow-wrap:anywhere}
.answer{background:#f8fafc;border-radius:6px;padding:6px 10px}
.chips{display:flex;flex-wrap:wrap;gap:5px}
.chip{display:inline-block;font-size:12px;background:#f1f5f9;border-radius:999px;padding:1px 9px;margin:1px 3px 1px 0;
 overflow-wrap:anywhere}
.chip.alias{background:#dcfce7;color:#166534}.chip.warn{background:#fef3c7;color:#92400e}
ul.notes{margin:4px 0;padding-left:20px}
ol.cits,ol.passages{margin:4px 0;padding-left:0;list-style:none}
ol.cits li,ol.passages li{margin:4px 0 8px;overflow-wrap:anywhere}
.phead{font-size:12px;color:#475569}
.src{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:12px;color:#1e293b}
.off,.score{color:#94a3b8;font-size:12px}
.ttl{font-style:italic;color:#64748b}
blockquote{margin:3px 0 0;padding:4px 10px;border-left:3px solid #93c5fd;background:#eff6ff;border-radius:0 6px 6px 0;
 white-space:pre-wrap}
.ptext{font-size:12.5px;color:#334155;background:#f8fafc;border-radius:6px;padding:5px 9px;margin-top:2px}
ol.passages li.ev .ptext{background:#f0fdf4;box-shadow:inset 3px 0 0 #22c55e}
.evb{font-size:11px;background:#dcfce7;color:#166534;border-radius:999px;padding:0 7px;margin-left:4px}
footer{color:#94a3b8;font-size:12px;text-align:center;margin-top:24px}
@media (max-width:900px){.two,.sides.two{grid-template-columns:1fr}.cards{grid-template-columns:repeat(2,1fr)}}
@media print{details.q{break-inside:avoid}.toolbar{display:none}}
""" % {"font": FONT}

JS = """
function qs(s){return document.querySelectorAll(s)}
function openAll(o){qs('details.q').forEach(function(d){if(d.style.display!=='none')d.open=o})}
function only(status){var n=0;qs('details.q').forEach(function(d){var show=!status||d.dataset.status===status;
d.style.display=show?'':'none';if(show)n++});document.getElementById('shown').textContent=n+' shown'}
"""


def _meta(main: Run, base: Run | None, gold_path) -> str:
    m = main.metrics
    n = m.get("questions")
    if not is_num(n):
        n = len(main.questions)
    bits = [("system", main.name), ("backend", m.get("backend") or DASH), ("gold", gold_path or m.get("gold") or DASH),
            ("questions", n)]
    if m.get("tag"):
        bits.append(("tag", m["tag"]))
    if base:
        bits.append(("baseline", f"{base.name} ({base.get('backend') or DASH})"))
    bits.append(("generated", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")))
    return "".join(f"<span>{e(k)}: <b>{e(v)}</b></span>" for k, v in bits)


def render(main: Run, base: Run | None = None, gold: dict[str, dict] | None = None, gold_path=None) -> str:
    gold = gold or {}
    if base and base.name == main.name:
        base.name = f"{base.name} ({base.dir.name})"
    runs = [main] + ([base] if base else [])
    n_fail = sum(1 for q in main.questions if q.get("correct") is False)
    n_pass = sum(1 for q in main.questions if q.get("correct") is True)
    title = f"{main.name} eval" + (f" vs {base.name}" if base else "")
    sections = [
        ("summary", "Summary", summary_table(main, base)),
        ("types", "By question type", per_type(runs)),
        ("retrieval", "Retrieval", retrieval(runs)),
        ("latency", "Latency", latency(runs)),
        ("threshold", "Threshold curve", threshold_curve(runs)),
    ]
    toolbar = ('<div class="toolbar"><button type="button" onclick="openAll(true)">Expand all</button>'
               '<button type="button" onclick="openAll(false)">Collapse all</button>'
               '<button type="button" onclick="only(\'fail\')">Failures only</button>'
               '<button type="button" onclick="only(\'pass\')">Correct only</button>'
               '<button type="button" onclick="only(null)">All</button>'
               f'<span class="count"><span class="bad">{n_fail} wrong</span> · '
               f'<span class="good">{n_pass} right</span>'
               f' · <span id="shown">{len(main.questions)} shown</span></span></div>')
    sections.append(("questions", f"Questions (failures first)", toolbar + question_rows(main, base, gold)))
    nav = "".join(f'<a href="#{sid}">{e(name)}</a>' for sid, name, _ in sections)
    body = "".join(f'<section id="{sid}"><h2>{e(name)}</h2>{content}</section>' for sid, name, content in sections)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{e(title)}</title><style>{CSS}</style></head><body><div class=\"wrap\">"
        f"<header class=\"top\"><h1>{e(title)}</h1><div class=\"meta\">{_meta(main, base, gold_path)}</div></header>"
        f"<nav>{nav}</nav>{cards(main, base)}{body}"
        "<footer>Self-contained report written by newsdesk (evals/report.py); metrics are defined in "
        "README “Evaluation”.</footer></div>"
        f"<script>{JS}</script></body></html>\n")


def write_report(out_dir: Path, baseline_dir: Path | None = None, gold_path: Path | None = None) -> Path:
    """Write ``out_dir/report.html`` from ``out_dir``'s metrics.json and answers.jsonl (and the
    baseline folder's, side by side, when given); ``gold_path`` adds gold evidence and history
    to each question (default: the gold file named in metrics.json, if it exists). Returns the path."""
    out_dir = Path(out_dir)
    main = Run(out_dir)
    base = Run(Path(baseline_dir)) if baseline_dir and Path(baseline_dir).exists() else None
    gold_file = gold_path or main.get("gold")
    try:
        gold = load_gold(gold_file) if gold_file else {}
    except Exception:  # a bad gold file must not cost the report
        gold = {}
    path = out_dir / "report.html"
    out_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(render(main, base, gold, gold_file), encoding="utf-8")
    return path
