"""evals/report.py on small hand-written eval folders: no models, no network."""
import json
import re
from pathlib import Path

from evals.report import write_report

XSS = "<script>alert(1)</script>"

QUESTIONS = [
    # id, type, question, correct, abstained, hit_rank, total_ms
    ("q1", "factoid", "Who leads the OAS?", True, False, 1, 800.0),
    ("q2", "multi_source", "Which two countries recognised Guaido?", False, False, 4, 1500.0),
    ("q3", "unanswerable", "What did the moon say?", True, True, None, 300.0),
    ("q4", "followup", "And what did he say next?", False, True, None, 2200.0),
    ("q5", "conflict", "How many people died?", True, False, 2, 950.0),
]


def make_run(folder: Path, system: str = "newsdesk", correct: dict | None = None, accuracy: float = 0.5,
             full: bool = True) -> Path:
    """Write metrics.json + answers.jsonl for QUESTIONS; ``correct`` overrides per-question outcomes."""
    folder.mkdir(parents=True, exist_ok=True)
    correct = correct or {}
    answers, per_q = [], []
    for qid, qtype, question, ok, abstained, rank, ms in QUESTIONS:
        ok = correct.get(qid, ok)
        answer = "I could not find this in the articles." if abstained else f"The answer to {qid} is here [1]."
        if qid == "q2":
            answer = f"Evil answer {XSS} with markup"
        answers.append({
            "id": qid, "question": question, "standalone_question": f"standalone {question}",
            "answer": answer, "short_answer": None if abstained else f"short {qid}", "abstained": abstained,
            "citations": [] if abstained or system != "newsdesk" else [
                {"id": 1, "source": "001_a.txt", "title": "Title <b>bold</b>", "start": 10, "end": 42,
                 "quote": f"quoted text for {qid} <img src=x onerror=alert(2)>"}],
            "passages": [{"source": f"00{i}_a.txt", "title": "T", "start": i * 100, "end": i * 100 + 80,
                          "score": 1.0 / i, "text": f"passage {i} of {qid} " + "lorem ipsum " * 60}
                         for i in range(1, 6)],
            "timings_ms": {"rewrite": 5.0, "retrieve": 100.0, "answer": ms - 150, "verify": 45.0, "total": ms},
            "backend": "local", "notes": [],
        })
        per_q.append({"id": qid, "type": qtype, "question": question, "correct": ok, "abstained": abstained,
                      "f1": 1.0 if ok else 0.2, "hit_rank": rank, "citations_valid": 1, "citations": 1,
                      "expected": "abstain" if qtype == "unanswerable" else [f"alias {qid}", "Luis Almagro"],
                      "got": "ABSTAINED" if abstained else answer, "total_ms": ms})
    metrics = {"system": system, "backend": "local", "gold": "evals/gold.jsonl", "questions": len(QUESTIONS)}
    if full:
        metrics.update({
            "accuracy": accuracy, "token_f1": 0.61, "answer_words_median": 14, "abstention_precision": 0.5,
            "abstention_recall": 1.0, "false_abstention": 0.25, "citation_validity": 1.0,
            "citation_precision": 0.8, "citation_recall": 0.75, "citations": 3,
            **{f"hit@{k}": min(1.0, 0.25 * i + 0.25) for i, k in enumerate((1, 3, 5, 10))},
            **{f"mrr@{k}": 0.3 + 0.05 * i for i, k in enumerate((1, 3, 5, 10))}, "evidence_recall": 0.7,
            "latency_ms": {s: {"median": m, "p95": m * 2} for s, m in
                           (("rewrite", 5.0), ("retrieve", 100.0), ("answer", 800.0), ("verify", 45.0),
                            ("total", 950.0))},
            "by_type": {t: {"n": 1, "accuracy": None if t == "unanswerable" else accuracy,
                            "abstention_recall": 1.0 if t == "unanswerable" else None}
                        for t in ("factoid", "multi_source", "conflict", "followup", "unanswerable")},
        })
    metrics["per_question"] = per_q
    metrics["failures"] = [{"id": q["id"], "type": q["type"], "question": q["question"], "expected": q["expected"],
                            "got": q["got"], "short_answer": None, "standalone": None}
                           for q in per_q if not q["correct"]]
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    (folder / "answers.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers), encoding="utf-8")
    return folder


def _details(page: str) -> list[str]:
    return re.findall(r'<details class="q (\w+)" id="q-([^"]+)"', page)


def _summary_rows(page: str) -> dict[str, list[str]]:
    table = "".join(re.findall(r'<table class="summary">(.*?)</table>', page, re.S))
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S):
        key = re.search(r'title="([^"]+)"', tr)
        if key:
            cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
            rows[key.group(1)] = [re.sub(r"<[^>]+>", "", c).strip() for c in cells]
    return rows


