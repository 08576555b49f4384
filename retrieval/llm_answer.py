"""Answers phrased by an LLM, kept only where they verify.

The LLM never sees whole passages. It gets the few sentences the extractive step ranked
best (its chosen sentences first), numbered, and writes one or two sentences citing them
by number. Nothing it writes is trusted:

- a claim survives only if every content word and every number in it occurs in the
  sentences it cites, and it does not add a negation they lack; a claim without a marker
  is credited to the one sentence that supports it alone, if there is one;
- citations are the cited sentences themselves, so their offsets are exact;
- when the extractive step found the answer itself (a name, number or date), the LLM's
  text must contain it, and it stays the short answer.

If nothing survives, the verified extractive answer is shown with a note. Drafts that
report disagreeing sources, or compose one answer from two sentences, stay extractive:
those are exactly the cases a small model flattens.

Sending sentences rather than passages keeps the prompt to a few hundred tokens and the
reply to a line, which is what makes a small local model usable on a CPU.
"""
from __future__ import annotations

import re

from retrieval.answer import MAX_WORDS, Draft, Sentence
from retrieval.errors import BackendError
from retrieval.prompts import load_prompt
from retrieval.search import QUERY_STOPWORDS, fold, terms, words_of

NOT_FOUND = "NOT IN ARTICLES"
NEGATION_RE = re.compile(r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|n't)\b|n't\b", re.IGNORECASE)
NUMBER_RE = re.compile(r"\d[\d,.]*\d|\d")
MAX_CLAIMS = 3


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in NUMBER_RE.findall(text)}


# Verbs of attribution stand for one another: "X reported that ..." restates "..., X said."
REPORTING = frozenset(terms("say says said report reported tell told state stated announce announced "
                            "add added claim claimed"))


def supported(claim: str, evidence: list[str]) -> bool:
    """Every content word and number of ``claim`` occurs in ``evidence`` (verbs of attribution
    count as one word), and a negation in the claim is matched by one there."""
    words = set(terms(" ".join(w for w in words_of(claim) if w not in QUERY_STOPWORDS)))
    if not words:
        return False
    joined = " ".join(evidence)
    have = set(terms(joined))
    if have & REPORTING:
        have |= REPORTING
    if not words <= have or not _numbers(claim) <= _numbers(joined):
        return False
    return not NEGATION_RE.search(claim) or bool(NEGATION_RE.search(joined))


def _claims(reply: str) -> list[tuple[str, list[int]]]:
    """(text without markers, cited numbers) for each sentence of the reply."""
    reply = reply.strip().split("\n\n")[0]  # small models ramble on after a blank line
    out = []
    for piece in re.split(r"(?<=[.!?\]])\s+", reply):
        refs = [int(m) for m in re.findall(r"\[(\d+)\]", piece)]
        body = re.sub(r"\s*\[[\d,\s]*\]", "", piece).strip().strip('"').strip()
        if body:
            out.append((body, refs))
    return out


def llm_draft(generator, question: str, draft: Draft) -> Draft:
    """The LLM's phrasing of ``draft`` where every claim verifies; else ``draft`` with a note."""
    if draft.abstained or not draft.evidence or "sources disagree" in draft.notes or draft.short_parts:
        return draft
    evidence: list[Sentence] = draft.evidence
    numbered = "\n".join(f"[{i + 1}] ({s.title}) {' '.join(s.text.split())}" for i, s in enumerate(evidence))
    try:
        reply = generator.generate(load_prompt("answer_system"),
                                   load_prompt("answer_user").format(sentences=numbered, question=question))
    except BackendError as exc:
        draft.notes.append(f"{exc} Showing the extractive answer instead.")
        return draft
    if reply.strip().upper().startswith(NOT_FOUND):
        return Draft(abstained=True, notes=["the LLM found no answer in the evidence"])
    kept: list[tuple[str, list[int]]] = []
    for body, refs in _claims(reply)[:MAX_CLAIMS]:
        refs = [r for r in dict.fromkeys(refs) if 1 <= r <= len(evidence)]
        if refs and supported(body, [evidence[r - 1].text for r in refs]):
            kept.append((body, refs))
            continue
        alone = [i + 1 for i, s in enumerate(evidence) if supported(body, [s.text])]
        if alone:  # no marker, or the wrong one: credit the best-ranked sentence that supports it alone
            kept.append((body, alone[:1]))
    if not kept:
        draft.notes.append("The LLM's answer was not supported word for word by the articles; "
                           "showing the extractive answer instead.")
        return draft
    short = draft.short_answer
    if short and not any(fold(short) in fold(body) for body, _ in kept):
        draft.notes.append(f"The LLM's answer left out what the articles say ({short}); "
                           "showing the extractive answer instead.")
        return draft
    while len(kept) > 1 and sum(len(b.split()) for b, _ in kept) > MAX_WORDS:
        kept.pop()
    used = list(dict.fromkeys(r for _, refs in kept for r in refs))
    index = {r: i for i, r in enumerate(used)}
    pieces = []
    for body, refs in kept:
        end = body[-1] if body[-1] in ".!?" else "."
        body = body.rstrip(".!? ").replace("{", "{{").replace("}", "}}")
        pieces.append(body + " " + " ".join(f"[{{{index[r]}}}]" for r in refs) + end)
    template = " ".join(pieces)
    parts = [evidence[r - 1] for r in used]
    if short and not any(fold(short) in fold(p.text) for p in parts):
        short = None
    return Draft(abstained=False, short_answer=short, parts=parts, template=template,
                 notes=draft.notes + ["phrased by the LLM; every claim checked against the sentences it cites"],
                 ids_only=True)
