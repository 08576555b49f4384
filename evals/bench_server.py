"""``newsdesk bench``'s ``server`` section: `newsdesk serve` against in-process answering, in one run.

1. Client overhead: `newsdesk ask --json` through the server, wall minus the server's own
   ``timings_ms.total``; between the questions, fresh (cold) in-process `newsdesk ask` runs.
2. Memory: a server plus a Slack bot and two REPLs using it, against the three clients each
   answering in-process; every client has answered once when its memory is read.
3. Slack round trip: the bot using the server gets each question as a signed ``app_mention``
   (Slack's Web API is the fake in tests/slack/slack_fakes.py), timed to its final ``chat.update``.
"""
from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bot.cli"]
SECRET = "bench-secret"


def _start(args: list[str], env: dict, log: Path, health: str, timeout: float = 300):
    """``newsdesk ARGS --port N`` (output in ``log``) once GET ``health`` answers: (process, base URL)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with open(log, "wb") as out:
        proc = subprocess.Popen([*CLI, *args, "--port", str(port)], env=env, cwd=ROOT, stdout=out,
                                stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url + health, timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"newsdesk {args[0]} did not come up (exit {proc.wait()}): "
                                   f"{log.read_text(errors='replace')[-500:]}") from None
            time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _ask(env: dict, question: str) -> tuple[float, dict]:
    """`newsdesk ask --json` in a fresh process: its wall seconds and its answer."""
    started = time.perf_counter()
    out = subprocess.run([*CLI, "ask", "--json", question], env=env, cwd=ROOT, capture_output=True, text=True)
    if out.returncode != 0:
        how = "via the server" if "NEWSDESK_SERVER_URL" in env else "in-process"
        raise RuntimeError(f"newsdesk ask {how} failed: {out.stderr[-500:]}")
    return time.perf_counter() - started, json.loads(out.stdout)


def _mb(proc: subprocess.Popen) -> dict:
    info = psutil.Process(proc.pid).memory_full_info()
    return {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1),
            "pss_mb": round(getattr(info, "pss", 0) / 2**20, 1)}


def overhead(env: dict, url: str, questions: list[str], cold: int, say=print) -> dict:
    """Client wall minus server time per question; cold in-process asks interleaved."""
    rows, cold_s = [], []
    every = max(1, len(questions) // max(1, cold))
    for i, q in enumerate(questions):
        wall, answer = _ask({**env, "NEWSDESK_SERVER_URL": url}, q)
        server_s = answer["timings_ms"]["total"] / 1000
        rows.append({"wall_s": round(wall, 3), "server_s": round(server_s, 3), "overhead_s": round(wall - server_s, 3)})
        if i % every == 0 and len(cold_s) < cold:
            cold_s.append(round(_ask(env, q)[0], 3))
            say(f"  in-process cold ask {len(cold_s)}/{cold}: {cold_s[-1]:.2f} s")
    over, med = [r["overhead_s"] for r in rows], lambda v: round(statistics.median(v), 3)
    return {"questions": len(rows), "client_overhead_median_s": med(over), "client_overhead_max_s": max(over),
            "client_wall_median_s": med([r["wall_s"] for r in rows]), "in_process_cold_median_s": med(cold_s),
            "in_process_cold_runs_s": cold_s, "runs": rows,
            "cold_over_client_overhead": round(med(cold_s) / max(med(over), 1e-3), 1)}


class Repl:
    """`newsdesk chat` on pipes: asks one question and waits for the answer."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([*CLI, "chat"], env={**env, "TERM": "dumb", "COLUMNS": "120"}, cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)

    def ask(self, question: str, timeout: float = 300) -> None:
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        deadline, seen = time.monotonic() + timeout, ""
        while not ("Sources" in seen or "articles don't say" in seen or "Closest" in seen):
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"newsdesk chat gave no answer: {seen[-500:]}")
            seen += line

    def close(self) -> None:
        _stop(self.proc)


