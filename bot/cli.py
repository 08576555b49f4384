"""newsdesk's command line: ingest / ask / chat / eval / slack / feedback.

Heavy libraries (torch, chromadb, langchain) are imported inside the commands that need
them, so `newsdesk --help` is instant.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional, Tuple

import typer
from rich.console import Console

from retrieval.errors import NewsdeskError

app = typer.Typer(
    help="newsdesk answers questions from a folder of news articles, citing the exact passages it used, "
         "and says so when the articles do not hold the answer.\n\n"
         "Start with `newsdesk ingest corpus/`, then `newsdesk chat` or `newsdesk ask \"...\"`. "
         "Settings are environment variables (NEWSDESK_HOME, NEWSDESK_LLM, ...): see README.md.",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)
SKIPPED_EXIT = 3


def _settings():
    from retrieval.config import Settings

    return Settings.from_env()


def _fail(exc: Exception) -> None:
    err.print(f"[red]error:[/red] {exc}", highlight=False)
    raise typer.Exit(getattr(exc, "exit_code", 1))


def _run_ingest(paths: list[Path], rebuild: bool = False, quiet: bool = False, settings=None):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from retrieval.ingest import ingest

    settings = settings or _settings()
    with Progress(TextColumn("embedding chunks"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True, disable=quiet) as bar:
        task = bar.add_task("embed", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = ingest(paths, settings, progress=progress, rebuild=rebuild)
    for path, reason in report.skipped:
        err.print(f"[yellow]skipped[/yellow] {path}: {reason}", highlight=False)
    if not quiet:
        console.print(f"Indexed {report.root}: {report.files} files ({report.documents} articles); chunks "
                      f"{report.chunks_added} added, {report.chunks_removed} removed, {report.chunks_unchanged} "
                      f"unchanged{_cached(report)}; {len(report.skipped)} skipped; {report.seconds:.1f}s. Index: {settings.home}/")
    return report


def _cached(report) -> str:
    return f" ({report.chunks_reused} from cached embeddings)" if report.chunks_reused else ""


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


@app.command()
def ingest(
    paths: List[Path] = typer.Argument(None, help="Files or folders of articles (.txt .md .html .json .jsonl). "
                                                  "Default: $NEWSDESK_CORPUS (corpus/)."),
    rebuild: bool = typer.Option(False, "--rebuild", help="Drop the index and embed everything again."),
) -> None:
    """Load, clean, chunk and embed articles into the index (incremental: unchanged files cost nothing).

    The index mirrors the given folder: changed files are re-embedded, removed files are dropped.
    Exit code 0 when every file was ingested, 3 when some were skipped (each with a reason)."""
    try:
        report = _run_ingest(list(paths or [_settings().corpus]), rebuild=rebuild)
    except NewsdeskError as exc:
        _fail(exc)
    if report.skipped:
        raise typer.Exit(SKIPPED_EXIT)


def _parse_history(raw: Optional[str]) -> list[list[str]]:
    if not raw:
        return []
    try:
        data = json.loads(raw)
        assert isinstance(data, list) and all(isinstance(t, list) and len(t) >= 2 for t in data)
        return [[str(t[0]), str(t[1])] for t in data]
    except (ValueError, AssertionError):
        raise typer.BadParameter('--history must be a JSON list of [question, answer] pairs, '
                                 'e.g. \'[["Who is Guaido?", "The opposition leader."]]\'') from None


@app.command()
def ask(
    question: str = typer.Argument(..., help="The question, in quotes."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of text."),
    history: Optional[str] = typer.Option(None, "--history", help="Earlier turns: JSON list of [question, answer]."),
) -> None:
    """Answer one question from the indexed articles, with numbered, verified sources."""
    turns = _parse_history(history)
    if not question.strip():
        _fail(NewsdeskError("The question is empty: ask something, e.g. newsdesk ask \"Who is Juan Guaido?\""))
    try:
        from retrieval.pipeline import get_pipeline

        with err.status("searching the articles...", spinner="dots") if not as_json else _null():
            answer = get_pipeline().ask(question, turns)
    except NewsdeskError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), ensure_ascii=False) + "\n")
    else:
        from bot.render import print_answer

        print_answer(console, answer)


@app.command()
def chat() -> None:
    """Open a conversation (REPL): ask questions, follow up, :sources, :reset, :help, :quit."""
    from bot.repl import run_repl

    try:
        run_repl(console)
    except NewsdeskError as exc:
        _fail(exc)


@app.command("eval")
def eval_cmd(
    gold: Path = typer.Option(Path("evals/gold.jsonl"), "--gold", help="Gold questions (JSON Lines)."),
    out: Path = typer.Option(Path("evals/out"), "--out", help="Folder for answers.jsonl, metrics.json, report.html."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="Ingest this folder into a throwaway index under "
                                          "--out and evaluate against it (default: the current index)."),
    baseline: Optional[str] = typer.Option(None, "--baseline", help="Also run a baseline side by side: 'naive' "
                                           "(plain LangChain RAG; needs the dev extra)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Only gold questions with this tag (e.g. 'fast')."),
    compare: Optional[Tuple[Path, Path]] = typer.Option(None, "--compare", metavar="DIR_A DIR_B",
                                                        help="Compare two eval output folders and exit."),
) -> None:
    """Answer every gold question and score the answers: retrieval, accuracy, citations, abstention, latency.

    Writes OUT/answers.jsonl, OUT/metrics.json and a self-contained OUT/report.html.
    With --compare A B, prints every metric of two earlier runs side by side instead."""
    try:
        if compare:
            from evals.compare import compare as compare_dirs, print_compare

            for d in compare:
                if not (d / "metrics.json").exists():
                    raise NewsdeskError(f"{d} has no metrics.json; give two folders written by `newsdesk eval --out`.")
            print_compare(compare_dirs(*compare), console)
            return
        if corpus is not None and _settings().server_url:
            raise NewsdeskError("--corpus evaluates on a throwaway index in this process, but NEWSDESK_SERVER_URL "
                                "sends questions to a server with its own index: unset NEWSDESK_SERVER_URL, or "
                                "start the server on that corpus (`newsdesk serve --corpus DIR`) and drop --corpus.")
        from evals.runner import run_eval

        def ingest(paths, settings):
            report = _run_ingest(paths, settings=settings)
            if report.skipped:
                err.print(f"[yellow]{len(report.skipped)} files skipped[/yellow]; evaluating on the rest.")

        run_eval(gold, out, console, corpus=corpus, baseline=baseline, tag=tag, ingest=ingest)
    except NewsdeskError as exc:
        _fail(exc)


@app.command()
def slack(
    http: bool = typer.Option(False, "--http", help="Serve the Events API over HTTP instead of Socket Mode."),
    port: int = typer.Option(3000, "--port", help="Port for --http."),
) -> None:
    """Run the Slack bot (Socket Mode by default; --http for the Events API). See README 'Slack'."""
    from bot.slack.main import run

    try:
        run(http=http, port=port)
    except NewsdeskError as exc:
        _fail(exc)


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host",
                             help="Address to bind. Anything but loopback needs NEWSDESK_API_KEY."),
    port: int = typer.Option(8400, "--port", help="TCP port."),
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="The folder POST /v1/ingest re-indexes (and that is "
                                          "indexed first if there is no index). Default: the folder the index was "
                                          "built from, else $NEWSDESK_CORPUS."),
    allow_ingest: bool = typer.Option(False, "--allow-ingest", help="Enable POST /v1/ingest (re-index --corpus)."),
) -> None:
    """Serve newsdesk over HTTP: one warm process for every client (see README 'HTTP API').

    POST /v1/ask, POST /v1/chat/completions (OpenAI-compatible, streaming), GET /v1/health, GET /docs.
    Point clients at it with NEWSDESK_SERVER_URL=http://127.0.0.1:8400."""
    from bot.server import serve as run_server

    try:
        run_server(host, port, corpus=corpus, allow_ingest=allow_ingest,
                   say=lambda m: err.print(m, highlight=False, soft_wrap=True))
    except NewsdeskError as exc:
        _fail(exc)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def bench(ctx: typer.Context) -> None:
    """Measure ingest throughput, query latency, cold start, scaling and memory (see README 'Benchmark').

    Options are passed to evals/bench.py: run `newsdesk bench --help-bench` to list them."""
    from evals.bench import main as bench_main

    args = ["--help" if a == "--help-bench" else a for a in ctx.args]
    raise typer.Exit(bench_main(args))


@app.command()
def feedback(limit: int = typer.Option(50, "--limit", help="How many, newest first.")) -> None:
    """List the helpful / not helpful clicks from Slack."""
    from bot.slack.feedback import print_feedback

    print_feedback(limit=limit)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
