"""`newsdesk eval --compare A B`: every metric of two eval output folders side by side.

Also holds what the report and the comparison share about metrics: their order, which
direction is better, and how to format a value or a difference. Stdlib only (rich is
imported inside :func:`print_compare`), and defensive about older metrics.json files:
a key that is missing or null is simply "–".
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from evals.metrics import KS, LOWER_IS_BETTER, SUMMARY_KEYS

TYPES = ("factoid", "multi_source", "conflict", "followup", "unanswerable")
STAGES = ("rewrite", "retrieve", "answer", "verify", "total")
GROUPS = (
    ("Answers", ("accuracy", "token_f1", "answer_words_median")),
    ("Abstention", ("abstention_precision", "abstention_recall", "false_abstention")),
    ("Citations", ("citation_validity", "citation_precision", "citation_recall", "citations")),
    ("Retrieval", (*(f"hit@{k}" for k in KS), *(f"mrr@{k}" for k in KS), "evidence_recall")),
)
COUNT_KEYS = {"citations"}
NEUTRAL = {"citations", "questions"}
# top-level keys of metrics.json that are not summary metrics
NOT_METRICS = {"system", "backend", "gold", "questions", "tag", "info", "latency_ms", "by_type",
               "per_question", "failures", "n"}
DASH = "–"


# ---------------------------------------------------------------- metric semantics

def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def base_key(name: str) -> str:
    """``by_type.factoid.accuracy`` -> ``accuracy``; ``latency_ms.total.p95`` -> ``latency``."""
    return "latency" if name.startswith("latency") else name.rsplit(".", 1)[-1]


def direction(name: str) -> int:
    """+1 when higher is better, -1 when lower is better, 0 when neither."""
    key = base_key(name)
    return -1 if key == "latency" or key in LOWER_IS_BETTER else 0 if key in NEUTRAL else 1


def kind(name: str) -> str:
    key = base_key(name)
    return {"latency": "ms", "answer_words_median": "words"}.get(key, "count" if key in NEUTRAL | COUNT_KEYS
                                                                else "ratio")


def fmt_value(v, k: str = "ratio") -> str:
    if v is None or not is_num(v):
        return DASH if v is None else str(v)
    if k == "ratio":
        return f"{v * 100:.1f}%"
    if k == "ms":
        return f"{v:,.0f} ms" if abs(v) >= 10 else f"{v:.1f} ms"
    if k == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return f"{v:g}"


def fmt_delta(d, k: str = "ratio") -> str:
    """A difference: its sign, then the value as :func:`fmt_value` writes it (percentage points for ratios)."""
    if not is_num(d):
        return DASH
    sign = "±" if d == 0 else "+" if d > 0 else "−"
    return sign + ("0" if d == 0 else fmt_value(abs(d), "count" if k == "words" else k).replace("%", " pp"))


# ---------------------------------------------------------------- reading runs

def _dict(v) -> dict:
    return v if isinstance(v, dict) else {}


def _loads(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSON Lines file, skipping blank and unreadable lines; [] when absent."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    return [r for r in map(_loads, filter(str.strip, lines)) if isinstance(r, dict)]


def load_metrics(path: Path) -> dict:
    """metrics.json of an eval folder (or the file itself); {} when absent or unreadable."""
    path = Path(path) / "metrics.json" if Path(path).is_dir() else Path(path)
    try:
        return _dict(_loads(path.read_text(encoding="utf-8")))
    except OSError:
        return {}


def latency_of(metrics: dict) -> dict[str, dict]:
    """{stage: {"median", "p95"}}, tolerating a bare number per stage."""
    out = {}
    for stage, v in _dict(metrics.get("latency_ms")).items():
        if isinstance(v, dict):
            out[str(stage)] = {"median": v.get("median"), "p95": v.get("p95")}
        elif is_num(v):
            out[str(stage)] = {"median": v, "p95": None}
    return out


def ordered(keys, canonical) -> list[str]:
    keys = list(dict.fromkeys(keys))
    return [k for k in canonical if k in keys] + sorted(k for k in keys if k not in canonical)


def stages_of(*runs: dict) -> list[str]:
    return ordered([s for m in runs for s in latency_of(m)], STAGES)


def types_of(*runs: dict) -> list[str]:
    keys = [t for m in runs for t in _dict(m.get("by_type"))]
    keys += [q.get("type") for m in runs for q in per_question(m) if q.get("type")]
    return ordered(keys, TYPES)


def extra_keys(*runs: dict) -> list[str]:
    """Numeric top-level metrics this module does not know about (newer metrics.json)."""
    seen = [k for m in runs for k, v in m.items()
            if k not in NOT_METRICS and k not in SUMMARY_KEYS and (is_num(v) or v is None)]
    return sorted(dict.fromkeys(seen))


def per_question(metrics: dict) -> list[dict]:
    rows = metrics.get("per_question")
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def type_metric(metrics: dict, t: str, key: str):
    return _dict(_dict(metrics.get("by_type")).get(t)).get(key)


def metric_rows(a: dict, b: dict) -> list[dict]:
    """Every comparable metric of two runs, in display order."""
    rows = []

    def add(name, group, va, vb, label=None):
        d, sign = (round(vb - va, 9) if is_num(va) and is_num(vb) else None), direction(name)
        better = "same" if d == 0 else None if d is None or not sign else "b" if d * sign > 0 else "a"
        rows.append({"name": name, "group": group, "label": label or name, "a": va, "b": vb,
                     "delta": None if d is None else round(vb - va, 6), "better": better, "kind": kind(name)})

    for group, keys in GROUPS:
        for key in keys:
            add(key, group, a.get(key), b.get(key))
    for key in extra_keys(a, b):
        add(key, "Other", a.get(key), b.get(key))
    la, lb = latency_of(a), latency_of(b)
    for stage in stages_of(a, b):
        for q in ("median", "p95"):
            add(f"latency_ms.{stage}.{q}", "Latency", la.get(stage, {}).get(q), lb.get(stage, {}).get(q),
                label=f"latency {stage} {q}")
    for t in types_of(a, b):
        keys = ["accuracy"] + (["abstention_recall"] if t == "unanswerable" else [])
        for key in keys:
            va, vb = type_metric(a, t, key), type_metric(b, t, key)
            if va is None and vb is None and (key != "accuracy" or t == "unanswerable"):
                continue
            add(f"by_type.{t}.{key}", "By type", va, vb, label=f"{t}: {key}")
    return rows


def _about(path: Path, m: dict) -> dict:
    return {"dir": str(path), "system": m.get("system"), "backend": m.get("backend"),
            "gold": m.get("gold"), "questions": m.get("questions", len(per_question(m)) or None)}


def compare(dir_a: Path, dir_b: Path | None = None) -> dict:
    """Compare two eval output folders (each with a metrics.json); with one, just list its metrics.

    ``delta`` is b - a; ``better`` says which run is better on that metric ("same" when equal,
    None when a value is missing or the metric has no better direction). ``flipped`` lists the
    questions whose per_question ``correct`` differs: ``fixed`` are right in B but wrong in A,
    ``broken`` the reverse."""
    a, b = load_metrics(Path(dir_a)), load_metrics(Path(dir_b)) if dir_b else {}
    qa = {q["id"]: q for q in per_question(a) if "id" in q}
    qb = {q["id"]: q for q in per_question(b) if "id" in q}
    fixed, broken = [], []
    for qid, x in qa.items():
        y = qb.get(qid, {})
        if isinstance(x.get("correct"), bool) and isinstance(y.get("correct"), bool) and x["correct"] != y["correct"]:
            item = {"id": qid, "type": x.get("type") or y.get("type"), "question": x.get("question") or y.get("question")}
            (fixed if y["correct"] else broken).append(item)
    return {
        "a": _about(Path(dir_a), a), "b": _about(Path(dir_b), b) if dir_b else None,
        "metrics": metric_rows(a, b), "flipped": {"fixed": fixed, "broken": broken},
        "only_in_a": [{"id": k, "question": v.get("question")} for k, v in qa.items() if k not in qb] if dir_b else [],
        "only_in_b": [{"id": k, "question": v.get("question")} for k, v in qb.items() if k not in qa],
        "failures": [] if dir_b else [f for f in a.get("failures") or [] if isinstance(f, dict)],
    }


# ---------------------------------------------------------------- printing

def _title(side: str, about: dict) -> str:
    bits = [str(about.get(k)) for k in ("system", "backend") if about.get(k)]
    n = about.get("questions")
    return f"{side}: {about.get('dir')}" + (f" ({', '.join(bits)}" + (f"; {n} q" if n else "") + ")" if bits else "")


def print_compare(result: dict, console) -> None:
    """Print :func:`compare`'s result with rich: a side-by-side table, then the flipped questions
    (or, for one run, its failures)."""
    from rich.table import Table
    from rich.text import Text

    a, b = result.get("a", {}), result.get("b")
    table = Table(title="newsdesk eval comparison" if b else "newsdesk eval", caption_justify="left",
                  caption=Text(f"{_title('A', a)}\n{_title('B', b)}" if b else _title("run", a)))
    for col in ("metric", "A", "B", "Δ B − A") if b else ("metric", a.get("system") or "value"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    rows = result.get("metrics", [])
    for row, after in zip(rows, rows[1:] + [None]):
        k = row.get("kind") or kind(row["name"])
        d, better = row.get("delta"), row.get("better")
        label = row.get("label", row["name"]) + (" ↓" if direction(row["name"]) < 0 else "")
        style = {"b": "bold green", "a": "bold red", "same": "dim"}.get(better, "")
        cells = [fmt_value(row.get("b"), k), Text(("" if not d else "▲ " if d > 0 else "▼ ") + fmt_delta(d, k),
                                                  style=style)] if b else []
        table.add_row(Text(label), fmt_value(row.get("a"), k), *cells,
                      end_section=after is not None and after.get("group") != row.get("group"))
    console.print(table)
    console.print("[dim]↓ lower is better" + ("; green: B is better, red: B is worse.[/dim]" if b else ".[/dim]"))
    failures = result.get("failures") or []
    if failures:
        console.print(f"[bold]{len(failures)} failures[/bold] (all in metrics.json and report.html):")
    for f in failures:
        console.print(f"  {f.get('id')} [{f.get('type')}] {f.get('question')} -> expected {f.get('expected')}; got: "
                      f"{str(f.get('got'))[:160]}", highlight=False, markup=False, soft_wrap=True)
    flipped = result.get("flipped", {}) if b else {}
    for key, mark, colour, what in (("fixed", "✓", "green", "right in B, wrong in A"),
                                    ("broken", "✗", "red", "wrong in B, right in A")):
        if b:
            console.print(Text(f"{len(flipped.get(key, []))} {key} ({what})", style=f"bold {colour}"))
        for q in flipped.get(key, []):
            line = Text(f"  {mark} ", style=colour)
            line.append(f"{q.get('id')} ", style="bold")
            line.append(f"[{q['type']}] " if q.get("type") else "", style="dim")
            console.print(line.append(str(q.get("question") or "")), soft_wrap=True)
    for key, side in (("only_in_a", "A"), ("only_in_b", "B")):
        if items := result.get(key) or []:
            console.print(Text(f"{len(items)} questions only in {side}: " + ", ".join(str(q.get("id")) for q in items),
                               style="yellow"))
