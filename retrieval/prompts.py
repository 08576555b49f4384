"""Prompt templates live in ``prompts/`` as text files, one per job, loaded by name."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    path = PROMPTS_DIR / f"{name}.txt"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.txt")))
        raise FileNotFoundError(f"No prompt named {name!r} in {PROMPTS_DIR} (known: {known}).")
    return path.read_text(encoding="utf-8")


@lru_cache(maxsize=None)
def load_examples(name: str) -> tuple[tuple[str, str], ...]:
    """Worked examples as chat turns: blocks separated by a line ``===``, each a user message,
    a line ``---``, and the assistant's reply."""
    turns: list[tuple[str, str]] = []
    for block in load_prompt(name).split("\n===\n"):
        user, sep, reply = block.partition("\n---\n")
        if not sep:
            raise ValueError(f"Prompt {name!r}: an example has no '---' line between question and reply.")
        turns += [("user", user.strip()), ("assistant", reply.strip())]
    return tuple(turns)
