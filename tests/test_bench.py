"""The benchmark's pieces: the synthetic corpus generator (deterministic, varied, sized in
newsdesk's own chunks), the figures and the bar check, the report page, and (slow) one real
measurement through the worker processes. A full `--quick` run takes several minutes on a
2-core machine (a dozen fresh processes each load the embedding model), so it is not a test;
`make bench BENCH_ARGS=--quick` runs it."""
import json
import re
import sys
from pathlib import Path

import pytest

from evals import bench, synth
from evals.bench_report import render

ROOT = Path(__file__).resolve().parents[1]


def _sentences(folder: Path) -> list[str]:
    from retrieval.chunking import sentence_spans

    out = []
    for f in sorted(folder.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        body = text.split("\n\n", 1)[1]
        out += [body[a:b] for a, b in sentence_spans(body, 0, len(body))]
    return out


@pytest.fixture(scope="module")
def corpus_400(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "c"
    return out, synth.generate(out, 400, seed=11)


def test_synth_is_deterministic_for_a_seed(tmp_path, corpus_400):
    first, summary = corpus_400
    again = synth.generate(tmp_path / "again", 400, seed=11)
    other = synth.generate(tmp_path / "other", 400, seed=12)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in (tmp_path / "again").iterdir())
    assert all((first / n).read_bytes() == (tmp_path / "again" / n).read_bytes() for n in names)
    assert (again.articles, again.chunks, again.questions) == (summary.articles, summary.chunks, summary.questions)
    assert (tmp_path / "other" / names[0]).exists() is False or \
        (tmp_path / "other" / names[0]).read_bytes() != (first / names[0]).read_bytes()


def test_synth_text_is_varied(corpus_400):
    folder, _ = corpus_400
    sents = _sentences(folder)
    assert len(sents) > 500
    distinct = len({" ".join(s.lower().split()) for s in sents}) / len(sents)
    assert distinct > 0.95, distinct
    paragraphs = [p for f in folder.glob("*.txt") for p in f.read_text(encoding="utf-8").split("\n\n")[1:]]
    assert len(set(paragraphs)) == len(paragraphs)
    words = re.findall(r"[a-z]+", " ".join(sents).lower())
    assert len(set(words)) > 1500  # topics, generated names and the Markov chain's vocabulary
    # the Markov half is not a replay of the training articles
    training = {" ".join(s.lower().split()) for s in synth._training_sentences(ROOT / "corpus")}
    assert sum(" ".join(s.lower().split()) in training for s in sents) < 0.01 * len(sents)


def test_synth_size_is_counted_in_newsdesk_chunks(corpus_400):
    from retrieval.chunking import chunk_document
    from retrieval.loaders import iter_corpus

    folder, summary = corpus_400
    counted = sum(len(chunk_document(d)) for _p, docs, reason in iter_corpus([folder]) if reason is None
                  for d in docs)
    assert counted == summary.chunks
    assert 400 <= summary.chunks <= 400 + 25  # stops after the article that reaches the target
    assert summary.articles == len(list(folder.glob("*.txt")))
    first_lines = [f.read_text(encoding="utf-8").splitlines()[0] for f in folder.glob("*.txt")]
    assert all(line and not line.endswith(".") for line in first_lines)  # a headline, not a sentence


def test_synth_questions_point_at_their_answers(corpus_400):
    folder, summary = corpus_400
    assert len(summary.questions) >= 20
    for q in summary.questions[:50]:
        assert q["question"].endswith("?")
        assert q["answer"] in (folder / q["source"]).read_text(encoding="utf-8")


def test_synth_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "x.txt").write_text("hello", encoding="utf-8")
    with pytest.raises(SystemExit):
        synth.generate(tmp_path, 10)


def test_summaries_and_stage_latency():
    s = bench.summarize([float(x) for x in range(1, 101)])
    assert s["n"] == 100 and s["median"] == 50.5 and s["p95"] == 95 and s["max"] == 100
    outs = [{"timings_ms": {"retrieve": 10.0 * i, "total": 20.0 * i}} for i in range(1, 6)]
    summary = bench.latency_summary(outs + [{"notes": ["the reader failed"]}], {})
    lat = summary["latency_ms"]
    assert set(lat) == {"retrieve", "total"} and lat["total"]["median"] == 60.0 and lat["total"]["n"] == 5
    assert summary["questions"] == 6 and summary["llm_fallbacks"] == 1
    assert bench.summarize([]) == {"n": 0}


