"""`newsdesk eval`: answer every gold question, score, and write answers.jsonl + metrics.json.

Metrics (all offline):
- accuracy: share of answerable questions (type != unanswerable) not abstained on whose
  short_answer or answer contains a gold alias (case- and accent-insensitive), with the
  answer at most 60 words.
- abstention_recall: share of unanswerable questions the bot abstained on.
- false_abstention: share of answerable questions the bot abstained on.
- citation_validity: share of all citations whose quote equals the source text at
  [start:end], checked here by re-reading the files.
- latency: median and 95th percentile of timings_ms per stage (warm: models are loaded
  before the first question).
"""
from __future__ import annotations

import json
import statistics
from pathlib import Path

from retrieval.errors import NewsdeskError

MAX_WORDS = 60


def load_gold(path: Path) -> list[dict]:
    if not path.exists():
        raise NewsdeskError(f"No gold file at {path}; pass --gold FILE (JSON Lines, see README 'Evaluation').")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except ValueError as exc:
                raise NewsdeskError(f"{path}:{n} is not valid JSON ({exc}).") from None
    return rows


def is_correct(gold: dict, out: dict) -> bool:
    from retrieval.search import fold

    if out["abstained"] or len(out["answer"].split()) > MAX_WORDS:
        return False
    hay = fold(" ".join([out.get("short_answer") or "", out["answer"]]))
    return any(fold(a) in hay for a in gold.get("answers", []))


def citation_ok(root: Path, c: dict, cache: dict) -> bool:
    from retrieval.loaders import canonical_text

    if c["source"] not in cache:
        try:
            cache[c["source"]] = canonical_text(root, c["source"])
        except Exception:
            cache[c["source"]] = None
    text = cache[c["source"]]
    return text is not None and text[c["start"]:c["end"]] == c["quote"]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    values = sorted(values)
    idx = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[idx]


def score(gold_rows: list[dict], outputs: list[dict], root: Path) -> dict:
    cache: dict = {}
    by_type: dict[str, dict] = {}
    answerable = [(g, o) for g, o in zip(gold_rows, outputs) if g["type"] != "unanswerable"]
    unanswerable = [(g, o) for g, o in zip(gold_rows, outputs) if g["type"] == "unanswerable"]
    cits = [c for o in outputs for c in o["citations"]]
    valid = sum(citation_ok(root, c, cache) for c in cits)
    for g, o in zip(gold_rows, outputs):
        t = by_type.setdefault(g["type"], {"n": 0, "correct": 0, "abstained": 0})
        t["n"] += 1
        t["abstained"] += int(o["abstained"])
        t["correct"] += int(o["abstained"] if g["type"] == "unanswerable" else is_correct(g, o))
    for t in by_type.values():
        t["rate"] = round(t["correct"] / t["n"], 4)
    stages = sorted({k for o in outputs for k in o["timings_ms"]})
    latency = {s: {"median": round(statistics.median([o["timings_ms"].get(s, 0.0) for o in outputs]), 1),
                   "p95": round(percentile([o["timings_ms"].get(s, 0.0) for o in outputs], 0.95), 1)}
               for s in stages} if outputs else {}
    failures = []
    for g, o in zip(gold_rows, outputs):
        ok = o["abstained"] if g["type"] == "unanswerable" else is_correct(g, o)
        if not ok:
            failures.append({"id": g["id"], "type": g["type"], "question": g["question"],
                             "expected": g.get("answers") or "abstain",
                             "got": "ABSTAINED" if o["abstained"] else o["answer"],
                             "short_answer": o.get("short_answer"), "standalone": o["standalone_question"]})
    return {
        "questions": len(gold_rows),
        "accuracy": round(sum(is_correct(g, o) for g, o in answerable) / max(1, len(answerable)), 4),
        "abstention_recall": round(sum(o["abstained"] for _, o in unanswerable) / max(1, len(unanswerable)), 4),
        "false_abstention": round(sum(o["abstained"] for _, o in answerable) / max(1, len(answerable)), 4),
        "citations": len(cits),
        "citation_validity": round(valid / len(cits), 4) if cits else 1.0,
        "answer_words_median": statistics.median([len(o["answer"].split()) for o in outputs]) if outputs else 0,
        "latency_ms": latency,
        "by_type": by_type,
        "failures": failures,
    }


def run_eval(gold_path: Path, out_dir: Path, console, settings=None) -> dict:
    from rich.progress import Progress
    from rich.table import Table

    from retrieval.pipeline import get_pipeline

    gold_rows = load_gold(gold_path)
    pipeline = get_pipeline(settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("answering gold questions", total=len(gold_rows))
        for g in gold_rows:
            ans = pipeline.ask(g["question"], g.get("history") or [])
            outputs.append({"id": g["id"], **ans.to_json()})
            bar.advance(task)
    with open(out_dir / "answers.jsonl", "w", encoding="utf-8") as fh:
        for o in outputs:
            fh.write(json.dumps(o, ensure_ascii=False) + "\n")
    metrics = score(gold_rows, outputs, pipeline.root)
    metrics["backend"] = pipeline.backend
    metrics["gold"] = str(gold_path)
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False), encoding="utf-8")

    table = Table(title=f"newsdesk eval: {gold_path} ({metrics['questions']} questions, backend {pipeline.backend})")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in ("accuracy", "abstention_recall", "false_abstention", "citation_validity", "citations",
                "answer_words_median"):
        table.add_row(key, str(metrics[key]))
    for stage, v in metrics["latency_ms"].items():
        table.add_row(f"latency {stage} (ms) median / p95", f"{v['median']} / {v['p95']}")
    for t, v in sorted(metrics["by_type"].items()):
        table.add_row(f"type {t}", f"{v['correct']}/{v['n']}")
    console.print(table)
    if metrics["failures"]:
        console.print(f"[bold]{len(metrics['failures'])} failures[/bold] (details in {out_dir}/metrics.json):")
        for f in metrics["failures"]:
            console.print(f"  {f['id']} [{f['type']}] {f['question']} -> expected {f['expected']}; got: "
                          f"{str(f['got'])[:160]}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"Wrote {out_dir}/answers.jsonl and {out_dir}/metrics.json")
    return metrics
