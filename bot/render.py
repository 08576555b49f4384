"""Terminal rendering of an Answer (used by `ask` and `chat`)."""
from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from retrieval.types import Answer


def snippet(text: str, limit: int = 240) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut + " …"


def print_answer(console: Console, answer: Answer, full: bool = False) -> None:
    style = "yellow" if answer.abstained else "bold"
    console.print(Text(answer.answer, style=style))
    for note in answer.notes:
        if note.startswith(("The ", "No quote", "LLM")):
            console.print(Text(f"note: {note}", style="dim"))
    if answer.citations:
        console.print()
        console.print("[bold]Sources[/bold]")
        for c in answer.citations:
            console.print(f"  [cyan][{c.id}][/cyan] {escape(c.title)} [dim]({escape(c.source)}, chars {c.start}-{c.end})[/dim]")
            console.print(Text(f"      “{c.quote}”", style="green"))
    elif answer.abstained and answer.passages:
        console.print()
        console.print("[bold]Closest passages[/bold]")
        for i, p in enumerate(answer.passages[:3], 1):
            console.print(f"  {i}. {escape(p.title)} [dim]({escape(p.source)}, chars {p.start}-{p.end})[/dim]")
            console.print(Text(f"      {p.text if full else snippet(p.text)}", style="dim"))


def print_sources(console: Console, answer: Answer | None) -> None:
    if answer is None:
        console.print("No answer yet: ask a question first.")
        return
    console.print(f"[bold]Passages retrieved for[/bold] “{escape(answer.standalone_question)}”")
    for i, p in enumerate(answer.passages, 1):
        console.print(f"\n[cyan]{i}.[/cyan] {escape(p.title)} [dim]({escape(p.source)}, chars {p.start}-{p.end}, "
                      f"score {p.score:.4f})[/dim]")
        console.print(Text(p.text))