def _results(**over) -> dict:
    shard = {"shard": 0, "files": 80, "bytes": 250_000, "order": ["newsdesk", "encode", "naive"],
             "newsdesk": {"chunks": 500, "s": 11.1}, "encode": {"chunks": 500, "s": 10.0},
             "naive": {"chunks": 350, "s": 12.5}, "ratio_vs_encode": 0.9, "ratio_vs_naive": 1.6,
             "ratio_vs_naive_per_mb": 1.1}
    results = {
        "throughput": {"chunks": 1000, "files": 160, "bytes": 500_000, "shards": [shard, {**shard, "shard": 1}],
                       "model_load_s": {"newsdesk": 5.0, "encode": 1.0, "naive": 1.0}, "texts_match": True,
                       "ratio_vs_encode": 0.9, "ratio_vs_naive": 1.6, "ratio_vs_naive_per_mb": 1.1,
                       "newsdesk": {"chunks": 1000, "seconds": 22.2, "chunks_per_s": 45.0, "mb_per_s": 0.03,
                                    "shard_chunks_per_s": [45.0, 45.0]},
                       "encode": {"chunks": 1000, "seconds": 20.0, "chunks_per_s": 50.0, "mb_per_s": 0.033,
                                  "shard_chunks_per_s": [50.0, 50.0]},
                       "naive": {"chunks": 700, "seconds": 25.0, "chunks_per_s": 28.0, "mb_per_s": 0.027,
                                 "shard_chunks_per_s": [28.0, 28.0]}},
        "latency": {"questions": 3,
                    "newsdesk_none": {"questions": 3, "latency_ms": {"total": {"median": 300.0}},
                                      "eval": {"fast": {"pass": True}}},
                    "newsdesk_local": {"questions": 3, "latency_ms": {"total": {"median": 900.0, "p95": 6000.0}},
                                       "eval": {"fast": {"pass": True},
                                                "all": {"accuracy": 0.9, "abstention_recall": 0.9}}},
                    "naive_local": {"questions": 3, "latency_ms": {"total": {"median": 1000.0}},
                                    "eval": {"all": {"accuracy": 0.7, "abstention_recall": 0.2}}}},
        "scaling": [{"chunks": 1000, "ingest": {}, "ingest_peak_rss_mb": 900.0,
                     "query": {"latency_ms": {"total": {"median": 400.0}}}},
                    {"chunks": 10000, "ingest": {}, "ingest_peak_rss_mb": 1000.0,
                     "query": {"latency_ms": {"total": {"median": 500.0}}}},
                    {"chunks": 100000, "ingest": {}, "ingest_peak_rss_mb": 2100.0,
                     "query": {"latency_ms": {"total": {"median": 900.0}}}}],
        "cold_start": {"help": {"median_s": 0.3, "runs_s": [0.3, 0.3]}, "question": "Who?",
                       "ask": {"median_s": 9.0, "runs_s": [9.0], "peak_rss_mb": [600.0]}},
        "server": {"overhead": {"questions": 20, "client_overhead_median_s": 0.15, "client_overhead_max_s": 0.5,
                                "client_wall_median_s": 3.1, "in_process_cold_median_s": 10.0,
                                "in_process_cold_runs_s": [10.0]},
                   "memory": {"with_server": {"server": {"rss_mb": 2700.0, "uss_mb": 1500.0}},
                              "in_process": {"slack": {"rss_mb": 2500.0, "uss_mb": 1300.0}},
                              "with_server_total_rss_mb": 2900.0, "in_process_total_rss_mb": 7600.0,
                              "with_server_total_uss_mb": 1600.0, "in_process_total_uss_mb": 3900.0,
                              "rss_ratio": 0.38},
                   "slack": {"questions": 20, "round_trip_median_s": 3.456, "round_trip_p95_s": 5.1,
                             "round_trips_s": [3.456]}},
    }
    results.update(over)
    return results


