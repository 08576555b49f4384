"""Which lines of a page are article prose. The text itself is never changed: the cleaner
returns spans (offsets into the text) of the lines it keeps, so offsets stay true.

The rules are general page-furniture patterns (browser notices, share/print widgets,
photo credits and captions, stray numbers, bylines of agencies), not rules for any
particular site or file.
"""
from __future__ import annotations

import re

WIDGET_WORDS = {"share", "print", "comment", "comments", "adjust", "tweet", "email", "facebook", "twitter",
                "whatsapp", "linkedin", "save", "copy", "link", "reddit", "pinterest", "advertisement", "ad",
                "subscribe", "follow", "menu", "close", "more", "read", "related", "next", "previous", "sponsored"}
BROWSER_NOTICE = re.compile(
    r"(?i)\b(is not supported|unsupported browser|enable javascript|javascript is disabled|update your browser|"
    r"optimal experience|best experience|cookies? (policy|settings)|accept (all )?cookies|sign up for|"
    r"subscribe to our newsletter|advertisement)\b")
CREDIT = re.compile(r"(?i)\b(image|photo|photograph|picture|video|screenshot|source|credit|getty images|afp|reuters|"
                    r"associated press|ap photo|visual china|file photo|epa|shutterstock)\b")
TRAILING_CREDIT = re.compile(r"[.!?”\"’]\s*([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})\s*/\s*[A-Z][\w .'’-]*"
                             r"(?:\s*-\s*[A-Z][\w .'’-]*)?\s*$")
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


def _is_furniture(line: str, title: str | None) -> bool:
    s = line.strip()
    if not s:
        return True
    if title is not None and s == title.strip():
        return True
    if re.fullmatch(r"[\d\s.,:;/#%()+-]+", s):  # stray numbers: counters, page numbers
        return True
    words = re.findall(r"[\w'’]+", s.lower())
    if words and len(words) <= 6 and all(w in WIDGET_WORDS for w in words):
        return True
    if BROWSER_NOTICE.search(s) and len(words) <= 25:
        return True
    ends_like_sentence = bool(SENTENCE_END.search(s))
    if CREDIT.search(s) and len(words) <= 14 and not ends_like_sentence:
        return True
    if re.match(r"(?i)^(image|photo|photograph|picture|video|screenshot)\s*[:|-]", s):
        return True
    if re.search(r"\((?:image\s+)?source:[^)]*\)\s*$", s, re.I) and len(words) <= 14:
        return True
    return False


def article_spans(text: str, title: str | None = None) -> tuple[tuple[int, int], ...]:
    """Spans of the lines that are article text, trimmed of surrounding whitespace."""
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = text[start:end]
        if _is_furniture(body, title):
            continue
        a = start + len(body) - len(body.lstrip())
        b = end - (len(body) - len(body.rstrip()))
        # "...a rally on Jan. 23, 2019.Luis Robayo / AFP - Getty Images": keep the sentence, drop the credit
        m = TRAILING_CREDIT.search(text, a, b)
        if m and CREDIT.search(text[m.start(1):b]):
            b = m.start(1)
        if b > a:
            spans.append((a, b))
    return tuple(spans)