def test_report_single_run(tmp_path):
    out = make_run(tmp_path / "run")
    path = write_report(out)
    assert path == out / "report.html"
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")

    # escaped: no live script/img tags from the data, and the escaped text is there
    assert XSS not in page and "<img src=x" not in page and "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.count("<script>") == 1  # only the page's own small script

    # summary table with every summary metric and latency stage
    rows = _summary_rows(page)
    for key in ("accuracy", "token_f1", "answer_words_median", "abstention_precision", "abstention_recall",
                "false_abstention", "citation_validity", "citation_precision", "citation_recall", "citations",
                "hit@1", "hit@3", "hit@5", "hit@10", "mrr@1", "mrr@10", "evidence_recall",
                "latency_ms.total.median", "latency_ms.rewrite.p95"):
        assert key in rows, key
    assert rows["accuracy"] == ["50.0%"]
    assert rows["latency_ms.total.p95"] == ["1,900 ms"]

    # inline SVG charts: per type, retrieval (hit@k, MRR@k, rank distribution), latency histogram
    assert page.count("<svg") >= 5
    assert 'aria-label="accuracy per question type"' in page and 'aria-label="hit at k"' in page
    assert 'aria-label="latency histogram"' in page

    # one <details> per question, failures first, in gold order within each group
    details = _details(page)
    assert page.count("<details") == len(QUESTIONS)
    assert details == [("fail", "q2"), ("fail", "q4"), ("pass", "q1"), ("pass", "q3"), ("pass", "q5")]

    # expanded content: standalone question, aliases, citations with offsets, trimmed passages
    q1 = page[page.index('id="q-q1"'):]
    q1 = q1[:q1.index("</details>")]
    assert "standalone Who leads the OAS?" in q1 and "Luis Almagro" in q1 and "[10–42]" in q1
    assert "passage 5 of q1" in q1 and "lorem ipsum " * 60 not in q1 and "…" in q1


