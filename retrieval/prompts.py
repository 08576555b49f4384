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
def load_records(name: str) -> tuple[dict[str, str], ...]:
    """Records of ``field: value`` lines, separated by a line ``===`` (``#`` lines are comments)."""
    records = []
    for block in load_prompt(name).split("\n===\n"):
        lines = [line for line in block.splitlines() if line.strip() and not line.startswith("#")]
        record = {}
        for line in lines:
            key, sep, value = line.partition(":")
            if not sep:
                raise ValueError(f"Prompt {name!r}: the line {line!r} is not 'field: value'.")
            record[key.strip()] = value.strip()
        if record:
            records.append(record)
    return tuple(records)