def test_the_bar_is_checked_with_the_issues_thresholds():
    checks = {c["id"]: c for c in bench.check_bar(_results())}
    assert set(checks) == set(bench.BAR)
    assert checks["ingest_vs_encode"]["pass"] and checks["ingest_vs_encode"]["value"] == 0.9
    assert checks["ingest_vs_naive"]["pass"]
    assert checks["latency_vs_naive"]["pass"] and checks["latency_vs_naive"]["value"] == 0.9
    assert checks["eval_figures_kept"]["pass"] is True
    assert checks["reader_median_s"]["pass"] and checks["reader_p95_s"]["pass"] is False
    assert checks["accuracy_minus_naive"]["pass"] is False and checks["accuracy_minus_naive"]["value"] == 0.2
    assert checks["abstention_recall_minus_naive"]["pass"] and checks["abstention_recall_minus_naive"]["value"] == 0.7
    assert checks["scaling_latency"]["value"] == 2.25 and checks["scaling_latency"]["pass"] is False
    assert checks["scaling_memory"]["value"] == 2.1 and checks["scaling_memory"]["pass"] is False
    assert checks["help_seconds"]["pass"]
    assert checks["server_client_overhead_s"]["pass"] and checks["server_client_overhead_s"]["value"] == 0.15
    assert checks["server_memory_ratio"]["pass"] and checks["server_memory_ratio"]["value"] == 0.38


def test_unmeasured_figures_are_not_applicable_rather_than_failures():
    checks = {c["id"]: c for c in bench.check_bar({"latency": {"questions": 0}, "scaling": []})}
    assert all(c["pass"] is None for c in checks.values())


def _full_results() -> dict:
    results = _results(machine={"cpu": "test"}, bar=bench.check_bar(_results()))
    for e, n in zip(results["scaling"], (1000, 10000, 100000)):
        e.update(target_chunks=n, articles=n // 6, bytes=n * 500, index_mb=n / 100,
                 ingest={"ingest_s": n / 40, "chunks_per_s": 40.0, "phases_s": {"of_which_embed": n / 45,
                                                                               "keyword_index_and_manifest": 1.0}})
        e["query"]["latency_ms"]["retrieve"] = {"median": 20.0, "p95": 30.0}
        e["query"]["latency_ms"]["total"]["p95"] = 2000.0
    return results


def _charts(page: str) -> list[str]:
    return re.findall(r'<svg class="chart" role="img" aria-label="([^"]+)"', page)


def test_report_is_self_contained_html_with_plots():
    page = render(_full_results())
    assert page.lower().startswith("<!doctype html>")
    assert "<script" not in page and not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"url\((?!#)|@import|<link", page) and "http://" not in page and "https://" not in page
    assert "FAIL" in page and "pass" in page
    # every chart the page had before, drawn: throughput, per-stage latency, the four scaling plots
    assert _charts(page) == ["chunks per second (all shards)", "MB of article text per second",
                             "chunks per second, shard by shard", "median latency per stage",
                             "p95 latency per stage", "warm query latency vs corpus size",
                             "ingest time vs corpus size", "ingest peak memory vs corpus size",
                             "index size on disk vs corpus size"]
    assert page.count("<svg") == 9
    scaling = page[page.index('aria-label="warm query latency vs corpus size"'):]
    assert "100,000" in scaling[:scaling.index("</svg>")]  # the x axis names the sizes
    assert "2,900 MB" in page and "7,600 MB" in page  # the server's memory table
    assert "final chat.update" in page and "3.46 s" in page and "p95 5.10 s over 20 questions" in page
    for section in ("The bar", "Ingest throughput", "Warm query latency", "Cold start and memory",
                    "newsdesk serve: one warm process", "Scaling"):
        assert f"{section}" in page


def test_report_of_a_partial_run_draws_what_it_has():
    page = render({"bar": bench.check_bar({}), "cold_start": _results()["cold_start"],
                   "errors": {"scaling": "RuntimeError: <b>boom</b>"}})
    assert _charts(page) == [] and "Cold start and memory" in page and "Scaling (" not in page
    assert "scaling failed: RuntimeError: &lt;b&gt;boom&lt;/b&gt;" in page
    assert page.count("n/a") >= 10


