"""`newsdesk eval`: answer every gold question, score, and write answers.jsonl, metrics.json and
report.html. Metrics are defined in evals/metrics.py and README "Evaluation".

Layout of ``--out DIR``::

    DIR/answers.jsonl      one `ask --json` object per gold line, plus its gold `id`
    DIR/metrics.json       summary, latency, by_type, per_question, failures
    DIR/report.html        self-contained page (with the baseline side by side when run)
    DIR/naive/             the same two files for `--baseline naive`
    DIR/index/             the throwaway index when `--corpus DIR` is given
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from evals.metrics import is_correct, percentile, score  # noqa: F401  (re-exported for callers)
from retrieval.errors import NewsdeskError

BASELINES = ("naive",)


def load_gold(path: Path, tag: str | None = None) -> list[dict]:
    if not path.exists():
        raise NewsdeskError(f"No gold file at {path}; pass --gold FILE (JSON Lines, see README 'Evaluation').")
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise NewsdeskError(f"{path}:{n} is not valid JSON ({exc}).") from None
            missing = {"id", "type", "question"} - set(row)
            if missing:
                raise NewsdeskError(f"{path}:{n} lacks {', '.join(sorted(missing))}; see README 'Evaluation'.")
            rows.append(row)
    if tag:
        rows = [r for r in rows if tag in r.get("tags", [])]
    if not rows:
        raise NewsdeskError(f"{path} has no questions{f' tagged {tag!r}' if tag else ''}.")
    return rows


def _write(out_dir: Path, outputs: list[dict], metrics: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "answers.jsonl", "w", encoding="utf-8") as fh:
        for o in outputs:
            fh.write(json.dumps(o, ensure_ascii=False) + "\n")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")


def answer_all(gold_rows: list[dict], settings, console) -> tuple[list[dict], object]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from retrieval.pipeline import get_pipeline

    pipeline = get_pipeline(settings)
    outputs = []
    with Progress(TextColumn("newsdesk answering"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("answer", total=len(gold_rows))
        for g in gold_rows:
            ans = pipeline.ask(g["question"], g.get("history") or [])
            outputs.append({"id": g["id"], **ans.to_json()})
            bar.advance(task)
    return outputs, pipeline


def run_eval(gold_path: Path, out_dir: Path, console, settings=None, corpus: Path | None = None,
             baseline: str | None = None, tag: str | None = None, ingest=None) -> dict:
    """Evaluate newsdesk (and optionally a baseline) on a gold file; returns newsdesk's metrics.

    ``corpus``: ingest this folder into a throwaway index under ``out_dir/index`` first
    (``ingest(paths, settings)`` does the ingesting, so the CLI can show its progress bar)."""
    from retrieval.config import Settings

    if baseline and baseline not in BASELINES:
        raise NewsdeskError(f"Unknown baseline {baseline!r}; choose one of: {', '.join(BASELINES)}.")
    gold_rows = load_gold(gold_path, tag)
    settings = settings or Settings.from_env()
    if corpus is not None:
        if not corpus.is_dir():
            raise NewsdeskError(f"--corpus {corpus} is not a folder of articles.")
        settings = dataclasses.replace(settings, home=(out_dir / "index").resolve(), corpus=corpus.resolve())
        if ingest is None:
            from retrieval.ingest import ingest as ingest
        ingest([corpus], settings)
    outputs, pipeline = answer_all(gold_rows, settings, console)
    metrics = {"system": "newsdesk", "backend": pipeline.backend, "gold": str(gold_path),
               **score(gold_rows, outputs, pipeline.root)}
    if tag:
        metrics["tag"] = tag
    _write(out_dir, outputs, metrics)

    base_metrics = None
    if baseline == "naive":
        from evals.baseline import run_naive

        base_out, info = run_naive(gold_rows, pipeline.root, out_dir / "naive", settings, console=console)
        base_metrics = {"system": "naive", "backend": info.get("backend"), "gold": str(gold_path),
                        **score(gold_rows, base_out, pipeline.root), "info": info}
        _write(out_dir / "naive", base_out, base_metrics)

    from evals.report import write_report

    report = write_report(out_dir, out_dir / "naive" if base_metrics else None, gold_path)
    print_summary(console, metrics, base_metrics)
    console.print(f"Wrote {out_dir}/answers.jsonl, metrics.json and {report}")
    return metrics


def _fmt(v) -> str:
    if v is None:
        return "–"
    return f"{v:.3f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def print_summary(console, metrics: dict, base: dict | None = None) -> None:
    from rich.table import Table

    from evals.metrics import SUMMARY_KEYS

    table = Table(title=f"newsdesk eval: {metrics['gold']} ({metrics['questions']} questions, "
                        f"backend {metrics['backend']})")
    table.add_column("metric")
    table.add_column("newsdesk", justify="right")
    if base:
        table.add_column(f"naive ({base['backend']})", justify="right")
    for key in SUMMARY_KEYS:
        table.add_row(key, _fmt(metrics.get(key)), *([_fmt(base.get(key))] if base else []))
    for stage in ("rewrite", "retrieve", "answer", "verify", "total"):
        row = []
        for m in filter(None, [metrics, base]):
            v = m["latency_ms"].get(stage)
            row.append(f"{v['median']} / {v['p95']}" if v else "–")
        table.add_row(f"latency {stage} ms (median / p95)", *row)
    for t, v in sorted(metrics["by_type"].items()):
        key = "abstention_recall" if t == "unanswerable" else "accuracy"
        row = [_fmt(v.get(key))] + ([_fmt(base["by_type"].get(t, {}).get(key))] if base else [])
        table.add_row(f"{t} ({v['n']}): {key}", *row)
    console.print(table)
    failures = metrics["failures"]
    if failures:
        console.print(f"[bold]{len(failures)} newsdesk failures[/bold] (all in metrics.json and report.html):")
        for f in failures:
            console.print(f"  {f['id']} [{f['type']}] {f['question']} -> expected {f['expected']}; got: "
                          f"{str(f['got'])[:160]}", highlight=False, markup=False, soft_wrap=True)
