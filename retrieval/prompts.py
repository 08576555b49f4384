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
