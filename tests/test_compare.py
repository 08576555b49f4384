"""evals/compare.py on two hand-written eval folders."""
import io
import json
from pathlib import Path

from rich.console import Console

from evals.compare import compare, print_compare


def write(folder: Path, metrics: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "answers.jsonl").write_text("", encoding="utf-8")
    return folder


def pq(qid, qtype, correct):
    return {"id": qid, "type": qtype, "question": f"question {qid}?", "correct": correct}


A = {
    "system": "naive", "backend": "local", "questions": 5,
    "accuracy": 0.5, "false_abstention": 0.25, "answer_words_median": 30, "citations": 4,
    "hit@5": 0.8, "citation_validity": None, "token_f1": 0.4,
    "latency_ms": {"total": {"median": 900.0, "p95": 2000.0}, "answer": {"median": 500.0, "p95": 800.0}},
    "by_type": {"factoid": {"n": 2, "accuracy": 0.5}, "unanswerable": {"n": 1, "accuracy": None,
                                                                        "abstention_recall": 0.0}},
    "per_question": [pq("q1", "factoid", True), pq("q2", "factoid", False), pq("q3", "unanswerable", False),
                     pq("q4", "conflict", True), pq("qa", "followup", True)],
}
B = {
    "system": "newsdesk", "backend": "local", "questions": 5,
    "accuracy": 0.75, "false_abstention": 0.5, "answer_words_median": 20, "citations": 9,
    "hit@5": 0.8, "citation_validity": 1.0, "token_f1": 0.3,
    "latency_ms": {"total": {"median": 1200.0, "p95": 1500.0}, "rewrite": {"median": 3.0, "p95": 5.0}},
    "by_type": {"factoid": {"n": 2, "accuracy": 1.0}, "unanswerable": {"n": 1, "accuracy": None,
                                                                        "abstention_recall": 1.0}},
    "per_question": [pq("q1", "factoid", True), pq("q2", "factoid", True), pq("q3", "unanswerable", True),
                     pq("q4", "conflict", False), pq("qb", "followup", False)],
}


def rows_by_name(result):
    return {r["name"]: r for r in result["metrics"]}


def test_compare_deltas_and_better(tmp_path):
    result = compare(write(tmp_path / "a", A), write(tmp_path / "b", B))
    rows = rows_by_name(result)

    def check(name, a, b, delta, better):
        r = rows[name]
        assert (r["a"], r["b"], r["delta"], r["better"]) == (a, b, delta, better), (name, r)

    check("accuracy", 0.5, 0.75, 0.25, "b")
    check("token_f1", 0.4, 0.3, -0.1, "a")
    check("false_abstention", 0.25, 0.5, 0.25, "a")  # lower is better
    check("answer_words_median", 30, 20, -10, "b")  # lower is better
    check("hit@5", 0.8, 0.8, 0.0, "same")
    check("citation_validity", None, 1.0, None, None)  # missing in A
    check("citations", 4, 9, 5, None)  # a count: no better side
    check("mrr@10", None, None, None, None)  # missing in both: still listed
    check("latency_ms.total.median", 900.0, 1200.0, 300.0, "a")  # lower is better
    check("latency_ms.total.p95", 2000.0, 1500.0, -500.0, "b")
    check("latency_ms.answer.median", 500.0, None, None, None)
    check("latency_ms.rewrite.median", None, 3.0, None, None)
    check("by_type.factoid.accuracy", 0.5, 1.0, 0.5, "b")
    check("by_type.unanswerable.abstention_recall", 0.0, 1.0, 1.0, "b")
    assert "by_type.unanswerable.accuracy" not in rows  # null on both sides
    names = [r["name"] for r in result["metrics"]]
    for key in ("abstention_precision", "abstention_recall", "citation_precision", "citation_recall",
                "hit@1", "hit@3", "hit@10", "mrr@1", "mrr@3", "mrr@5", "evidence_recall"):
        assert key in names
    json.dumps(result)  # plain data


def test_compare_flipped_and_only(tmp_path):
    result = compare(write(tmp_path / "a", A), write(tmp_path / "b", B))
    fixed = result["flipped"]["fixed"]
    broken = result["flipped"]["broken"]
    assert [q["id"] for q in fixed] == ["q2", "q3"]
    assert fixed[0]["question"] == "question q2?"
    assert [q["id"] for q in broken] == ["q4"]
    assert [q["id"] for q in result["only_in_a"]] == ["qa"]
    assert [q["id"] for q in result["only_in_b"]] == ["qb"]
    # swapping the runs swaps everything
    back = compare(tmp_path / "b", tmp_path / "a")
    assert [q["id"] for q in back["flipped"]["broken"]] == ["q2", "q3"]
    assert rows_by_name(back)["accuracy"]["better"] == "a"


def test_compare_old_format(tmp_path):
    """Older metrics.json: few keys, no per_question, no latency: nothing crashes."""
    a = write(tmp_path / "a", {"system": "newsdesk", "accuracy": 0.4, "questions": 3})
    b = write(tmp_path / "b", {"system": "newsdesk", "accuracy": 0.6, "latency_ms": {"total": 1000.0}})
    result = compare(a, b)
    rows = rows_by_name(result)
    assert rows["accuracy"]["better"] == "b"
    assert rows["latency_ms.total.median"]["b"] == 1000.0
    assert result["flipped"] == {"fixed": [], "broken": []}
    out = io.StringIO()
    print_compare(result, Console(file=out, width=120, color_system=None))
    assert "accuracy" in out.getvalue() and "–" in out.getvalue()


def test_print_compare(tmp_path):
    result = compare(write(tmp_path / "a", A), write(tmp_path / "b", B))
    out = io.StringIO()
    print_compare(result, Console(file=out, width=140, color_system="truecolor", force_terminal=True))
    text = out.getvalue()
    plain = io.StringIO()
    print_compare(result, Console(file=plain, width=140, color_system=None))
    p = plain.getvalue()
    assert "accuracy" in p and "50.0%" in p and "75.0%" in p and "▲ +25.0 pp" in p
    assert "▲ +300 ms" in p and "▼ −500 ms" in p
    assert "factoid: accuracy" in p and "unanswerable: abstention_recall" in p
    assert "2 fixed" in p and "q2" in p and "question q3?" in p and "1 broken" in p and "q4" in p
    assert "only in A: qa" in p and "only in B: qb" in p
    # colours: accuracy delta green (B better), latency median delta red (B slower)
    acc_line = next(line for line in text.splitlines() if "accuracy" in line and "+25.0 pp" in line)
    assert "\x1b[1;32m" in acc_line or "38;2;0;128;0" in acc_line or "32m" in acc_line
    lat_line = next(line for line in text.splitlines() if "latency total median" in line)
    assert "31m" in lat_line


def test_print_one_run_lists_its_metrics_and_failures(tmp_path):
    """`newsdesk eval`'s closing table: one run, no deltas, its failures."""
    failures = [{"id": "q2", "type": "factoid", "question": "question q2?", "expected": ["Caracas"], "got": "Lima"}]
    result = compare(write(tmp_path / "a", {**B, "failures": failures}))
    assert result["b"] is None and result["flipped"] == {"fixed": [], "broken": []}
    plain = io.StringIO()
    print_compare(result, Console(file=plain, width=140, color_system=None))
    p = plain.getvalue()
    assert "accuracy" in p and "75.0%" in p and "Δ" not in p and "fixed" not in p
    assert "1 failures" in p and "q2 [factoid] question q2? -> expected ['Caracas']; got: Lima" in p
