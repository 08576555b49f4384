"""Renders an ``Answer`` as a Slack message: Block Kit blocks plus a plain ``text`` fallback.

Everything that comes from an article (answer text, titles, file names, quotes) is
escaped for mrkdwn, so article text such as ``<!channel>`` or ``<@U123>`` is shown, never
acted on. Slack's limits are kept: a section's text is at most 3,000 characters and a
message at most 50 blocks. Quotes are trimmed at a word boundary with "…" (never
mid-word); a citation's header line is never dropped.
"""
from __future__ import annotations

import math
import re
from typing import Any

from retrieval.types import Answer, Citation, Passage

SECTION_LIMIT = 3000
MAX_BLOCKS = 50
TITLE_LIMIT = 200
PASSAGE_LIMIT = 300  # closest passages of an abstention are a glimpse, not the whole chunk
CLOSEST_SHOWN = 3
CONTEXT_LIMIT = 2000
ELLIPSIS = "…"

ANSWER_BLOCK_ID = "newsdesk_answer"  # marks the bot's answers in a thread (see threads.py)
HELPFUL = "feedback_helpful"
NOT_HELPFUL = "feedback_not_helpful"

STATUS_TEXT = "Searching the articles..."
USAGE_TEXT = ("Ask me a question about the news articles, e.g. "
              "`/newsdesk How long were US diplomats given to leave Venezuela?` "
              "or mention me in a channel. I answer with quotes from the articles, "
              "and say so when they don't hold the answer.")
NO_WORDS_TEXT = ("I can only search the articles for words, and that has none. Ask me a question in words, "
                 "e.g. “Who is Juan Guaido?”")
BUSY_TEXT = ("I'm answering a lot of questions right now and couldn't take yours. "
             "Please try again in a minute.")
USER_NOT_ALLOWED_TEXT = ("Sorry, I only answer questions from the people I'm set up for. "
                         "Ask whoever runs newsdesk if you need access.")
CHANNEL_NOT_ALLOWED_TEXT = ("Sorry, I don't answer questions in this conversation. "
                            "Ask whoever runs newsdesk where I can help.")

# Every chat.postMessage: a link in a reply is never expanded into a preview.
POST_OPTIONS: dict[str, Any] = {"unfurl_links": False, "unfurl_media": False}


def slow_down_text(wait_s: int, rate: int) -> str:
    return (f"You're asking faster than I can keep up with (at most {rate} questions a minute). "
            f"Please slow down and try again in {wait_s} s.")


def truncated_text(original: int, used: int) -> str:
    return f"Your question was {original:,} characters long, so I read only its first {used:,}."

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's mrkdwn escaping: the only three characters that must be replaced."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def fit(text: str, limit: int) -> str:
    """``text`` escaped, at most ``limit`` characters; if cut, cut after a whole word and end in "…"."""
    out = escape(text)
    if len(out) <= limit:
        return out
    budget = limit - len(ELLIPSIS)
    best, used, pos = 0, 0, 0
    for word in re.finditer(r"\S+", text):
        used += len(escape(text[pos:word.end()]))
        pos = word.end()
        if used > budget:
            break
        best = pos
    return escape(text[:best]).rstrip() + ELLIPSIS if best else ELLIPSIS


def quote(text: str, limit: int) -> str:
    """A mrkdwn block quote (every line starts with ">") of at most ``limit`` characters."""
    text = text.strip("\n")
    room = limit
    while True:
        lines = fit(text, max(room, 1)).split("\n")
        out = "\n".join(">" + line for line in lines)
        if len(out) <= limit or room <= 1:
            return out if len(out) <= limit else ">" + ELLIPSIS
        room -= len(out) - limit


def _title(title: str) -> str:
    return fit(title.replace("*", "").strip() or "Untitled", TITLE_LIMIT)


def _file(source: str) -> str:
    return fit(source.replace("`", "'"), TITLE_LIMIT)