def test_report_is_self_contained(tmp_path):
    a = make_run(tmp_path / "a")
    page = write_report(a, make_run(tmp_path / "naive", "naive")).read_text(encoding="utf-8")
    assert not re.search(r"""(src|href|action)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert not re.search(r"url\((?!#)|@import|<link|<iframe", page, re.I)  # url(#id): a clip path in an SVG
    assert "http://" not in page and "https://" not in page


def test_report_with_baseline_side_by_side(tmp_path):
    a = make_run(tmp_path / "run", accuracy=0.75)
    b = make_run(tmp_path / "run" / "naive", "naive", correct={"q1": False, "q2": True}, accuracy=0.25)
    # baseline is slower and abstains less wrongly: latency delta green, false abstention red
    m = json.loads((b / "metrics.json").read_text())
    m["false_abstention"] = 0.0
    m["latency_ms"]["total"] = {"median": 2000.0, "p95": 4000.0}
    m["citation_validity"] = None
    (b / "metrics.json").write_text(json.dumps(m))
    page = write_report(a, b).read_text(encoding="utf-8")

    rows = _summary_rows(page)
    assert rows["accuracy"] == ["75.0%", "25.0%", "▲ +50.0 pp"]
    assert rows["false_abstention"] == ["25.0%", "0.0%", "▲ +25.0 pp"]
    assert rows["latency_ms.total.median"] == ["950 ms", "2,000 ms", "▼ −1,050 ms"]
    assert rows["citation_validity"] == ["100.0%", "–", "–"]
    table = re.search(r'<table class="summary">(.*?)</table>', page, re.S).group(1)

    def delta_class(key):
        tr = re.search(r'<tr><th scope="row" title="%s">.*?</tr>' % re.escape(key), table, re.S).group(0)
        return re.search(r'class="num delta (\w+)"', tr).group(1)

    assert delta_class("accuracy") == "good"
    assert delta_class("false_abstention") == "bad"  # higher false abstention is worse
    assert delta_class("latency_ms.total.median") == "good"  # faster is better
    assert delta_class("citations") == "same"  # a count has no better direction

    # both systems appear in each question, with the baseline's verdict in the summary line
    details = page.split("<details")[1:]
    assert len(details) == len(QUESTIONS)
    q1 = next(d for d in details if 'id="q-q1"' in d)
    assert "naive" in q1.split("</summary>")[0] and 'class="mark ko"' in q1.split("</summary>")[0]
    assert q1.count('class="side"') == 2
    assert page.count("Evil answer &lt;script&gt;") == 2


def test_old_metrics_format_does_not_crash(tmp_path):
    """An older metrics.json: no summary keys beyond accuracy, no latency or by_type, no per_question."""
    out = make_run(tmp_path / "old", full=False)
    m = json.loads((out / "metrics.json").read_text())
    del m["per_question"]
    m["accuracy"] = 0.6
    (out / "metrics.json").write_text(json.dumps(m))
    page = write_report(out, tmp_path / "missing-baseline", tmp_path / "no-gold.jsonl").read_text(encoding="utf-8")
    rows = _summary_rows(page)
    assert rows["accuracy"] == ["60.0%"] and rows["hit@5"] == ["–"] and rows["citations"] == ["–"]
    # questions rebuilt from answers.jsonl, failures (from the failure list) first
    assert [qid for _, qid in _details(page)] == ["q2", "q4", "q1", "q3", "q5"]
    assert 'aria-label="latency histogram"' in page  # from answers' timings_ms


def test_gold_file_adds_evidence_and_marks_passages(tmp_path):
    out = make_run(tmp_path / "run")
    gold = tmp_path / "gold.jsonl"
    gold.write_text(json.dumps({"id": "q1", "type": "factoid", "question": "Who leads the OAS?",
                                "answers": ["Luis Almagro"], "evidence": ["passage 2 of q1"],
                                "sources": ["002_a.txt"], "history": ["earlier <i>turn</i>"], "tags": []}) + "\n")
    page = write_report(out, gold_path=gold).read_text(encoding="utf-8")
    q1 = page[page.index('id="q-q1"'):]
    q1 = q1[:q1.index("</details>")]
    assert "gold evidence" in q1 and "earlier &lt;i&gt;turn&lt;/i&gt;" in q1
    evidence_items = re.findall(r'<li class="ev">.*?<b>#(\d+)</b>', q1, re.S)
    assert evidence_items == ["1", "2"]  # #1 by hit_rank, #2 by containing the gold evidence


def _charts(page: str) -> list[str]:
    return re.findall(r'<svg class="chart" role="img" aria-label="([^"]+)"', page)


def test_report_draws_every_chart(tmp_path):
    """Per-type bars, hit@k and MRR@k, the evidence-rank distribution, the latency histogram, the
    stage split and each run's threshold curve: inline SVG with the data's labels in it."""
    a = make_run(tmp_path / "run", accuracy=0.75)
    b = make_run(tmp_path / "run" / "naive", "naive", accuracy=0.25)
    curve = [{"threshold": t / 20, "accuracy": 0.8 - t / 40, "abstention": t / 20, "false_abstention": t / 25}
             for t in range(21)]
    m = json.loads((a / "metrics.json").read_text())
    (a / "metrics.json").write_text(json.dumps({**m, "threshold_curve": curve}))
    page = write_report(a, b).read_text(encoding="utf-8")
    assert _charts(page) == ["accuracy per question type", "hit at k", "MRR at k", "rank of first evidence passage",
                             "latency histogram", "median time per stage", "newsdesk: threshold curve"]
    assert page.count("<svg") == 7 and "No threshold curve" not in page

    def chart(label):
        start = page.index(f'aria-label="{label}"')
        return page[start:page.index("</svg>", start)]

    types = chart("accuracy per question type")
    for text in ("factoid", "unanswerable", "75%", "25%", "newsdesk", "naive"):
        assert text in types, text
    assert "newsdesk median 950 ms" in chart("latency histogram")
    assert all(s in chart("median time per stage") for s in ("retrieve", "answer", "800 ms"))
    assert all(s in chart("newsdesk: threshold curve") for s in ("accuracy", "false abstention", "P(yes)"))
    # same data, same bytes: charts are deterministic (no dates, no random ids)
    again = write_report(a, b).read_text(encoding="utf-8")
    assert re.sub(r"generated: <b>[^<]*", "", again) == re.sub(r"generated: <b>[^<]*", "", page)


def test_report_without_latency_or_curve_says_so(tmp_path):
    out = make_run(tmp_path / "old", full=False)
    m = json.loads((out / "metrics.json").read_text())
    for q in m["per_question"]:
        del q["total_ms"]
    (out / "metrics.json").write_text(json.dumps(m))
    (out / "answers.jsonl").write_text("")
    page = write_report(out).read_text(encoding="utf-8")
    assert "No per-question latency in this run." in page and "No threshold curve" in page
    assert "accuracy per question type" in _charts(page)  # the types come from per_question
    assert "latency histogram" not in _charts(page)