def test_console_tables_match_the_page(capsys):
    from rich.console import Console

    from evals.bench_report import print_tables

    console = Console(width=250, color_system=None)
    print_tables(console, _full_results())
    out = capsys.readouterr().out
    for title in ("Ingest throughput", "Warm query latency over 3 gold questions", "Cold start and memory",
                  "Scaling (synthetic corpora", "The bar"):
        assert title in out
    assert out.index("Scaling (") < out.index("The bar")  # the bar last, as before
    assert "newsdesk serve: one warm process" in out and "3.46 s" in out  # the Slack round trip
    assert "FAIL" in out and "ingest_vs_encode" in out


def test_shards_split_whole_files(tmp_path, corpus_400):
    folder, _ = corpus_400
    shards = bench._shards(folder, tmp_path, 3)
    assert len(shards) == 3
    names = [f.name for s in shards for f in s.glob("*.txt")]
    assert sorted(names) == sorted(f.name for f in folder.glob("*.txt"))
    sizes = [sum(f.stat().st_size for f in s.glob("*.txt")) for s in shards]
    assert max(sizes) < 2 * min(sizes)


def test_run_reports_the_childs_own_peak_memory_and_cpu_time():
    small = bench.run([sys.executable, "-c", "print('hello')"])
    big = bench.run([sys.executable, "-c", "import time; b = bytearray(300 * 1024 * 1024); "
                     "b[::4096] = b'x' * len(b[::4096]); time.sleep(0.3)"])
    busy = bench.run([sys.executable, "-c", "import time; t = time.process_time()\nwhile time.process_time() - t < 0.5: pass"])
    assert small.rc == 0 and small.stdout == "hello\n"
    assert big.peak_rss_mb > 300 and big.peak_rss_mb > small.peak_rss_mb + 200
    assert big.wall_s > 0.3 and busy.cpu_s >= 0.45 and small.cpu_s < busy.cpu_s
    echo = bench.run([sys.executable, "-c", "import sys; print(sys.stdin.read().upper(), end='')"], stdin_text="abc")
    assert echo.stdout == "ABC" and bench.run([sys.executable, "-c", "raise SystemExit(3)"]).rc == 3


def test_bench_help_lists_its_options(capsys):
    with pytest.raises(SystemExit):
        bench.main(["--help"])
    out = capsys.readouterr().out
    for flag in ("--sizes", "--quick", "--skip-llm", "--out", "--max-minutes"):
        assert flag in out


@pytest.mark.slow
def test_one_real_measurement_through_the_workers(tmp_path):
    """Ingest the bundled corpus in a worker process, then ask two questions through a long-lived
    query worker: the protocol the benchmark's every figure goes through."""
    from rich.console import Console

    from evals.runner import load_gold

    b = bench.Bench(None, Console(file=open(tmp_path / "log.txt", "w")), tmp_path)
    home = tmp_path / "home"
    ing = b.ingest(ROOT / "corpus", home, "ingest")
    assert ing["chunks"] > 10 and ing["ingest_s"] > 0 and ing["peak_rss_mb"] > 100 and ing["index_bytes"] > 0
    assert ing["model_load_s"] > 0 and ing["phases_s"]["of_which_embed"] <= ing["ingest_s"] and ing["cpu_s"] > 0
    gold = load_gold(ROOT / "evals" / "gold.jsonl")[:2]
    w = bench.Worker("query", {}, bench.base_env(home), "q")
    try:
        w.start()
        outs = b.interleave({"q": w}, {"q": gold}, 1, "ask")
        closed = w.close()
    finally:
        w.kill()
    assert [o["id"] for o in outs["q"]] == [g["id"] for g in gold]
    summary = bench.latency_summary(outs["q"], {**w.ready, **closed})
    assert summary["latency_ms"]["total"]["n"] == 2 and summary["worker"]["peak_rss_mb"] > 100
    assert summary["worker"]["init_s"] > 0 and summary["worker"]["cpu_s"] > 0
    figures = bench.eval_figures(gold, outs["q"], ROOT / "corpus")
    assert figures["all"]["citation_validity"] == 1.0
    json.dumps(summary)  # results must serialise
    with pytest.raises(RuntimeError, match="worker failed"):  # a worker's traceback reaches the parent
        bench.Worker("ingest", {}, bench.base_env(tmp_path / "h2")).finish()  # no "paths"


