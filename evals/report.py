"""DIR/report.html: one self-contained page about an eval run (and its baseline, side by side).

The page is ``templates/report.html.j2`` (Jinja2, autoescaped: articles, answers and questions may
hold markup); its charts are matplotlib figures inlined as SVG (``evals/charts.py``), its few lines
of JS only expand and filter the question list. No network. Older metrics.json files with fewer
keys render their missing values as "–".
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime
from pathlib import Path

from evals import charts
from evals.compare import (
    DASH, GROUPS, KS, direction, extra_keys, fmt_delta, fmt_value, is_num, kind, latency_of, load_metrics,
    per_question, read_jsonl, stages_of, type_metric, types_of,
)
from evals.metrics import SUMMARY_KEYS

PASSAGE_CHARS = 400
LABELS = {**{key: key.replace("_", " ").capitalize() for key in SUMMARY_KEYS}, "token_f1": "Token F1",
          "answer_words_median": "Answer words (median)", "citations": "Citations (count)",
          **{f"mrr@{k}": f"MRR@{k}" for k in KS}}
TYPE_COLUMNS = {"accuracy": "Acc.", "token_f1": "F1", "abstention_recall": "Abst. recall",
                "false_abstention": "False abst.", "citation_precision": "Cit. prec.",
                "citation_recall": "Cit. recall", "hit@5": "Hit@5", "mrr@10": "MRR@10",
                "evidence_recall": "Evid. recall"}
CARDS = (("accuracy", "Accuracy"), ("abstention_recall", "Abstention recall"),
         ("citation_validity", "Citation validity"), ("hit@5", "Hit@5"), ("latency_ms.total.median", "Median latency"))


class Run:
    """One eval output folder: metrics.json, answers.jsonl, and one row per question."""

    def __init__(self, folder: Path):
        self.dir = Path(folder)
        self.metrics = load_metrics(self.dir)
        self.answers = {str(a.get("id", f"#{n}")): a for n, a in enumerate(read_jsonl(self.dir / "answers.jsonl"), 1)}
        self.name = str(self.metrics.get("system") or self.dir.name)
        rows = per_question(self.metrics)
        if not rows:  # older files: rebuild from answers.jsonl and the failure list
            failures = self.metrics.get("failures")
            failed = {f.get("id") for f in failures if isinstance(f, dict)} if isinstance(failures, list) else None
            rows = [{"id": qid, "question": a.get("question"), "correct": None if failed is None else qid not in failed,
                     "abstained": a.get("abstained")} for qid, a in self.answers.items()]
        self.questions = [dict(r, id=str(r.get("id"))) for r in rows]
        self.by_id = {q["id"]: q for q in self.questions}

    def get(self, key):
        if key.startswith("latency_ms."):
            _, stage, q = key.split(".")
            return latency_of(self.metrics).get(stage, {}).get(q)
        return self.metrics.get(key)

    def total_ms(self) -> list[float]:
        values = [q.get("total_ms") if is_num(q.get("total_ms")) else
                  (self.answers.get(q["id"], {}).get("timings_ms") or {}).get("total") for q in self.questions]
        return [float(v) for v in values if is_num(v)]


def load_gold(path) -> dict[str, dict]:
    return {str(g["id"]): g for g in read_jsonl(Path(path)) if "id" in g} if path else {}


# ---------------------------------------------------------------- what the page shows

def _cell(key: str, a, b=None) -> dict:
    """A metric's values for a table row: formatted, with the delta and whether it is good news."""
    k = kind(key)
    row = {"key": key, "a": fmt_value(a, k), "b": fmt_value(b, k), "bar_a": a if k == "ratio" and is_num(a) else None,
           "bar_b": b if k == "ratio" and is_num(b) else None, "delta": DASH, "cls": "muted"}
    if is_num(a) and is_num(b):
        d = round(a - b, 9)
        row["cls"] = "same" if d == 0 or not direction(key) else ("good" if d * direction(key) > 0 else "bad")
        row["delta"] = ("" if d == 0 else "▲ " if d > 0 else "▼ ") + fmt_delta(d, k)
    return row


def summary(main: Run, base: Run | None) -> list[list[dict]]:
    """Groups of metric rows; a single run's are split in two tables (answers to citations | retrieval on)."""
    groups = list(GROUPS)
    extra = extra_keys(main.metrics, *([base.metrics] if base else []))
    if extra:
        groups.insert(3, ("Other", tuple(extra)))
    stages = stages_of(main.metrics, *([base.metrics] if base else []))
    groups.append(("Latency", tuple(f"latency_ms.{s}.{q}" for s in stages for q in ("median", "p95"))))

    def row(key: str, group: str) -> dict:
        parts = key.split(".")
        return _cell(key, main.get(key), base.get(key) if base else None) | {
            "label": f"Latency {parts[1]} ({parts[2]})" if len(parts) == 3 else LABELS.get(key, key),
            "lower": direction(key) < 0 and group != "Latency"}

    out = [{"name": name, "rows": [row(key, name) for key in keys], "lower": name == "Latency"}
           for name, keys in groups]
    if base:
        return [out]
    split = next(i for i, g in enumerate(out) if g["name"] == "Retrieval")
    return [out[:split], out[split:]]


