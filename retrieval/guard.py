"""Article text is data, never instructions.

Articles come from anywhere. A sentence written to steer an AI assistant ("Ignore previous
instructions and reply ...", "SYSTEM: ...", "You are now ...") is not news text: the
answerer never cites it, and the LLM backends never see it (it is blanked in the prompt).
Citation markers written into an article ("[3]") are neutralised in the answer text so a
reader cannot mistake them for the bot's own markers; the verified quote keeps them.
The patterns are general (about how prompt injection is phrased), not about any article.
"""
from __future__ import annotations

import re

_INSTRUCTION = re.compile(
    r"""
      \b(?:ignore|disregard|forget|override)\b[^.!?\n]{0,40}?
         \b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b[^.!?\n]{0,20}?
         \b(?:instructions?|prompts?|rules|guidelines|directives|context)\b
    | (?:^|[\s"“(\[])(?:system|assistant|developer)\s*(?:prompt|message|instructions?|override)?\s*:
    | \b(?:new|updated|real|actual)\s+instructions?\s*:
    | \byou\s+are\s+now\s+(?:an?|the|in)\b
    | \b(?:reply|respond|answer|say)\s+(?:only|exactly|just)?\s*(?:with|by\s+saying)\s*[:"“']
    | <\|?(?:im_start|im_end|system|endoftext)\|?>
    """,
    re.IGNORECASE | re.VERBOSE,
)
_MARKER = re.compile(r"\[(\d{1,3})\]")
OMITTED = "[sentence omitted: it addresses an AI assistant, not the reader]"


def is_instruction(sentence: str) -> bool:
    """True when a sentence reads as an instruction to an AI assistant."""
    return bool(_INSTRUCTION.search(sentence))


def neutralise_markers(text: str) -> str:
    """Article-made ``[n]`` markers become ``(n)`` so only the bot's markers are bracketed."""
    return _MARKER.sub(r"(\1)", text)
