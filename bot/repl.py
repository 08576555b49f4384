"""`newsdesk chat`: a conversation in the terminal.

With a terminal, prompt_toolkit gives line editing and a persistent history
($NEWSDESK_HOME/chat_history); when input is piped (tests, scripts) lines are read plainly.
"""
from __future__ import annotations

import logging
import sys

from rich.console import Console
from rich.markup import escape

from retrieval.errors import NewsdeskError

log = logging.getLogger("newsdesk.chat")

HELP = """Ask a question about the articles; follow-ups ("How old is he?") use the conversation.
Commands:
  :sources   full text of the passages behind the last answer
  :reset     forget the conversation
  :help      this text
  :quit      leave (also Ctrl-D)"""


def _reader(console: Console, home):
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.history import FileHistory

        home.mkdir(parents=True, exist_ok=True)
        session = PromptSession(history=FileHistory(str(home / "chat_history")))
        return lambda: session.prompt("you> ")

    def read() -> str:
        console.print("you> ", end="")
        line = sys.stdin.readline()
        if not line:
            raise EOFError
        return line.rstrip("\n")

    return read


def run_repl(console: Console) -> None:
    from bot.render import print_answer, print_sources
    from retrieval.config import Settings
    from retrieval.pipeline import get_pipeline

    settings = Settings.from_env()
    with console.status("loading models and the index...", spinner="dots"):
        pipeline = get_pipeline(settings)
    info = pipeline.info()
    where = f" (server {settings.server_url})" if settings.server_url else ""
    console.print(f"newsdesk: {info['index']['chunks']} passages from {info['index']['corpus_root']}. "
                  f"Backend: {info['backend']}{where}. Type :help for commands.")
    read = _reader(console, settings.home)
    history: list[list[str]] = []
    last = None
    while True:
        try:
            line = read().strip()
        except (EOFError, KeyboardInterrupt):
            console.print()
            return
        if not line:
            continue
        if line.startswith(":"):
            cmd = line.split()[0].lower()
            if cmd in (":quit", ":q", ":exit"):
                return
            if cmd == ":help":
                console.print(HELP)
            elif cmd == ":reset":
                history, last = [], None
                console.print("Conversation cleared.")
            elif cmd == ":sources":
                print_sources(console, last)
            else:
                console.print(f"Unknown command {cmd}. {HELP}")
            continue
        try:
            with console.status("searching the articles...", spinner="dots"):
                answer = pipeline.ask(line, history)
        except KeyboardInterrupt:
            console.print("[yellow]Cancelled.[/yellow] Ask again, or :quit.")
            continue
        except NewsdeskError as exc:  # e.g. an empty question, or the Chroma server went away
            console.print(f"[red]{escape(str(exc))}[/red]")
            continue
        except Exception as exc:  # never lose the session to one bad question
            log.exception("question failed: %r", line[:200])
            console.print(f"[red]That question could not be answered ({type(exc).__name__}). "
                          "Try rephrasing it; the session continues.[/red]")
            continue
        last = answer
        print_answer(console, last)
        history.append([line, last.short_answer or last.answer])
        history = history[-6:]
