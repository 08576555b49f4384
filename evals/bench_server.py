"""`newsdesk serve` against in-process answering, side by side in one run.

1. Client overhead: 20 questions asked with `newsdesk ask --json` and NEWSDESK_SERVER_URL, each
   its wall time minus the server's own ``timings_ms.total``; between them, fresh in-process
   `newsdesk ask` runs (a cold start each: models and index loaded).
2. Memory: one server plus a Slack bot and two REPLs using it, against the same three clients
   each answering in-process (no server). Each client has answered one question when its
   resident memory is read.

    python -m evals.bench_server [--n 20] [--cold 3] [--out evals/out/server]
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
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "bot.cli"]
SECRET = "bench-secret"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, what: str, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not come up (exit {proc.poll()})")
        time.sleep(0.2)


def _mb(proc: subprocess.Popen) -> dict:
    info = psutil.Process(proc.pid).memory_full_info()
    return {"rss_mb": round(info.rss / 2**20, 1), "uss_mb": round(info.uss / 2**20, 1),
            "pss_mb": round(getattr(info, "pss", 0) / 2**20, 1)}


def start_server(env: dict, log: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([*CLI, "serve", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT)

    def up() -> bool:
        try:
            urllib.request.urlopen(url + "/v1/health", timeout=2).close()
            return True
        except OSError:
            return False

    _wait(up, "newsdesk serve", proc)
    return proc, url


def overhead(env: dict, url: str, questions: list[str], cold: int, say=print) -> dict:
    """Client wall minus server time per question; cold in-process asks interleaved."""
    client_env = {**env, "NEWSDESK_SERVER_URL": url}
    rows, cold_s = [], []
    every = max(1, len(questions) // max(1, cold))
    for i, q in enumerate(questions):
        started = time.perf_counter()
        out = subprocess.run([*CLI, "ask", "--json", q], env=client_env, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if out.returncode != 0:
            raise RuntimeError(f"newsdesk ask via the server failed: {out.stderr[-500:]}")
        server_s = json.loads(out.stdout)["timings_ms"]["total"] / 1000
        rows.append({"wall_s": round(wall, 3), "server_s": round(server_s, 3), "overhead_s": round(wall - server_s, 3)})
        if i % every == 0 and len(cold_s) < cold:
            started = time.perf_counter()
            done = subprocess.run([*CLI, "ask", "--json", q], env=env, cwd=ROOT, capture_output=True, text=True)
            if done.returncode != 0:
                raise RuntimeError(f"in-process newsdesk ask failed: {done.stderr[-500:]}")
            cold_s.append(round(time.perf_counter() - started, 3))
            say(f"  in-process cold ask {len(cold_s)}/{cold}: {cold_s[-1]:.2f} s")
    over = [r["overhead_s"] for r in rows]
    result = {"questions": len(rows), "client_overhead_median_s": round(statistics.median(over), 3),
              "client_overhead_max_s": round(max(over), 3),
              "client_wall_median_s": round(statistics.median(r["wall_s"] for r in rows), 3),
              "in_process_cold_median_s": round(statistics.median(cold_s), 3), "in_process_cold_runs_s": cold_s,
              "runs": rows}
    result["cold_over_client_overhead"] = round(result["in_process_cold_median_s"]
                                                / max(result["client_overhead_median_s"], 1e-3), 1)
    return result


class Repl:
    """`newsdesk chat` on pipes: asks one question and waits for the answer."""

    def __init__(self, env: dict):
        self.proc = subprocess.Popen([*CLI, "chat"], env={**env, "TERM": "dumb", "COLUMNS": "120"}, cwd=ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True, bufsize=1)

    def ask(self, question: str, timeout: float = 300) -> None:
        self.proc.stdin.write(question + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        seen = ""
        while not ("Sources" in seen or "articles don't say" in seen or "Closest" in seen):
            line = self.proc.stdout.readline()
            if not line or time.monotonic() > deadline:
                raise RuntimeError(f"newsdesk chat gave no answer: {seen[-500:]}")
            seen += line

    def close(self) -> None:
        try:
            self.proc.stdin.close()
            self.proc.wait(30)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()


def _clients(env: dict, question: str, work: Path, tag: str) -> tuple[list, dict]:
    """A Slack bot (against a local fake of Slack's Web API) and two REPLs, each having answered once."""
    sys.path.insert(0, str(ROOT / "tests" / "slack"))
    from slack_fakes import BOT_USER, MockSlackAPI, SlackSender, mention

    api = MockSlackAPI().start()
    port = _free_port()
    bot_env = {k: v for k, v in env.items() if not k.startswith("SLACK_")}
    bot_env.update(SLACK_API_URL=api.url, SLACK_BOT_TOKEN="xoxb-bench", SLACK_SIGNING_SECRET=SECRET,
                   NEWSDESK_SLACK_HOST="127.0.0.1", PYTHONUNBUFFERED="1")
    log = work / f"slack-{tag}.log"
    bot = subprocess.Popen([*CLI, "slack", "--http", "--port", str(port)], env=bot_env, cwd=ROOT,
                           stdout=open(log, "wb"), stderr=subprocess.STDOUT)
    _wait(lambda: "ready" in log.read_text(errors="replace"), "newsdesk slack", bot)
    SlackSender(f"http://127.0.0.1:{port}/slack/events", SECRET).event(
        mention(f"<@{BOT_USER}> {question}", "1700000000.000100", channel="CBENCH"))
    api.wait_for("chat.update", count=1, timeout=300)
    repls = [Repl(env), Repl(env)]
    for r in repls:
        r.ask(question)
    memory = {"slack": _mb(bot), "repl_1": _mb(repls[0].proc), "repl_2": _mb(repls[1].proc)}

    def stop():
        for r in repls:
            r.close()
        bot.terminate()
        bot.wait(30)
        api.stop()

    return [stop], memory


def memory(env: dict, url: str, question: str, server: subprocess.Popen, work: Path) -> dict:
    stops, shared = _clients({**env, "NEWSDESK_SERVER_URL": url}, question, work, "client")
    shared["server"] = _mb(server)
    for stop in stops:
        stop()
    stops, alone = _clients(env, question, work, "inproc")
    for stop in stops:
        stop()

    def total(group: dict, key: str) -> float:
        return round(sum(v[key] for v in group.values()), 1)

    return {"with_server": shared, "in_process": alone,
            "with_server_total_rss_mb": total(shared, "rss_mb"), "in_process_total_rss_mb": total(alone, "rss_mb"),
            "with_server_total_uss_mb": total(shared, "uss_mb"), "in_process_total_uss_mb": total(alone, "uss_mb"),
            # PSS shares each page among the processes that map it (the model file is mapped by every loader)
            "with_server_total_pss_mb": total(shared, "pss_mb"), "in_process_total_pss_mb": total(alone, "pss_mb"),
            "rss_ratio": round(total(shared, "rss_mb") / total(alone, "rss_mb"), 3)}


def run(home: Path, questions: list[str], cold: int = 3, say=print, env: dict | None = None) -> dict:
    """The whole section (``newsdesk bench``'s ``server``): needs an index in ``home``."""
    env = {k: v for k, v in (env or os.environ).items() if k not in ("NEWSDESK_SERVER_URL", "NEWSDESK_API_KEY")}
    env.update(NEWSDESK_HOME=str(home), HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    work = Path(tempfile.mkdtemp(prefix="newsdesk-bench-server-"))
    server, url = start_server(env, work / "server.log")
    try:
        client = subprocess.run([*CLI, "ask", "--json", questions[0]], env={**env, "NEWSDESK_SERVER_URL": url},
                                cwd=ROOT, capture_output=True, text=True)  # the server's first question reads
        if client.returncode != 0:                                        # the judge's state: not timed
            raise RuntimeError(client.stderr[-500:])
        say(f"  server up at {url}; {len(questions)} questions through `newsdesk ask` as a client")
        result = {"overhead": overhead(env, url, questions, cold, say)}
        say(f"  client overhead median {result['overhead']['client_overhead_median_s']:.3f} s; in-process cold "
            f"ask median {result['overhead']['in_process_cold_median_s']:.2f} s")
        result["memory"] = memory(env, url, questions[0], server, work)
        say(f"  server + Slack bot + 2 REPLs: {result['memory']['with_server_total_rss_mb']:.0f} MB RSS; the three "
            f"clients in-process: {result['memory']['in_process_total_rss_mb']:.0f} MB")
    finally:
        server.terminate()
        server.wait(30)
    return result


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="questions asked through the server (default 20)")
    parser.add_argument("--cold", type=int, default=3, help="in-process cold `newsdesk ask` runs (default 3)")
    parser.add_argument("--gold", type=Path, default=ROOT / "evals" / "gold.jsonl")
    parser.add_argument("--tag", default="fast", help="gold questions with this tag (default fast)")
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--out", type=Path, default=ROOT / "evals" / "out" / "server")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in args.gold.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = [r["question"] for r in rows if args.tag in r.get("tags", [])][:args.n]
    home = Path(tempfile.mkdtemp(prefix="newsdesk-bench-server-home-"))
    subprocess.run([*CLI, "ingest", str(args.corpus.resolve())], env={**os.environ, "NEWSDESK_HOME": str(home)},
                   cwd=ROOT, check=True, capture_output=True)
    result = run(home, questions, args.cold)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "server_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result["overhead"].items() if k != "runs"}, indent=2))
    print(json.dumps({k: v for k, v in result["memory"].items() if "total" in k or "ratio" in k}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
