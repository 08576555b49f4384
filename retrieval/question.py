"""What a question must look like before it reaches the chain.

Questions come from anyone (a terminal, a Slack channel): control characters are removed,
whitespace is collapsed, and very long questions are cut to ``max_chars`` with a note
the user sees. An empty question is an error that says what to do; a question with no
letters or digits gets a polite reply instead of a search.
"""
from __future__ import annotations

import re
import unicodedata

from retrieval.errors import NewsdeskError

_ANSI = re.compile(r"\x1b(?:\[[0-9;?]*[ -/]*[@-~]|[@-Z\\-_])")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class EmptyQuestion(NewsdeskError):
    pass


def prepare(question: str, max_chars: int) -> tuple[str, list[str]]:
    """(clean question, user-facing notes). Raises EmptyQuestion when nothing is left."""
    text = unicodedata.normalize("NFC", question or "")
    text = " ".join(_CONTROL.sub("", _ANSI.sub("", text)).split())
    if not text:
        raise EmptyQuestion("The question is empty: ask something about the articles, e.g. “Who is Juan Guaido?”")
    notes = []
    if len(text) > max_chars:
        cut = text[:max_chars]
        cut = cut.rsplit(" ", 1)[0] if " " in cut[max_chars // 2:] else cut
        notes.append(f"The question was {len(text):,} characters long; only its first {len(cut):,} were used.")
        text = cut
    return text, notes


def has_words(text: str) -> bool:
    """True when the text has at least one letter or digit (in any script)."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in text)
