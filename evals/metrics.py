"""Scores eval outputs (the ``ask --json`` objects) against gold rows. Pure functions, no models.

Every metric (retrieval: hit@k, mrr@k, evidence recall; answers: accuracy, token F1, answer
length; citations: validity, precision, recall; abstention: precision, recall, false abstention;
latency per stage) is defined in the table of README "Evaluation", the one reference for them.
Each is also given per gold ``type``; a metric with nothing to measure is ``None``.
"""
from __future__ import annotations

import re
import statistics
from collections import Counter
from functools import cache
from pathlib import Path

from retrieval.loaders import canonical_text
from retrieval.search import fold

MAX_WORDS = 60
KS = (1, 3, 5, 10)
SUMMARY_KEYS = (
    "accuracy", "token_f1", "answer_words_median",
    "abstention_precision", "abstention_recall", "false_abstention",
    "citation_validity", "citation_precision", "citation_recall", "citations",
    *(f"hit@{k}" for k in KS), *(f"mrr@{k}" for k in KS), "evidence_recall",
)
LOWER_IS_BETTER = {"false_abstention", "answer_words_median"}
_TOKEN = re.compile(r"\w+")


def squash(text: str) -> str:
    """White space folded to single spaces."""
    return " ".join(text.split())


def token_f1(pred: str, gold: str) -> float:
    p, g = (_TOKEN.findall(fold(text)) for text in (pred, gold))
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def is_correct(gold: dict, out: dict) -> bool:
    if out["abstained"] or len(out["answer"].split()) > MAX_WORDS:
        return False
    hay = fold(" ".join([out.get("short_answer") or "", out["answer"]]))
    return any(fold(a) in hay for a in gold.get("answers", []))


def percentile(values: list[float], q: float) -> float:
    values = sorted(values) or [0.0]
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def corpus_text(root: Path):
    """source -> that corpus file's text as the bot read it (None when unreadable), each file read once."""
    @cache
    def text(source: str) -> str | None:
        try:
            return canonical_text(root, source)
        except Exception:
            return None
    return text


def evidence_spans(gold: dict, text) -> list[tuple[str, int, int]]:
    """Where each gold evidence string sits in its listed sources."""
    return [(src, at, at + len(ev)) for ev in gold.get("evidence", []) for src in gold.get("sources", [])
            if (t := text(src)) and (at := t.find(ev)) >= 0]


def citation_relevant(c: dict, gold: dict, spans: list[tuple[str, int, int]]) -> bool:
    """The citation overlaps gold evidence or quotes a gold answer (never, for an unanswerable question)."""
    return gold["type"] != "unanswerable" and (
        any(src == c["source"] and c["start"] < end and start < c["end"] for src, start, end in spans)
        or any(fold(a) in fold(c["quote"]) for a in gold.get("answers", [])))


def _ratio(num: float, den: int) -> float | None:
    return round(num / den, 4) if den else None


def judge(gold: dict, out: dict, text) -> dict:
    """Everything measured about one question (``text``: :func:`corpus_text`)."""
    answerable = gold["type"] != "unanswerable"
    spans = evidence_spans(gold, text)
    cits = out.get("citations", [])
    valid = sum(1 for c in cits if (t := text(c["source"])) is not None and t[c["start"]:c["end"]] == c["quote"])
    relevant = sum(citation_relevant(c, gold, spans) for c in cits)
    pred = out.get("short_answer") or out["answer"]
    f1 = 0.0 if out["abstained"] else max((token_f1(pred, a) for a in gold.get("answers", [])), default=0.0)
    evidence = [squash(ev) for ev in gold.get("evidence") or []]
    texts = [squash(p.get("text", "")) for p in out.get("passages", [])]
    ev_found = sum(any(ev in t for t in texts) for ev in evidence)
    rank = next((r for r, t in enumerate(texts, 1) if any(ev in t for ev in evidence)), None)
    correct = out["abstained"] if not answerable else is_correct(gold, out)
    return {
        "id": gold["id"], "type": gold["type"], "question": gold["question"],
        "answerable": answerable, "correct": bool(correct), "abstained": bool(out["abstained"]),
        "f1": round(f1, 4), "hit_rank": rank if answerable and evidence else None,
        "has_evidence": bool(answerable and evidence), "evidence": len(evidence), "evidence_found": ev_found,
        "citations": len(cits), "citations_valid": valid, "citations_relevant": relevant,
        "words": len(out["answer"].split()),
        "expected": gold.get("answers") if answerable else "abstain",
        "got": "ABSTAINED" if out["abstained"] else out["answer"],
        "short_answer": out.get("short_answer"), "standalone": out.get("standalone_question"),
        "total_ms": float(out.get("timings_ms", {}).get("total", 0.0)),
    }


