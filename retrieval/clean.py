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
# "...2019.Luis Robayo / AFP - Getty Images". The tail after "/" is one character class (no
# nested optional groups that can match the same text), so a failed match costs linear time.
TRAILING_CREDIT = re.compile(r"[.!?”\"’]\s*([A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3})\s*/\s*[A-Z][\w\s.'’-]*$")
CREDIT_WINDOW = 300  # a trailing credit is short: only the end of a line is searched for one
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s*$")


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    """``(a, b)`` narrowed past whitespace and byte-order marks (``str.strip`` keeps a BOM)."""
    while a < b and (text[a].isspace() or text[a] == "\ufeff"):
        a += 1
    while b > a and (text[b - 1].isspace() or text[b - 1] == "\ufeff"):
        b -= 1
    return a, b


def _strip(s: str) -> str:
    a, b = _trim(s, 0, len(s))
    return s[a:b]


def _is_furniture(line: str, title: str | None) -> bool:
    s = _strip(line)
    if not s:
        return True
    if title is not None and s == _strip(title):
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
    if len(words) <= 14 and re.search(r"\((?:image\s+)?source:[^)]*\)\s*$", s, re.I):
        return True
    return False


def article_spans(text: str, title: str | None = None) -> tuple[tuple[int, int], ...]:
    """Spans of the lines that are article text, trimmed of surrounding whitespace (and of a
    byte-order mark). Spans are increasing, disjoint and non-empty, and none crosses a line
    break, so ``text[a:b]`` is always a piece of one line."""
    spans = []
    pos = 0
    for line in text.splitlines(keepends=True):
        start, end = pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)
        body = text[start:end]
        if _is_furniture(body, title):
            continue
        a, b = _trim(text, start, end)
        # "...a rally on Jan. 23, 2019.Luis Robayo / AFP - Getty Images": keep the sentence, drop the credit
        m = TRAILING_CREDIT.search(text, max(a, b - CREDIT_WINDOW), b)
        if m and CREDIT.search(text[m.start(1):b]):
            a, b = _trim(text, a, m.start(1))
        if b > a:
            spans.append((a, b))
    return tuple(spans)
