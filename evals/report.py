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
    DASH, KS, dig, fmt_delta, fmt_value, is_num, kind, load_metrics, metric_row, metric_rows, per_question,
    read_jsonl, stages_of, type_key, types_of, value,
)
from evals.metrics import SUMMARY_KEYS, squash

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
        self.dir, self.metrics = Path(folder), load_metrics(folder)
        self.answers = {str(a.get("id", f"#{n}")): a for n, a in enumerate(read_jsonl(self.dir / "answers.jsonl"), 1)}
        self.name = str(self.metrics.get("system") or self.dir.name)
        failures = self.metrics.get("failures")
        failed = {f.get("id") for f in failures if isinstance(f, dict)} if isinstance(failures, list) else None
        rows = per_question(self.metrics) or [  # older files: rebuilt from answers.jsonl and the failure list
            {"id": qid, "question": a.get("question"), "abstained": a.get("abstained"),
             "total_ms": dig(a, "timings_ms", "total"), "correct": None if failed is None else qid not in failed}
            for qid, a in self.answers.items()]
        self.questions = [dict(q, id=str(q.get("id"))) for q in rows]
        self.by_id = {q["id"]: q for q in self.questions}

    def get(self, name: str):
        return value(self.metrics, name)


def summary(main: Run, base: Run | None) -> list[list[dict]]:
    """The metric rows (``a`` the baseline's, ``b`` this run's); a single run's in two tables
    (answers to citations | retrieval on)."""
    rows = [dict(r, label=LABELS.get(r["name"]) or "Latency {} ({})".format(*r["name"].split(".")[1:]))
            for r in metric_rows(base.metrics if base else {}, main.metrics) if r["group"] != "By type"]
    if not stages_of(main.metrics, base.metrics if base else {}):
        rows.append(metric_row("latency", {}, {}, "Latency"))
    split = next(i for i, r in enumerate(rows) if r["group"] == "Retrieval")
    return [rows] if base else [rows[:split], rows[split:]]


def _type_n(runs: list[Run], t: str):
    n = next((n for r in runs if is_num(n := r.get(f"by_type.{t}.n"))), None)
    return int(n) if n is not None else sum(q.get("type") == t for q in runs[0].questions) or None


def _rank_counts(run: Run) -> dict[str, int]:
    """Rank of the first passage holding gold evidence, over answerable questions with evidence."""
    ranks = [q.get("hit_rank") for q in run.questions
             if q.get("type") != "unanswerable" and q.get("has_evidence") is not False and "hit_rank" in q]
    return dict(Counter(str(r) if is_num(r) and r <= 10 else "> 10" if is_num(r) else "none" for r in ranks))


def figures(runs: list[Run], types: list[tuple[str, int | None]]) -> dict[str, str]:
    """Every chart of the page, as inline SVG (absent when there is nothing to draw); ``types``: (type, n)."""
    out = {}
    if types:
        cats = [f"{t}\n{f'n={n} · ' if n else ''}{type_key(t).replace('_', ' ')}" for t, n in types]
        out["types"] = charts.bars(cats, [(r.name, [r.get(f"by_type.{t}.{type_key(t)}") for t, _ in types])
                                          for r in runs], "accuracy per question type")
    for key, label, what in (("hit", "hit at k", "share of questions with gold evidence in the top k passages"),
                             ("mrr", "MRR at k", "mean reciprocal rank of the first evidence passage")):
        out[key] = charts.lines([f"k={k}" for k in KS], [(r.name, [r.get(f"{key}@{k}") for k in KS]) for r in runs],
                                label, xlabel=f"{key}@k: {what}")
    ranks = [_rank_counts(r) for r in runs]
    if any(ranks):
        cats = [str(i) for i in range(1, 11)] + [c for c in ("> 10", "none") if any(c in x for x in ranks)]
        out["ranks"] = charts.bars(cats, [(r.name, [x.get(c, 0) for c in cats]) for r, x in zip(runs, ranks)],
                                   "rank of first evidence passage", fmt=lambda v: f"{v:.0f}", ylim=(0, 1), counts=True,
                                   ylabel="questions", size=(11, 2.6))
    totals = [(r.name, [float(q["total_ms"]) for q in r.questions if is_num(q.get("total_ms"))]) for r in runs]
    if any(v for _, v in totals):
        out["histogram"] = charts.histogram(totals, "latency histogram")
    stages = [s for s in stages_of(*(r.metrics for r in runs)) if s != "total"]
    stage_rows = [(r.name, {s: v for s in stages if is_num(v := r.get(f"latency_ms.{s}.median")) and v > 0})
                  for r in runs]
    if any(d for _, d in stage_rows):
        out["stages"] = charts.stacked(stage_rows, "median time per stage")
    out["thresholds"] = [charts.lines(
        [c["threshold"] for c in curve],
        [(k.replace("_", " "), [c[k] for c in curve]) for k in ("accuracy", "abstention", "false_abstention")],
        f"{r.name}: threshold curve", title=r.name, annotate=False, ylim=(0, 1.02),
        xlabel="the judge's P(yes) needed to answer (NEWSDESK_MIN_EVIDENCE)",
        colours=("#16a34a", "#f59e0b", "#dc2626")) for r in runs if (curve := r.metrics.get("threshold_curve"))]
    return out