class SlackBot:
    """`newsdesk slack --http` against a local fake of Slack's Web API; ``ask`` sends a signed
    app_mention and returns the seconds until the bot's final chat.update arrives."""

    def __init__(self, env: dict, log: Path):
        if str(ROOT / "tests" / "slack") not in sys.path:
            sys.path.insert(0, str(ROOT / "tests" / "slack"))
        import slack_fakes

        self.fakes, self.api, self.asked = slack_fakes, slack_fakes.MockSlackAPI().start(), 0
        env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
        env.update(SLACK_API_URL=self.api.url, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                   NEWSDESK_SLACK_HOST="127.0.0.1", PYTHONUNBUFFERED="1",
                   NEWSDESK_SLACK_RATE="0")  # one asker sends every question: no per-user limit here
        try:
            self.proc, url = _start(["slack", "--http"], env, log, "/healthz")
        except BaseException:
            self.api.stop()
            raise
        self.send = slack_fakes.SlackSender(url + "/slack/events", SECRET)

    def ask(self, question: str, timeout: float = 300) -> float:
        before, self.asked = len(self.api.of("chat.update")), self.asked + 1
        sent = time.monotonic()
        reply = self.send.event(self.fakes.mention(f"<@{self.fakes.BOT_USER}> {question}",
                                                   f"1600000000.{self.asked:06d}", channel="CBENCH"))
        if reply.status != 200:
            raise RuntimeError(f"the Slack bot refused the event: {reply.status} {reply.body[:200]}")
        update = self.api.wait_for("chat.update", count=before + 1, timeout=timeout)[before]
        if not update.body.get("blocks"):  # the bot's error message, not an answer
            raise RuntimeError(f"the Slack bot did not answer {question!r}: {update.body.get('text')}")
        return update.at - sent

    def close(self) -> None:
        _stop(self.proc)
        self.api.stop()


@contextmanager
def _clients(env: dict, question: str, log: Path):
    """A Slack bot and two REPLs, each having answered ``question`` once: yields the bot and their memory."""
    with ExitStack() as stack:
        bot = stack.enter_context(closing(SlackBot(env, log)))
        bot.ask(question)
        repls = [stack.enter_context(closing(Repl(env))) for _ in range(2)]
        for r in repls:
            r.ask(question)
        yield bot, {"slack": _mb(bot.proc), "repl_1": _mb(repls[0].proc), "repl_2": _mb(repls[1].proc)}


def round_trips(bot: SlackBot, questions: list[str]) -> dict:
    """Each question as a mention, timed to the bot's final chat.update. The server has answered
    these questions before (the client runs), so its judge may reuse kept states: a warm figure."""
    from evals.bench import summarize

    trips = [bot.ask(q) for q in questions]
    return {"questions": len(trips), **{f"round_trip_{k}_s": v for k, v in summarize(trips).items()
                                        if k in ("median", "p95", "max")}, "round_trips_s": [round(t, 3) for t in trips]}


def _memory(shared: dict, alone: dict) -> dict:
    def total(group: dict, key: str) -> float:
        return round(sum(v[key] for v in group.values()), 1)

    # PSS shares each page among the processes that map it (the model file is mapped by every loader)
    return {"with_server": shared, "in_process": alone,
            **{f"{side}_total_{key}": total(group, key) for key in ("rss_mb", "uss_mb", "pss_mb")
               for side, group in (("with_server", shared), ("in_process", alone))},
            "rss_ratio": round(total(shared, "rss_mb") / total(alone, "rss_mb"), 3)}


def run(home: Path, questions: list[str], cold: int = 3, say=print, env: dict | None = None) -> dict:
    """The whole section: needs an index in ``home``."""
    env = {k: v for k, v in (env or os.environ).items() if k not in ("NEWSDESK_SERVER_URL", "NEWSDESK_API_KEY")}
    env.update(NEWSDESK_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    work = Path(tempfile.mkdtemp(prefix="newsdesk-bench-server-"))
    with ExitStack() as stack:
        server, url = _start(["serve"], env, work / "server.log", "/v1/health")
        stack.callback(_stop, server)
        client_env = {**env, "NEWSDESK_SERVER_URL": url}
        _ask(client_env, questions[0])  # the server's first question reads the judge's state: not timed
        say(f"  server up at {url}; {len(questions)} questions through `newsdesk ask` as a client")
        over = overhead(env, url, questions, cold, say)
        say(f"  client overhead median {over['client_overhead_median_s']:.3f} s; in-process cold "
            f"ask median {over['in_process_cold_median_s']:.2f} s")
        with _clients(client_env, questions[0], work / "slack-client.log") as (bot, shared):
            shared["server"] = _mb(server)
            slack = round_trips(bot, questions)
        say(f"  Slack mention to final update through the server: median {slack['round_trip_median_s']:.2f} s, "
            f"p95 {slack['round_trip_p95_s']:.2f} s")
        with _clients(env, questions[0], work / "slack-inproc.log") as (_, alone):
            pass
        result = {"overhead": over, "memory": _memory(shared, alone), "slack": slack}
        say(f"  server + Slack bot + 2 REPLs: {result['memory']['with_server_total_rss_mb']:.0f} MB RSS; the three "
            f"clients in-process: {result['memory']['in_process_total_rss_mb']:.0f} MB")
    return result
