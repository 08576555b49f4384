"""`newsdesk eval --compare A B`: every metric of two eval output folders side by side.

Also holds what the report shares with it: the metrics' order, which direction is better, how to
format a value or a difference, and how to read a metrics.json of any age (a key that is missing
or null is "–"). Stdlib only; rich is imported inside :func:`print_compare`.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from evals.metrics import KS, LOWER_IS_BETTER

TYPES = ("factoid", "multi_source", "conflict", "followup", "unanswerable")
STAGES = ("rewrite", "retrieve", "answer", "verify", "total")
GROUPS = (
    ("Answers", ("accuracy", "token_f1", "answer_words_median")),
    ("Abstention", ("abstention_precision", "abstention_recall", "false_abstention")),
    ("Citations", ("citation_validity", "citation_precision", "citation_recall", "citations")),
    ("Retrieval", (*(f"hit@{k}" for k in KS), *(f"mrr@{k}" for k in KS), "evidence_recall")),
)
DASH = "–"


# ---------------------------------------------------------------- metric semantics

def is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def direction(name: str) -> int:
    """+1 when higher is better, -1 when lower is better (latency too), 0 for the citation count."""
    key = name.rsplit(".", 1)[-1]
    return -1 if name.startswith("latency") or key in LOWER_IS_BETTER else 0 if key == "citations" else 1


def kind(name: str) -> str:
    key = name.rsplit(".", 1)[-1]
    return "ms" if name.startswith("latency") else {"answer_words_median": "words", "citations": "count"}.get(
        key, "ratio")


def type_key(t: str) -> str:
    """The metric that tells how a question type went: abstention recall for unanswerable, else accuracy."""
    return "abstention_recall" if t == "unanswerable" else "accuracy"


def fmt_value(v, k: str = "ratio") -> str:
    if not is_num(v):
        return DASH if v is None else str(v)
    if k == "ratio":
        return f"{v * 100:.1f}%"
    if k == "ms":
        return f"{v:,.0f} ms" if abs(v) >= 10 else f"{v:.1f} ms"
    if k == "count":
        return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"
    return f"{v:g}"


def fmt_delta(d, k: str = "ratio") -> str:
    """A difference with an arrow and its sign, as :func:`fmt_value` writes it (percentage points for
    ratios): "▲ +2.5 pp", "±0", "–" when unknown."""
    if not is_num(d) or d == 0:
        return "±0" if d == 0 else DASH
    return ("▲ +" if d > 0 else "▼ −") + fmt_value(abs(d), "count" if k == "words" else k).replace("%", " pp")


# ---------------------------------------------------------------- reading runs

def _parse(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return None


def _read(path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def read_jsonl(path) -> list[dict]:
    """The JSON objects of a JSON Lines file, skipping blank and unreadable lines; [] when absent."""
    return [r for r in map(_parse, _read(path).splitlines()) if isinstance(r, dict)]


def load_metrics(folder) -> dict:
    """metrics.json of an eval folder; {} when absent or unreadable."""
    m = _parse(_read(Path(folder) / "metrics.json"))
    return m if isinstance(m, dict) else {}


def dig(d, *keys):
    """``d[k1][k2]...``, or None where a level is missing or not a dict."""
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def value(metrics: dict, name: str):
    """A metric by its dotted name: ``accuracy``, ``latency_ms.total.p95``, ``by_type.factoid.n``.
    Older files may hold a bare number per latency stage: its median."""
    keys = name.split(".")
    if keys[0] == "latency_ms" and is_num(bare := dig(metrics, *keys[:2])):
        return bare if keys[-1] == "median" else None
    return dig(metrics, *keys)


def per_question(metrics: dict) -> list[dict]:
    rows = metrics.get("per_question")
    return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []


def ordered(keys, canonical: tuple) -> list[str]:
    """The distinct keys, the canonical ones first and in their order, then the rest sorted."""
    return sorted(set(keys), key=lambda k: (canonical.index(k) if k in canonical else len(canonical), k))


def stages_of(*runs: dict) -> list[str]:
    return ordered([s for m in runs if isinstance(m.get("latency_ms"), dict) for s in m["latency_ms"]], STAGES)


def types_of(*runs: dict) -> list[str]:
    keys = [t for m in runs if isinstance(m.get("by_type"), dict) for t in m["by_type"]]
    return ordered(keys + [q["type"] for m in runs for q in per_question(m) if q.get("type")], TYPES)


# ---------------------------------------------------------------- comparing

def metric_row(name: str, a: dict, b: dict, group: str = "", label: str = "") -> dict:
    """One metric of runs a and b: both values, ``delta`` (b - a) and ``better``: "a", "b", "same", or
    None when a value is missing or the metric has no better direction."""
    va, vb, sign = value(a, name), value(b, name), direction(name)
    d = round(vb - va, 6) if is_num(va) and is_num(vb) else None
    return {"name": name, "group": group, "label": label or name, "a": va, "b": vb, "delta": d,
            "better": "same" if d == 0 else None if d is None or not sign else "b" if d * sign > 0 else "a",
            "kind": kind(name), "lower": sign < 0}


def metric_rows(a: dict, b: dict) -> list[dict]:
    """Every comparable metric of two runs, in display order."""
    names = [(group, key, key) for group, keys in GROUPS for key in keys]
    names += [("Latency", f"latency_ms.{s}.{q}", f"latency {s} {q}")
              for s in stages_of(a, b) for q in ("median", "p95")]
    names += [("By type", f"by_type.{t}.{type_key(t)}", f"{t}: {type_key(t)}") for t in types_of(a, b)]
    return [metric_row(name, a, b, group, label) for group, name, label in names]


def _about(path: Path, m: dict) -> dict:
    return {"dir": str(path), "system": m.get("system"), "backend": m.get("backend"),
            "gold": m.get("gold"), "questions": m.get("questions", len(per_question(m)) or None)}


def compare(dir_a: Path, dir_b: Path | None = None) -> dict:
    """Compare two eval output folders (each with a metrics.json); with one, just list its metrics.

    ``metrics`` holds :func:`metric_row`'s rows. ``flipped`` lists the questions whose per_question
    ``correct`` differs: ``fixed`` are right in B but wrong in A, ``broken`` the reverse."""
    a, b = load_metrics(dir_a), load_metrics(dir_b) if dir_b else {}
    qa, qb = ({q["id"]: q for q in per_question(m) if "id" in q} for m in (a, b))
    flipped = {"fixed": [], "broken": []}
    for qid, x in qa.items():
        y = qb.get(qid, {})
        if isinstance(x.get("correct"), bool) and isinstance(y.get("correct"), bool) and x["correct"] != y["correct"]:
            flipped["fixed" if y["correct"] else "broken"].append(
                {"id": qid, "type": x.get("type") or y.get("type"), "question": x.get("question") or y.get("question")})
    return {
        "a": _about(dir_a, a), "b": _about(dir_b, b) if dir_b else None,
        "metrics": metric_rows(a, b), "flipped": flipped,
        "only_in_a": [{"id": k, "question": v.get("question")} for k, v in qa.items() if k not in qb] if dir_b else [],
        "only_in_b": [{"id": k, "question": v.get("question")} for k, v in qb.items() if k not in qa],
        "failures": [] if dir_b else [f for f in a.get("failures") or [] if isinstance(f, dict)],
    }


# ---------------------------------------------------------------- printing

def _title(side: str, about: dict) -> str:
    bits = [str(about[k]) for k in ("system", "backend") if about[k]]
    n = about["questions"]
    return f"{side}: {about['dir']}" + (f" ({', '.join(bits)}" + (f"; {n} q" if n else "") + ")" if bits else "")


def print_compare(result: dict, console) -> None:
    """Print :func:`compare`'s result with rich: a side-by-side table, then the flipped questions
    (or, for one run, its failures)."""
    from rich.table import Table
    from rich.text import Text

    a, b = result["a"], result["b"]
    table = Table(title="newsdesk eval comparison" if b else "newsdesk eval", caption_justify="left",
                  caption=Text(f"{_title('A', a)}\n{_title('B', b)}" if b else _title("run", a)))
    for col in ("metric", "A", "B", "Δ B − A") if b else ("metric", a["system"] or "value"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    rows = result["metrics"]
    for i, row in enumerate(rows):
        if i and row["group"] != rows[i - 1]["group"]:
            table.add_section()
        style = {"b": "bold green", "a": "bold red", "same": "dim"}.get(row["better"], "")
        cells = [fmt_value(row["b"], row["kind"]), Text(fmt_delta(row["delta"], row["kind"]), style=style)] if b else []
        table.add_row(Text(row["label"] + (" ↓" if row["lower"] else "")), fmt_value(row["a"], row["kind"]), *cells)
    console.print(table)
    console.print("[dim]↓ lower is better" + ("; green: B is better, red: B is worse.[/dim]" if b else ".[/dim]"))
    if failures := result["failures"]:
        console.print(f"[bold]{len(failures)} failures[/bold] (all in metrics.json and report.html):")
    for f in failures:
        console.print(f"  {f.get('id')} [{f.get('type')}] {f.get('question')} -> expected {f.get('expected')}; got: "
                      f"{str(f.get('got'))[:160]}", highlight=False, markup=False, soft_wrap=True)
    for key, mark, colour, what in (("fixed", "✓", "green", "right in B, wrong in A"),
                                    ("broken", "✗", "red", "wrong in B, right in A")) if b else ():
        console.print(Text(f"{len(result['flipped'][key])} {key} ({what})", style=f"bold {colour}"))
        for q in result["flipped"][key]:
            tag = (f"[{q['type']}] " if q["type"] else "", "dim")
            console.print(Text.assemble(f"  {mark} ", (f"{q['id']} ", "bold"), tag, str(q["question"] or ""),
                                        style=colour), soft_wrap=True)
    for key, side in (("only_in_a", "A"), ("only_in_b", "B")):
        if items := result[key]:
            console.print(Text(f"{len(items)} questions only in {side}: " + ", ".join(str(q["id"]) for q in items),
                               style="yellow"))