def summarise(judged: list[dict]) -> dict:
    """The summary metrics over a list of judged questions (all of them, or one type)."""
    ans = [j for j in judged if j["answerable"]]
    una = [j for j in judged if not j["answerable"]]
    ret = [j for j in ans if j["has_evidence"]]
    abst = [j for j in judged if j["abstained"]]
    n_cits = sum(j["citations"] for j in judged)
    m: dict = {"n": len(judged)}
    m["accuracy"] = _ratio(sum(j["correct"] for j in ans), len(ans))
    m["token_f1"] = _ratio(sum(j["f1"] for j in ans), len(ans))
    m["answer_words_median"] = statistics.median([j["words"] for j in judged]) if judged else None
    m["abstention_precision"] = _ratio(sum(not j["answerable"] for j in abst), len(abst))
    m["abstention_recall"] = _ratio(sum(j["abstained"] for j in una), len(una))
    m["false_abstention"] = _ratio(sum(j["abstained"] for j in ans), len(ans))
    m["citations"] = n_cits
    m["citation_validity"] = _ratio(sum(j["citations_valid"] for j in judged), n_cits)
    m["citation_precision"] = _ratio(sum(j["citations_relevant"] for j in judged), n_cits)
    m["citation_recall"] = _ratio(sum(j["citations_relevant"] > 0 for j in ans), len(ans))
    for k in KS:
        m[f"hit@{k}"] = _ratio(sum(j["hit_rank"] is not None and j["hit_rank"] <= k for j in ret), len(ret))
        m[f"mrr@{k}"] = _ratio(sum(1 / j["hit_rank"] for j in ret if j["hit_rank"] and j["hit_rank"] <= k),
                               len(ret))
    ev = sum(j["evidence"] for j in ret)
    m["evidence_recall"] = _ratio(sum(j["evidence_found"] for j in ret), ev)
    return m


def latency(outputs: list[dict]) -> dict:
    values = {s: [o["timings_ms"].get(s, 0.0) for o in outputs]
              for s in sorted({k for o in outputs for k in o.get("timings_ms", {})})}
    return {s: {"median": round(statistics.median(v), 1), "p95": round(percentile(v, 0.95), 1)}
            for s, v in values.items()}


CURVE_STEPS = [round(i / 20, 2) for i in range(21)]


def threshold_curve(gold_rows: list[dict], outputs: list[dict], judged: list[dict]) -> list[dict]:
    """Accuracy, abstention and false abstention as the reader's threshold moves: a question is
    answered at threshold t when it was answered in this run and its ``confidence`` is at least t.
    Exact for every t at or above the threshold the run used (run with NEWSDESK_MIN_EVIDENCE=0 for
    the whole curve)."""
    ans = [(o, j) for g, o, j in zip(gold_rows, outputs, judged) if g.get("type") != "unanswerable"]
    una = [o for g, o in zip(gold_rows, outputs) if g.get("type") == "unanswerable"]
    if "confidence" not in (outputs[0] if outputs else {}):
        return []

    def answered(o: dict, t: float) -> bool:
        return not o["abstained"] and float(o.get("confidence") or 0.0) >= t

    def share(hits, of: list):
        return sum(hits) / len(of) if of else None

    return [{"threshold": t, "accuracy": share((j["correct"] and answered(o, t) for o, j in ans), ans),
             "abstention": share((not answered(o, t) for o in una), una),
             "false_abstention": share((not answered(o, t) for o, _ in ans), ans)} for t in CURVE_STEPS]


def score(gold_rows: list[dict], outputs: list[dict], root: Path) -> dict:
    """metrics.json: the summary at top level, then latency, by_type, per_question, failures."""
    text = corpus_text(root)
    judged = [judge(g, o, text) for g, o in zip(gold_rows, outputs)]
    types = sorted({j["type"] for j in judged})
    return {"questions": len(judged), **{k: v for k, v in summarise(judged).items() if k != "n"},
            "latency_ms": latency(outputs),
            "by_type": {t: summarise([j for j in judged if j["type"] == t]) for t in types},
            "threshold_curve": threshold_curve(gold_rows, outputs, judged), "per_question": judged,
            "failures": [{k: j[k] for k in ("id", "type", "question", "expected", "got", "short_answer", "standalone")}
                         for j in judged if not j["correct"]]}