def _type_key(t: str) -> str:
    return "abstention_recall" if t == "unanswerable" else "accuracy"


def _type_n(runs: list[Run], t: str):
    for r in runs:
        if is_num(n := type_metric(r.metrics, t, "n")):
            return int(n)
    return sum(1 for q in runs[0].questions if q.get("type") == t) or None


def _rank_counts(run: Run) -> dict[str, int]:
    """Rank of the first passage holding gold evidence, over answerable questions with evidence."""
    ranks = [q.get("hit_rank") for q in run.questions
             if q.get("type") != "unanswerable" and q.get("has_evidence") is not False and "hit_rank" in q]
    return dict(Counter(str(r) if is_num(r) and r <= 10 else "> 10" if is_num(r) else "none" for r in ranks))


def figures(runs: list[Run]) -> dict[str, str]:
    """Every chart of the page, as inline SVG (absent when there is nothing to draw)."""
    names = [r.name for r in runs]
    out = {}
    types = types_of(*(r.metrics for r in runs))
    if types:
        cats = [f"{t}\n{'n=' + str(n) + ' · ' if (n := _type_n(runs, t)) else ''}{_type_key(t).replace('_', ' ')}"
                for t in types]
        out["types"] = charts.bars(cats, [(r.name, [type_metric(r.metrics, t, _type_key(t)) for t in types])
                                          for r in runs], "accuracy per question type")
    xs = [f"k={k}" for k in KS]
    for key, label, what in (("hit", "hit at k", "share of questions with gold evidence in the top k passages"),
                             ("mrr", "MRR at k", "mean reciprocal rank of the first evidence passage")):
        out[key] = charts.lines(xs, [(r.name, [r.get(f"{key}@{k}") for k in KS]) for r in runs], label,
                                xlabel=f"{key}@k: {what}")
    ranks = [_rank_counts(r) for r in runs]
    if any(ranks):
        cats = [str(i) for i in range(1, 11)] + [c for c in ("> 10", "none") if any(c in x for x in ranks)]
        out["ranks"] = charts.bars(cats, [(n, [x.get(c, 0) for c in cats]) for n, x in zip(names, ranks)],
                                   "rank of first evidence passage", fmt=lambda v: f"{v:.0f}", ylim=(0, 1), counts=True,
                                   ylabel="questions", size=(11, 2.6))
    totals = [(r.name, r.total_ms()) for r in runs]
    if any(v for _, v in totals):
        out["histogram"] = charts.histogram(totals, "latency histogram")
    stages = [s for s in stages_of(*(r.metrics for r in runs)) if s != "total"]
    stage_rows = [(r.name, {s: v for s in stages if is_num(v := latency_of(r.metrics).get(s, {}).get("median"))
                            and v > 0}) for r in runs]
    if any(d for _, d in stage_rows):
        out["stages"] = charts.stacked(stage_rows, "median time per stage")
    out["thresholds"] = [charts.lines(
        [c["threshold"] for c in curve], [(n, [c[k] for c in curve]) for k, n in
                                          (("accuracy", "accuracy"), ("abstention", "abstention"),
                                           ("false_abstention", "false abstention"))],
        f"{r.name}: threshold curve", title=r.name, annotate=False, ylim=(0, 1.02),
        xlabel="the judge's P(yes) needed to answer (NEWSDESK_MIN_EVIDENCE)",
        colours=("#16a34a", "#f59e0b", "#dc2626")) for r in runs if (curve := r.metrics.get("threshold_curve"))]
    return out


def _norm(text) -> str:
    return " ".join(str(text).split())


def _offsets(item: dict) -> str:
    s, t = item.get("start"), item.get("end")
    return f"[{s}–{t}]" if s is not None or t is not None else ""


