"""Answers phrased by an LLM, kept only where they verify.

The LLM sees numbered passages and must return JSON with quotes copied from them. Each
quote is located in its passage (exact text, so the offsets are exact); a sentence of the
LLM's answer survives only if it cites a located quote and its content words are found in
that quote; the short answer survives only if a located quote contains it. Anything else
the model says is dropped. If nothing survives, the extractive answer is used.
"""
from __future__ import annotations

import json
import re

from retrieval.answer import Draft, Sentence
from retrieval.errors import BackendError
from retrieval.guard import OMITTED, is_instruction
from retrieval.prompts import load_prompt
from retrieval.search import fold, terms
from retrieval.types import Passage

SUPPORT = 0.6  # share of a claim's content words that must appear in the quotes it cites


def _json_object(text: str) -> dict | None:
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _locate(quote: str, passage: Passage) -> tuple[int, int] | None:
    quote = quote.strip().strip('"').strip()
    if len(quote) < 8 or is_instruction(quote):
        return None
    i = passage.text.find(quote)
    if i < 0:
        return None
    return passage.start + i, passage.start + i + len(quote)


def _as_data(text: str) -> str:
    """Passage text for the prompt: sentences addressed to an assistant are blanked (guard.py)."""
    from retrieval.chunking import sentence_spans

    out, last = [], 0
    for a, b in sentence_spans(text, 0, len(text)):
        if is_instruction(text[a:b]):
            out += [text[last:a], OMITTED]
            last = b
    return "".join(out + [text[last:]])


LLM_PASSAGES = 5  # the best few passages keep the prompt short enough for small local models


def llm_draft(generator, question: str, passages: list[Passage], fallback: Draft) -> Draft:
    passages = passages[:LLM_PASSAGES]
    numbered = "\n\n".join(f"[{i + 1}] ({p.title}) {_as_data(p.text)}" for i, p in enumerate(passages))
    try:
        reply = generator.generate(load_prompt("answer_system"),
                                   load_prompt("answer_user").format(passages=numbered, question=question))
    except BackendError as exc:
        fallback.notes.append(f"{exc} Showing the extractive answer instead.")
        return fallback
    data = _json_object(reply)
    if data is None:
        fallback.notes.append("The LLM's reply was not valid JSON; showing the extractive answer instead.")
        return fallback
    if str(data.get("answer", "")).strip().upper().startswith("NOT IN ARTICLES"):
        return Draft(abstained=True, notes=["the LLM found no answer in the passages"])
    located: dict[int, Sentence] = {}  # LLM passage number -> located quote
    for q in data.get("quotes") or []:
        if not isinstance(q, dict):
            continue
        try:
            n = int(q.get("n"))
        except (TypeError, ValueError):
            continue
        if not 1 <= n <= len(passages) or n in located:
            continue
        p = passages[n - 1]
        span = _locate(str(q.get("quote", "")), p)
        if span:
            text = p.text[span[0] - p.start: span[1] - p.start]
            located[n] = Sentence(p.source, p.title, span[0], span[1], text, n - 1, text)
    if not located:
        fallback.notes.append("No quote from the LLM matched the articles; showing the extractive answer instead.")
        return fallback
    order = list(located)
    kept = []
    for claim in re.split(r"(?<=[.!?\]])\s+", str(data.get("answer", "")).strip()):
        refs = [int(m) for m in re.findall(r"\[(\d+)\]", claim) if int(m) in located]
        body = re.sub(r"\[\d+\]", "", claim).strip()
        if not refs or not body:
            continue
        words = set(terms(body))
        have = set().union(*(terms(located[r].text) for r in refs))
        if words and len(words & have) / len(words) >= SUPPORT:
            kept.append((body, refs))
    if not kept:
        fallback.notes.append("The LLM's claims were not supported by its quotes; showing the extractive answer instead.")
        return fallback
    used = sorted({r for _, refs in kept for r in refs}, key=order.index)
    index = {r: i for i, r in enumerate(used)}
    template = " ".join(body.replace("{", "{{").replace("}", "}}") + " " + " ".join(f"[{{{index[r]}}}]" for r in refs)
                        for body, refs in kept)
    short = data.get("short_answer")
    short = str(short).strip() if short not in (None, "", "null") else None
    if short and not any(fold(short) in fold(located[r].text) for r in used):
        short = None
    return Draft(abstained=False, short_answer=short, parts=[located[r] for r in used], template=template,
                 notes=["phrased by the LLM; every citation verified"], ids_only=True)