def _side(run: Run, qid: str, gold: dict, colour: str) -> dict:
    """One run's answer to one question: from answers.jsonl, else from metrics.json's per_question."""
    q, a = run.by_id.get(qid, {}), run.answers.get(qid) or {}
    evidence = [squash(str(x)) for x in gold.get("evidence") or [] if x]
    passages = []
    for rank, p in enumerate([p for p in a.get("passages") or [] if isinstance(p, dict)], 1):
        text = squash(str(p.get("text") or ""))
        passages.append(dict(p, rank=rank, score=f"score {p['score']:.3f}" if is_num(p.get("score")) else "",
                             ev=bool(evidence and any(ev in text for ev in evidence)) or q.get("hit_rank") == rank,
                             text=text if len(text) <= PASSAGE_CHARS else text[:PASSAGE_CHARS].rstrip() + "…"))
    cits = f"{q.get('citations_valid')}/{q['citations']}" if q.get("citations") is not None else None
    total = fmt_value(q["total_ms"], "ms") if is_num(q.get("total_ms")) else None
    chips = (("F1", q.get("f1")), ("hit rank", q.get("hit_rank")), ("citations valid", cits), ("total", total),
             ("backend", a.get("backend")))
    return {"name": run.name, "colour": colour, "correct": q.get("correct") if q else "", "missing": not (a or q),
            "chips": [(k, v) for k, v in chips if v is not None], "passages": passages,
            "abstained": q.get("abstained") or a.get("abstained"),
            "standalone": a.get("standalone_question") or q.get("standalone"),
            "answer": a.get("answer", q.get("got")), "short": a.get("short_answer", q.get("short_answer")),
            "notes": a.get("notes") or [],
            "citations": [c for c in a.get("citations") or [] if isinstance(c, dict)]}


def questions(main: Run, base: Run | None, gold: dict[str, dict]) -> list[dict]:
    """One entry per question, failures first, then the right ones, then the unscored."""
    out = []
    for q in sorted(main.questions, key=lambda q: {False: 0, True: 1}.get(q.get("correct"), 2)):
        qid, g, a = q["id"], gold.get(q["id"], {}), main.answers.get(q["id"], {})
        out.append({
            "id": qid, "type": q.get("type") or g.get("type") or "", "correct": q.get("correct"),
            "status": {True: "pass", False: "fail"}.get(q.get("correct"), "unk"),
            "text": q.get("question") or a.get("question") or g.get("question") or "",
            "other": base.by_id.get(qid) if base else None, "gold": g,
            "expected": q.get("expected") or ("abstain" if g.get("type") == "unanswerable" else g.get("answers")) or [],
            "sides": [_side(r, qid, g, c) for r, c in zip([main, base] if base else [main], charts.COLOURS)]})
    return out


def write_report(out_dir: Path, baseline_dir: Path | None = None, gold_path: Path | None = None) -> Path:
    """Write ``out_dir/report.html`` from ``out_dir``'s metrics.json and answers.jsonl (and the
    baseline folder's, side by side, when given); ``gold_path`` adds gold evidence and history
    to each question (default: the gold file named in metrics.json, if it exists). Returns the path."""
    main, path = Run(out_dir), Path(out_dir) / "report.html"
    base = Run(baseline_dir) if baseline_dir and Path(baseline_dir).exists() else None
    if base and base.name == main.name:
        base.name = f"{base.name} ({base.dir.name})"
    runs, m, gold_path = [main] + ([base] if base else []), main.metrics, gold_path or main.get("gold")
    meta = [("system", main.name), ("backend", m.get("backend") or DASH), ("gold", gold_path or DASH),
            ("questions", m.get("questions") if is_num(m.get("questions")) else len(main.questions))]
    meta += [("tag", m["tag"])] if m.get("tag") else []
    meta += [("baseline", f"{base.name} ({base.get('backend') or DASH})")] if base else []
    meta.append(("generated", datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")))
    types = [(t, _type_n(runs, t)) for t in types_of(*(r.metrics for r in runs))]
    gold = {str(g["id"]): g for g in read_jsonl(gold_path) if "id" in g} if gold_path else {}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(charts.render_page(
        "report.html.j2", title=f"{main.name} eval" + (f" vs {base.name}" if base else ""), meta=meta, main=main,
        base=base, runs=runs, colours=charts.COLOURS, summary=summary(main, base), figures=figures(runs, types),
        cards=[metric_row(key, base.metrics if base else {}, m, label=label) for key, label in CARDS],
        labels=LABELS, type_columns=TYPE_COLUMNS, types=types,
        stages=stages_of(*(r.metrics for r in runs)), questions=questions(main, base, gold),
        fmt=fmt_value, fmt_delta=fmt_delta, kind=kind), encoding="utf-8")
    return path
