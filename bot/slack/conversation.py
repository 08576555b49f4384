"""What mentions, DMs and the slash command share: turning Slack text into a question,
a Slack thread into history, and an ``Answer`` into a posted message.

A thread is a conversation. Its earlier turns come from ``conversations.replies``: each
of the bot's answers (marked by the answer block's id) is paired with the question asked
before it; in channels only messages that mention the bot count as questions to it.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.feedback import FeedbackStore
from retrieval.errors import NewsdeskError, NoIndexError
from retrieval.types import Answer

AnswerFn = Callable[[str, list[tuple[str, str]]], Answer]

MAX_TURNS = 10  # earlier turns passed as history
MAX_REPLY_PAGES = 5  # conversations.replies pages read per question (200 messages each)

log = logging.getLogger(__name__)


class SeenSet:
    """A bounded, thread-safe set: remembers the newest ``size`` keys."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._keys: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, key: str) -> bool:
        """True if ``key`` is new (and now remembered), False if it was seen before."""
        with self._lock:
            if key in self._keys:
                self._keys.move_to_end(key)
                return False
            self._keys[key] = None
            while len(self._keys) > self.size:
                self._keys.popitem(last=False)
            return True

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._keys


@dataclass
class Deps:
    """What the listeners need besides Slack: the answer function and the feedback store."""

    answer_fn: AnswerFn
    store: FeedbackStore
    seen_events: SeenSet = field(default_factory=SeenSet)  # event_ids (Slack retries)
    seen_messages: SeenSet = field(default_factory=SeenSet)  # channel:ts (a DM may arrive as two events)


def clean_text(text: str, bot_user_id: str | None = None) -> str:
    """Slack message text -> plain question: drops the bot's mention, unwraps links, unescapes."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", " ", text)
    text = re.sub(r"<((?:https?|mailto):[^|>]+)\|([^>]+)>", r"\2", text)  # <url|label> -> label
    text = re.sub(r"<((?:https?|mailto):[^>]+)>", r"\1", text)
    return " ".join(blocks.unescape(text).split())


def mentions(text: str, bot_user_id: str | None) -> bool:
    return bool(bot_user_id) and re.search(rf"<@{re.escape(bot_user_id)}(\|[^>]*)?>", text) is not None


def _ts(ts: str) -> tuple[int, int]:
    whole, _, frac = str(ts).partition(".")
    return int(whole or 0), int((frac or "0").ljust(6, "0")[:6])


def is_our_answer(message: dict) -> bool:
    return any(b.get("block_id") == blocks.ANSWER_BLOCK_ID for b in message.get("blocks") or [])


def thread_history(client: WebClient, channel: str, thread_ts: str, before_ts: str, *,
                   bot_user_id: str | None, bot_id: str | None, require_mention: bool) -> list[tuple[str, str]]:
    """Earlier (question, answer) turns of a thread, oldest first, at most MAX_TURNS."""
    messages: list[dict] = []
    cursor = None
    for _ in range(MAX_REPLY_PAGES):
        kwargs = {"channel": channel, "ts": thread_ts, "limit": 200}
        if cursor:
            kwargs["cursor"] = cursor
        resp = client.conversations_replies(**kwargs)
        messages += resp.get("messages") or []
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not resp.get("has_more") or not cursor:
            break
    turns: list[tuple[str, str]] = []
    pending: str | None = None
    for m in sorted(messages, key=lambda m: _ts(m.get("ts", "0"))):
        if _ts(m.get("ts", "0")) >= _ts(before_ts):
            continue
        ours = (bot_user_id and m.get("user") == bot_user_id) or (bot_id and m.get("bot_id") == bot_id)
        if ours:
            if pending and is_our_answer(m):
                turns.append((pending, clean_text(m.get("text", ""))))
                pending = None
        elif m.get("bot_id") or m.get("subtype"):
            continue  # other bots, joins, edits...
        elif not require_mention or mentions(m.get("text", ""), bot_user_id):
            pending = clean_text(m.get("text", ""), bot_user_id) or pending
    return turns[-MAX_TURNS:]


def friendly_error(exc: Exception) -> str:
    """What a Slack user sees when answering fails (the log gets the traceback)."""
    if isinstance(exc, NoIndexError):
        return ("Sorry, I have no articles to search yet: whoever runs newsdesk needs to run "
                "`newsdesk ingest` first.")
    if isinstance(exc, NewsdeskError):
        return ("Sorry, I can't reach the article index or the answer backend right now. "
                "Please try again in a bit; the bot's log has the details.")
    return "Sorry, something went wrong while answering that. Please try again; the bot's log has the details."


def new_key() -> str:
    return uuid.uuid4().hex


def answer(deps: Deps, question: str, history: list[tuple[str, str]]) -> tuple[Answer | None, str | None]:
    """Runs the answer function: (answer, None), or (None, a friendly error message)."""
    try:
        return deps.answer_fn(question, history), None
    except Exception as exc:  # noqa: BLE001 - a Slack user gets a message, never a traceback
        log.exception("answering %r failed", question)
        return None, friendly_error(exc)


def remember(deps: Deps, result: Answer, **where) -> str:
    """Saves the answer for the feedback buttons; returns their key. A store failure is logged,
    not shown: the answer still goes out (a later vote is then stored without it)."""
    key = new_key()
    try:
        deps.store.save_answer(key, result, **where)
    except sqlite3.Error:
        log.exception("could not save the answer to %s", deps.store.path)
    return key


def answer_in_thread(event: dict, client: WebClient, context, deps: Deps, *, require_mention: bool) -> None:
    """Status message in the question's thread, then replaced by the answer (or a friendly error)."""
    channel, ts = event["channel"], event["ts"]
    if not deps.seen_messages.add(f"{channel}:{ts}"):
        return
    thread_ts = event.get("thread_ts") or ts
    question = clean_text(event.get("text") or "", context.bot_user_id)
    if not question:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.USAGE_TEXT)
        return
    status = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.STATUS_TEXT)
    history: list[tuple[str, str]] = []
    if event.get("thread_ts") and event["thread_ts"] != ts:
        try:
            history = thread_history(client, channel, thread_ts, ts, bot_user_id=context.bot_user_id,
                                     bot_id=context.bot_id, require_mention=require_mention)
        except SlackApiError as exc:  # e.g. a missing *:history scope: answer without history
            log.warning("could not read thread %s in %s (%s); answering without history",
                        thread_ts, channel, exc.response.get("error"))
    result, error = answer(deps, question, history)
    if result is None:
        client.chat_update(channel=channel, ts=status["ts"], text=blocks.escape(error or ""))
        return
    key = remember(deps, result, channel=channel, thread_ts=thread_ts, user=event.get("user"))
    post = blocks.message(result, key)
    try:
        client.chat_update(channel=channel, ts=status["ts"], **post)
    except SlackApiError as exc:  # blocks refused: the plain answer is better than a stuck status
        log.error("chat.update with blocks failed (%s); sending the plain text", exc.response.get("error"))
        client.chat_update(channel=channel, ts=status["ts"], text=post["text"])
