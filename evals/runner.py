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

from evals.metrics import score
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
            if missing := {"id", "type", "question"} - set(row):
                raise NewsdeskError(f"{path}:{n} lacks {', '.join(sorted(missing))}; see README 'Evaluation'.")
            rows.append(row)
    rows = [r for r in rows if not tag or tag in r.get("tags", [])]
    if not rows:
        raise NewsdeskError(f"{path} has no questions{f' tagged {tag!r}' if tag else ''}.")
    return rows


def _write(out_dir: Path, outputs: list[dict], metrics: dict) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "answers.jsonl").write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in outputs),
                                           encoding="utf-8")
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")


def progress_bar(console, label: str):
    """A rich progress bar (label, bar, done/total, time taken, time left) that leaves no trace; silent
    without a console. ``label`` may name a task's fields, as ``{task.fields[what]}``."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    return Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, transient=True, disable=console is None)


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
    from retrieval.pipeline import get_pipeline

    pipeline = get_pipeline(settings)
    with progress_bar(console, "newsdesk answering") as bar:
        outputs = [{"id": g["id"], **pipeline.ask(g["question"], g.get("history") or []).to_json()}
                   for g in bar.track(gold_rows)]
    metrics = {"system": "newsdesk", "backend": pipeline.backend, "gold": str(gold_path),
               **score(gold_rows, outputs, pipeline.root)}
    if tag:
        metrics["tag"] = tag
    _write(out_dir, outputs, metrics)

    base_dir = out_dir / baseline if baseline else None
    if baseline:  # "naive", the one in BASELINES
        from evals.baseline import run_naive

        base_out, info = run_naive(gold_rows, pipeline.root, base_dir, settings, console=console)
        _write(base_dir, base_out, {"system": "naive", "backend": info.get("backend"), "gold": str(gold_path),
                                    **score(gold_rows, base_out, pipeline.root), "info": info})

    from evals.compare import compare, print_compare
    from evals.report import write_report

    report = write_report(out_dir, base_dir, gold_path)
    print_compare(compare(base_dir, out_dir) if base_dir else compare(out_dir), console)
    console.print(f"Wrote {out_dir}/answers.jsonl, metrics.json and {report}")
    return metrics