def _entry(header: str, body: str, limit: int, body_limit: int = SECTION_LIMIT) -> str:
    room = min(limit - len(header) - 1, body_limit)
    return header + "\n" + quote(body, room) if room >= 2 else header


def citation_text(c: Citation, limit: int = SECTION_LIMIT) -> str:
    return _entry(f"[{c.id}] *{_title(c.title)}* — `{_file(c.source)}`", c.quote, limit)


def passage_text(p: Passage, limit: int = SECTION_LIMIT) -> str:
    return _entry(f"*{_title(p.title)}* — `{_file(p.source)}`", p.text, limit, PASSAGE_LIMIT)


def _section(text: str, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": {"type": "mrkdwn", "text": text}}
    if block_id:
        block["block_id"] = block_id
    return block


def _packed(entries: list, render, room: int) -> list[Block]:
    """One section per entry while they fit in ``room`` blocks; else several entries a section."""
    if not entries or room <= 0:
        return []
    per = math.ceil(len(entries) / room)
    share = (SECTION_LIMIT - 2 * (per - 1)) // per
    return [_section("\n\n".join(render(e, share) for e in entries[i:i + per]))
            for i in range(0, len(entries), per)]


def _user_notes(answer: Answer) -> list[str]:
    notes = []
    for note in answer.notes:
        if note == "sources disagree":
            notes.append("The sources disagree; both are quoted.")
        elif note.startswith(("The ", "No quote", "LLM")):
            notes.append(note)
    return notes


def _context(answer: Answer, notice: str | None = None) -> Block:
    backend = f"`{escape(answer.backend)}`"
    line = escape(notice) + " " if notice else ""
    if answer.citations:
        line += f"Answered by the {backend} backend from the indexed articles; every quote is checked against its file."
    else:
        line += f"Searched the indexed articles with the {backend} backend."
    for note in _user_notes(answer):
        line += " " + escape(note)
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit_escaped(line, CONTEXT_LIMIT)}]}


def fit_escaped(text: str, limit: int) -> str:
    """Trims already-escaped mrkdwn at a word boundary (for text we composed ourselves)."""
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0] + ELLIPSIS


def feedback_buttons(key: str) -> Block:
    return {"type": "actions", "block_id": "newsdesk_feedback", "elements": [
        {"type": "button", "action_id": HELPFUL, "value": key,
         "text": {"type": "plain_text", "text": ":thumbsup: Helpful", "emoji": True}},
        {"type": "button", "action_id": NOT_HELPFUL, "value": key,
         "text": {"type": "plain_text", "text": ":thumbsdown: Not helpful", "emoji": True}},
    ]}


def answer_text(answer: Answer) -> str:
    """The plain-text fallback (notifications, search, history): the answer itself, escaped."""
    text = answer.answer.strip() or ("The articles don't say." if answer.abstained else "(no answer)")
    return fit(text, SECTION_LIMIT)


def answer_blocks(answer: Answer, key: str, notice: str | None = None) -> list[Block]:
    """The answer, its sources (or the closest passages), the backend (and ``notice``, e.g. that
    the question was cut), and feedback buttons."""
    head = [_section(answer_text(answer), ANSWER_BLOCK_ID)]
    tail = [_context(answer, notice), feedback_buttons(key)]
    if answer.citations:
        label, entries, render = "*Sources*", answer.citations, citation_text
    elif answer.abstained and answer.passages:
        label, entries, render = "*Closest passages*", answer.passages[:CLOSEST_SHOWN], passage_text
    else:
        return head + tail
    head.append(_section(label))
    return head + _packed(list(entries), render, MAX_BLOCKS - len(head) - len(tail)) + tail


def message(answer: Answer, key: str, notice: str | None = None) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update / chat.postEphemeral."""
    return {"text": answer_text(answer), "blocks": answer_blocks(answer, key, notice)}
