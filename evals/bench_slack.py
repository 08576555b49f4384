"""Slack round trip against in-process answering, measured side by side in one run.

Starts ``newsdesk slack --http`` as a real process against a local server that plays
Slack's Web API (the one the tests use), sends signed ``app_mention`` events for N gold
questions one at a time, and times each from the moment the event is sent to the moment
the bot's final ``chat.update`` arrives. The same questions are then answered by the
same pipeline in this process. Writes ``OUT/slack_bench.json`` and the Block Kit JSON
of the first answer to ``OUT/slack_blocks.json``.

    python -m evals.bench_slack [--n 20] [--out evals/out/slack]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "slack"))

from slack_fakes import BOT_USER, MockSlackAPI, SlackSender, mention  # noqa: E402

from evals.bench_server import CLI, SECRET, _free_port, _wait  # noqa: E402


def _summary(seconds: list[float]) -> dict:
    from evals.bench import summarize

    return {"n": len(seconds), **{f"{k}_ms": v for k, v in summarize([s * 1000 for s in seconds]).items()
                                  if k in ("median", "p95", "min", "max")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="questions to time (default 20)")
    parser.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "out" / "slack")
    args = parser.parse_args(argv)
    from evals.runner import load_gold

    # the first N answerable single-turn gold questions (the metric is latency, not accuracy)
    questions = [r["question"] for r in load_gold(args.gold) if r["type"] != "unanswerable" and not r.get("history")]
    questions = questions[:args.n]
    args.out.mkdir(parents=True, exist_ok=True)

    work = Path(tempfile.mkdtemp(prefix="newsdesk-bench-slack-"))
    home = work / "home"
    api = MockSlackAPI().start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLACK_")}
    env.update(NEWSDESK_HOME=str(home), SLACK_API_URL=api.url, SLACK_BOT_TOKEN="xoxb-bench",
               SLACK_SIGNING_SECRET=SECRET, NEWSDESK_SLACK_HOST="127.0.0.1", PYTHONUNBUFFERED="1",
               NEWSDESK_SLACK_RATE="0")  # one asker sends every question: no per-user limit here
    subprocess.run([*CLI, "ingest", str(args.corpus.resolve())], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    port, log = _free_port(), work / "bot.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([*CLI, "slack", "--http", "--port", str(port)], env=env, cwd=ROOT,
                                stdout=out, stderr=subprocess.STDOUT)
    slack_s: list[float] = []
    first_blocks = None
    try:
        try:
            _wait(lambda: "ready" in log.read_text(errors="replace"), "the Slack bot", proc)
        except RuntimeError as exc:
            raise SystemExit(f"{exc}:\n{log.read_text(errors='replace')}") from None
        send = SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET)
        # one untimed question so both sides are measured warm
        send.event(mention(f"<@{BOT_USER}> {questions[0]}", "1699999999.000001", channel="CWARM"))
        api.wait_for("chat.update", count=1, timeout=120)
        for i, q in enumerate(questions):
            before = len(api.of("chat.update"))
            sent = time.monotonic()
            send.event(mention(f"<@{BOT_USER}> {q}", f"1700000{i:03d}.000100", channel="CBENCH"))
            update = api.wait_for("chat.update", count=before + 1, timeout=120)[before]
            slack_s.append(update.at - sent)
            if first_blocks is None:
                first_blocks = {"question": q, "text": update.body["text"], "blocks": update.body["blocks"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        api.stop()

    os.environ["NEWSDESK_HOME"] = str(home)
    from retrieval.pipeline import get_pipeline

    pipeline = get_pipeline()
    pipeline.ask(questions[0])
    inproc_s = []
    for q in questions:
        t = time.perf_counter()
        pipeline.ask(q)
        inproc_s.append(time.perf_counter() - t)

    result = {"slack_event_to_final_update": _summary(slack_s), "in_process_ask": _summary(inproc_s)}
    result["ratio_median"] = round(result["slack_event_to_final_update"]["median_ms"]
                                   / result["in_process_ask"]["median_ms"], 2)
    (args.out / "slack_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    (args.out / "slack_blocks.json").write_text(json.dumps(first_blocks, indent=2, ensure_ascii=False) + "\n")
    print(f"{'':32}{'median ms':>10}{'p95 ms':>10}")
    for name in ("slack_event_to_final_update", "in_process_ask"):
        print(f"{name:32}{result[name]['median_ms']:>10}{result[name]['p95_ms']:>10}")
    print(f"ratio of medians: {result['ratio_median']}  (n={len(questions)}; written to {args.out})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
