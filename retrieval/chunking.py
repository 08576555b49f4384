"""Sentence splitting and chunking. Every span is a pair of offsets into the document's
canonical text, so ``text[start:end]`` always gives back the chunk or sentence.

Both run in linear time on any input (a 20 MB line with no punctuation, or thousands of
"?" inside an unclosed quotation), and no chunk is longer than ``target_chars``: a
"sentence" longer than that is cut at a space (or, with none, anywhere)."""
from __future__ import annotations

import hashlib
import re

from retrieval.types import Chunk, Document

# Tokens ending in "." that do not end a sentence.
ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "gov", "sen", "rep", "lt", "col", "capt", "sgt",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "no", "vs", "etc", "inc",
    "ltd", "co", "corp", "dept", "est", "approx", "fig", "al", "e.g", "i.e", "a.m", "p.m", "u.s", "u.k", "u.n",
    "d.c", "ft", "rev", "pres",
}
_END = re.compile(r"[.!?…]+[\"'”’)\]]*")


def _is_boundary(text: str, end: int, stop: int, begin: int = 0, quote_open: bool | None = None) -> bool:
    """Is the punctuation run ending at ``end`` a sentence end? ``quote_open``: whether a
    “ opened since ``begin`` is still unclosed at ``end`` (counted here when not given)."""
    if end >= stop:
        return True
    # "?" or "!" inside an open quotation (“Who are we? Venezuela!”) does not end the sentence
    if text[end - 1] in "?!":
        if quote_open is None:
            quote_open = text.count("“", begin, end) > text.count("”", begin, end)
        if quote_open:
            return False
    if not text[end].isspace():
        return False
    # the word before the punctuation
    i = end
    while i > 0 and text[i - 1] in "\"'”’)].!?…":
        i -= 1
    j = i
    while j > 0 and not text[j - 1].isspace():
        j -= 1
    word = text[j:i].lower().lstrip("(\"'“‘")
    punct = text[i:end]
    if punct.startswith(".") and "!" not in punct and "?" not in punct:
        if word in ABBREVIATIONS or re.fullmatch(r"[a-z]", word) or re.fullmatch(r"(?:[a-z]\.)+[a-z]", word):
            return False
    # next non-space character should start a sentence (capital, digit, quote) to split
    k = end
    while k < stop and text[k].isspace():
        k += 1
    if k >= stop:
        return True
    nxt = text[k]
    if "\n" in text[end:k]:
        return True
    return nxt.isupper() or nxt.isdigit() or nxt in "\"'“‘(["


def sentence_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of ``text[start:end]`` as trimmed, non-empty, increasing spans."""
    spans: list[tuple[int, int]] = []
    cur = start
    counted, balance = start, 0  # “ minus ” in text[cur:counted], kept up to date (linear time)
    for m in _END.finditer(text, start, end):
        if m.end() > end:
            break
        balance += text.count("“", counted, m.end()) - text.count("”", counted, m.end())
        counted = m.end()
        if _is_boundary(text, m.end(), end, cur, quote_open=balance > 0):
            spans.append((cur, m.end()))
            cur = m.end()
            balance = 0
    if cur < end:
        spans.append((cur, end))
    out = []
    for a, b in spans:
        # a blank line inside a "sentence" is a paragraph break: split there too
        pieces = [(a, b)]
        for nl in re.finditer(r"\n\s*\n", text[a:b]):
            last_a, last_b = pieces.pop()
            cut = a + nl.start()
            pieces += [(last_a, cut), (a + nl.end(), last_b)]
        for pa, pb in pieces:
            seg = text[pa:pb]
            pa += len(seg) - len(seg.lstrip())
            pb -= len(seg) - len(seg.rstrip())
            if pb > pa:
                out.append((pa, pb))
    return out


CHUNKER_VERSION = "sentences-v3"  # bump when splitting changes, so ingest re-chunks everything


def _cut_long(text: str, a: int, b: int, limit: int) -> list[tuple[int, int]]:
    """``text[a:b]`` (trimmed) in trimmed pieces of at most ``limit`` characters, cut at the
    last whitespace in the second half of each window, or at ``limit`` when there is none."""
    pieces = []
    while b - a > limit:
        k = a + limit
        while k > a + limit // 2 and not text[k].isspace():
            k -= 1
        if text[k].isspace():
            e = k
            while text[e - 1].isspace():
                e -= 1
            while text[k].isspace():
                k += 1
        else:
            e = k = a + limit
        pieces.append((a, e))
        a = k
    pieces.append((a, b))
    return pieces


def doc_hash(doc: Document) -> str:
    h = hashlib.sha256(CHUNKER_VERSION.encode())
    h.update(doc.title.encode("utf-8"))
    h.update(b"\x00")
    h.update(doc.text.encode("utf-8"))
    h.update(b"\x00")
    h.update(repr(doc.spans).encode())
    return h.hexdigest()


def chunk_document(doc: Document, target_chars: int = 700, overlap_sentences: int = 1) -> list[Chunk]:
    """Group the kept sentences into chunks of at most ``target_chars``, sharing
    ``overlap_sentences`` between neighbours. A chunk never spans text the cleaner dropped,
    and together the chunks cover every non-blank character the cleaner kept."""
    if target_chars < 20:
        raise ValueError(f"target_chars must be at least 20, got {target_chars}")
    h = doc_hash(doc)
    # runs of spans with nothing dropped between them (only whitespace)
    groups: list[list[tuple[int, int]]] = []
    prev_end = None
    for a, b in doc.spans:
        sents = [piece for sa, sb in sentence_spans(doc.text, a, b)
                 for piece in _cut_long(doc.text, sa, sb, target_chars)]
        if not sents:
            continue
        if prev_end is not None and doc.text[prev_end:a].strip() == "" and groups:
            groups[-1].extend(sents)
        else:
            groups.append(list(sents))
        prev_end = b
    chunks: list[Chunk] = []
    for sents in groups:
        i = 0
        while i < len(sents):
            j = i + 1
            while j < len(sents) and sents[j][1] - sents[i][0] <= target_chars:
                j += 1
            a, b = sents[i][0], sents[j - 1][1]
            text = doc.text[a:b]
            digest = hashlib.sha1(text.encode("utf-8")).hexdigest()[:10]
            chunks.append(Chunk(f"{doc.source}:{a}-{b}:{digest}", doc.source, doc.title, a, b, text, h))
            if j >= len(sents):
                break
            i = max(i + 1, j - overlap_sentences)
    return chunks