def test_server_section_reports_a_process_that_does_not_come_up(tmp_path):
    from evals import bench_server

    with pytest.raises(RuntimeError, match=r"(?s)newsdesk no-such-command did not come up \(exit 2\).*No such command"):
        bench_server._start(["no-such-command"], bench.base_env(tmp_path), tmp_path / "log", "/healthz")


@pytest.mark.slow
def test_slack_round_trips_time_each_mention_to_its_answer(tmp_path, indexed_home):
    """The server section's Slack bot: a real `newsdesk slack --http` (answering in-process with the
    model-free reader) against the fake Web API, each mention timed to an answer, not to an error."""
    from contextlib import closing

    from evals import bench_server

    settings, _ = indexed_home
    env = bench.base_env(settings.home, NEWSDESK_LLM="none")
    questions = ["How long were US diplomats given to leave Venezuela?", "What happened in Caracas?"]
    with closing(bench_server.SlackBot(env, tmp_path / "slack.log")) as bot:
        result = bench_server.round_trips(bot, questions)
        updates = bot.api.of("chat.update")
    assert len(updates) == 2 and all(u.body["blocks"] and u.body["channel"] == "CBENCH" for u in updates)
    assert result["questions"] == 2 and all(0 < t < 60 for t in result["round_trips_s"])
    assert result["round_trip_median_s"] == pytest.approx(sum(result["round_trips_s"]) / 2, abs=6e-3)
    assert result["round_trip_max_s"] == pytest.approx(max(result["round_trips_s"]), abs=6e-3)
    assert bot.proc.poll() is not None  # closed with the fake Web API


def test_carry_scaling_keeps_an_earlier_runs_ingest_sections(tmp_path):
    previous = tmp_path / "results.json"
    previous.write_text(json.dumps({"started_at": "2026-01-01T00:00:00", "steps_s": {"throughput": 9.0},
                                    "throughput": {"chunks": 3}, "scaling": [{"chunks": 1}],
                                    "latency": {"old": True}, "machine": {"git_commit": "abc"}}))
    results = {"steps_s": {}}
    bench.carry_scaling(results, previous, skip_scaling=True)
    assert results["throughput"] == {"chunks": 3} and results["scaling"] == [{"chunks": 1}]
    assert "latency" not in results and results["steps_s"] == {"throughput": 9.0}
    assert results["carried_over"]["from_run_started_at"] == "2026-01-01T00:00:00"
    assert "carried over" in render({**results, "bar": []})
    # carrying again from a file that itself carried keeps the first run's time
    previous.write_text(json.dumps({**results, "started_at": "2026-02-02T00:00:00"}))
    again = {"steps_s": {}}
    bench.carry_scaling(again, previous, skip_scaling=True)
    assert again["carried_over"]["from_run_started_at"] == "2026-01-01T00:00:00"
    with pytest.raises(SystemExit, match="needs --skip-scaling"):
        bench.carry_scaling({"steps_s": {}}, previous, skip_scaling=False)
    with pytest.raises(SystemExit, match="cannot read"):
        bench.carry_scaling({"steps_s": {}}, tmp_path / "missing.json", skip_scaling=True)


def test_base_env_lets_a_section_override_the_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("NEWSDESK_TOP_K", "99")
    monkeypatch.setenv("OPENAI_API_KEY", "secret")
    env = bench.base_env(tmp_path, NEWSDESK_LLM="none", TERM="dumb")
    assert env["NEWSDESK_LLM"] == "none" and env["TERM"] == "dumb" and env["NEWSDESK_HOME"] == str(tmp_path)
    assert "NEWSDESK_TOP_K" not in env and "OPENAI_API_KEY" not in env and env["HF_HUB_OFFLINE"] == "1"
    assert bench.base_env()["NEWSDESK_LLM"] == "local"