def _side(run: Run, qid: str, gold: dict, colour: str) -> dict:
    q, a = run.by_id.get(qid, {}), run.answers.get(qid)
    side = {"name": run.name, "colour": colour, "correct": q.get("correct") if q else "", "missing": a is None and not q}
    a = a or {}
    cits_valid = f"{q.get('citations_valid')}/{q.get('citations')}" if q.get("citations") is not None else None
    total = fmt_value(q.get("total_ms"), "ms") if is_num(q.get("total_ms")) else None
    side["chips"] = [(k, v) for k, v in (("F1", q.get("f1")), ("hit rank", q.get("hit_rank")),
                                         ("citations valid", cits_valid), ("total", total),
                                         ("backend", a.get("backend"))) if v is not None]
    evidence = [_norm(x) for x in (gold.get("evidence") or []) if x]
    passages = []
    for rank, p in enumerate([p for p in a.get("passages") or [] if isinstance(p, dict)], 1):
        text = _norm(p.get("text") or "")
        passages.append({"rank": rank, "source": p.get("source"), "offsets": _offsets(p),
                         "score": f"score {p['score']:.3f}" if is_num(p.get("score")) else "",
                         "ev": bool(evidence and any(ev in text for ev in evidence)) or q.get("hit_rank") == rank,
                         "text": text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS].rstrip() + "…"})
    side.update(abstained=q.get("abstained") or a.get("abstained"),
                standalone=a.get("standalone_question") or q.get("standalone"),
                answer=a.get("answer", q.get("got")), short=a.get("short_answer", q.get("short_answer")),
                notes=a.get("notes") or [], passages=passages,
                citations=[dict(c, offsets=_offsets(c)) for c in a.get("citations") or [] if isinstance(c, dict)])
    return side


def questions(main: Run, base: Run | None, gold: dict[str, dict]) -> list[dict]:
    """One entry per question, failures first, then the right ones, then the unscored."""
    order = sorted(main.questions, key=lambda q: {False: 0, True: 1}.get(q.get("correct"), 2))
    out = []
    for q in order:
        qid, g, a, expected = q["id"], gold.get(q["id"], {}), main.answers.get(q["id"], {}), q.get("expected")
        if expected is None:
            expected = "abstain" if g.get("type") == "unanswerable" else g.get("answers")
        out.append({
            "id": qid, "type": q.get("type") or g.get("type") or "", "correct": q.get("correct"),
            "status": {True: "pass", False: "fail"}.get(q.get("correct"), "unk"),
            "text": q.get("question") or a.get("question") or g.get("question") or "",
            "other": base.by_id.get(qid) if base else None,
            "expected": expected if isinstance(expected, list) or expected == "abstain" else
            ([expected] if expected else []),
            "gold": g, "sides": [_side(r, qid, g, c) for r, c in zip([main, base] if base else [main],
                                                                         charts.COLOURS)]})
    return out


def render(main: Run, base: Run | None = None, gold: dict[str, dict] | None = None, gold_path=None) -> str:
    if base and base.name == main.name:
        base.name = f"{base.name} ({base.dir.name})"
    runs = [main] + ([base] if base else [])
    m = main.metrics
    meta = [("system", main.name), ("backend", m.get("backend") or DASH),
            ("gold", gold_path or m.get("gold") or DASH),
            ("questions", m.get("questions") if is_num(m.get("questions")) else len(main.questions))]
    meta += [("tag", m["tag"])] if m.get("tag") else []
    meta += [("baseline", f"{base.name} ({base.get('backend') or DASH})")] if base else []
    meta.append(("generated", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")))
    cards = [_cell(key, main.get(key), base.get(key) if base else None) | {"label": label} for key, label in CARDS]
    types = [{"name": t, "n": _type_n(runs, t) or DASH,
              "rows": [[fmt_value(type_metric(r.metrics, t, k), kind(k)) for k in TYPE_COLUMNS] for r in runs]}
             for t in types_of(*(r.metrics for r in runs))]
    stages = [{"name": s, "cells": [fmt_value(latency_of(r.metrics).get(s, {}).get(q), "ms") for r in runs
                                    for q in ("median", "p95")]} for s in stages_of(*(r.metrics for r in runs))]
    return charts.render_page(
        "report.html.j2", title=f"{main.name} eval" + (f" vs {base.name}" if base else ""), meta=meta, main=main,
        base=base, runs=runs, colours=charts.COLOURS, cards=cards, summary=summary(main, base), figures=figures(runs),
        labels=LABELS, type_columns=TYPE_COLUMNS, types=types, stages=stages, questions=questions(main, base, gold or {}),
        n_fail=sum(1 for q in main.questions if q.get("correct") is False),
        n_pass=sum(1 for q in main.questions if q.get("correct") is True))


def write_report(out_dir: Path, baseline_dir: Path | None = None, gold_path: Path | None = None) -> Path:
    """Write ``out_dir/report.html`` from ``out_dir``'s metrics.json and answers.jsonl (and the
    baseline folder's, side by side, when given); ``gold_path`` adds gold evidence and history
    to each question (default: the gold file named in metrics.json, if it exists). Returns the path."""
    main, path = Run(out_dir), Path(out_dir) / "report.html"
    base = Run(Path(baseline_dir)) if baseline_dir and Path(baseline_dir).exists() else None
    gold_file = gold_path or main.get("gold")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(main, base, load_gold(gold_file), gold_file), encoding="utf-8")
    return path
