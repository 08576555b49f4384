"""What mentions, DMs and the slash command share: turning Slack text into a question,
deciding whether to answer it, a Slack thread into history, and an ``Answer`` into a posted
message.

A thread is a conversation. Its earlier turns come from ``conversations.replies``: each
of the bot's answers (marked by the answer block's id) is paired with the question asked
before it; in channels only messages that mention the bot count as questions to it.

Every question gets exactly one reply. In the request (ack) thread only quick checks run,
in this order: the allow-lists, "is it a question" (empty, no words, too long), the
person's rate limit, room in the answer pool. A question that passes goes to
``Deps.answers``; every other reply (a refusal, "slow down", "busy") goes to
``Deps.notices``. Neither pool grows without bound; when the notice pool itself is full the
log says who was not told.
"""
from __future__ import annotations

import logging
import re
import sqlite3
import sys
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.feedback import FeedbackStore
from bot.slack.limits import Access, RateLimiter, WorkPool, seconds
from bot.slack.settings import Policy
from retrieval.errors import NewsdeskError, NoIndexError
from retrieval.question import EmptyQuestion, has_words, prepare
from retrieval.types import Answer

AnswerFn = Callable[[str, list[tuple[str, str]]], Answer]

MAX_TURNS = 10  # earlier turns passed as history
MAX_REPLY_PAGES = 5  # conversations.replies pages read per question (200 messages each)
NOTICE_THREADS = 4  # replies that are not answers: status messages, refusals, "slow down", "busy"
NOTICE_BACKLOG = 500
STATUS_WAIT = 120.0  # seconds an answer waits for its status message to be posted

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
    """What the listeners need besides Slack: the answer function, the feedback store, and the
    policy with the state that enforces it (allow-lists, rate limiter, the two pools)."""

    answer_fn: AnswerFn
    store: FeedbackStore
    policy: Policy = field(default_factory=Policy)
    seen_events: SeenSet = field(default_factory=SeenSet)  # event_ids (Slack retries)
    seen_messages: SeenSet = field(default_factory=SeenSet)  # channel:ts (a DM may arrive as two events)
    access: Access = field(init=False)
    limiter: RateLimiter = field(init=False)
    answers: WorkPool = field(init=False)  # policy.workers answering, policy.queue waiting
    notices: WorkPool = field(init=False)

    def __post_init__(self) -> None:
        self.access = Access(self.policy.allowed_channels, self.policy.allowed_users)
        self.limiter = RateLimiter(self.policy.rate)
        self.answers = WorkPool(self.policy.workers, self.policy.queue, "newsdesk-answer")
        self.notices = WorkPool(NOTICE_THREADS, NOTICE_BACKLOG, "newsdesk-notice")

    def refusal(self, user: str | None, channel: str | None) -> str | None:
        """The polite refusal for someone the allow-lists leave out, else None."""
        if not self.access.user_allowed(user):
            log.info("not answering %s in %s: not in NEWSDESK_SLACK_ALLOWED_USERS", user, channel)
            return blocks.USER_NOT_ALLOWED_TEXT
        if not self.access.channel_allowed(channel):
            log.info("not answering %s in %s: not in NEWSDESK_SLACK_ALLOWED_CHANNELS", user, channel)
            return blocks.CHANNEL_NOT_ALLOWED_TEXT
        return None

    def too_fast(self, user: str | None) -> str | None:
        """"Slow down, try again in N s" if the person is over the rate limit, else None (and counted)."""
        wait = self.limiter.take(user or "")
        if not wait:
            return None
        log.info("not answering %s: over NEWSDESK_SLACK_RATE=%d a minute (next in %.0f s)",
                 user, self.policy.rate, wait)
        return blocks.slow_down_text(seconds(wait), self.policy.rate)

    def shutdown(self) -> None:
        self.answers.shutdown(wait=False)
        self.notices.shutdown(wait=False)


@dataclass(frozen=True)
class Question:
    """A Slack message read as a question: ``text`` for the answer function and maybe a
    ``notice`` to show with the answer, or ``problem``: the reply instead of an answer."""

    text: str = ""
    notice: str | None = None
    problem: str | None = None


# Slack sends emoji as :shortcodes: (":tada:", ":+1::skin-tone-2:"), which hold letters but no words
_SHORTCODE = re.compile(r":[a-z0-9_+'-]+:", re.IGNORECASE)


def read_question(text: str, bot_user_id: str | None, max_chars: int) -> Question:
    """Cleans Slack text (mention, links, escapes, control characters, ANSI escapes, spacing);
    empty -> usage, no words (only emoji or punctuation) -> a polite reply, longer than
    ``max_chars`` -> cut after a word, with a notice. Any language, any symbols otherwise:
    a question is data, never run or interpreted."""
    try:
        cleaned, _ = prepare(clean_text(text, bot_user_id), sys.maxsize)
    except EmptyQuestion:
        return Question(problem=blocks.USAGE_TEXT)
    if not has_words(_SHORTCODE.sub(" ", cleaned)):
        return Question(problem=blocks.NO_WORDS_TEXT)
    if len(cleaned) <= max_chars:
        return Question(cleaned)
    cut = cleaned[:max_chars]
    if " " in cut[max_chars // 2:]:
        cut = cut.rsplit(" ", 1)[0]
    return Question(cut, notice=blocks.truncated_text(len(cleaned), len(cut)))


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
    if isinstance(exc, EmptyQuestion):
        return blocks.USAGE_TEXT
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


def notify(deps: Deps, client: WebClient, channel: str, thread_ts: str | None, text: str) -> None:
    """Posts ``text`` (a refusal, "slow down", "busy", usage) in the thread, from the notice pool."""
    if not deps.notices.submit(_post_notice, client, channel, thread_ts, text):
        log.warning("too many replies waiting to be posted; could not tell %s (thread %s): %s",
                    channel, thread_ts, text)


def _post_notice(client: WebClient, channel: str, thread_ts: str | None, text: str) -> None:
    try:
        client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.escape(text), **blocks.POST_OPTIONS)
    except Exception:  # noqa: BLE001 - logged with its traceback; the person is not told twice
        log.exception("could not post a reply in %s (thread %s)", channel, thread_ts)


def _post_status(client: WebClient, channel: str, thread_ts: str, status: Future) -> None:
    try:
        resp = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.STATUS_TEXT,
                                       **blocks.POST_OPTIONS)
        status.set_result(resp["ts"])
    except BaseException as exc:  # noqa: BLE001 - handed to the answer job, which logs it
        status.set_exception(exc)


def ask_in_thread(event: dict, client: WebClient, context, deps: Deps, *, require_mention: bool) -> None:
    """A mention or DM, in the request (ack) thread: quick checks only, then the answer (status
    message in the question's thread, replaced by the answer) is queued, or a reply says why not."""
    channel, ts, user = event["channel"], event["ts"], event.get("user")
    if not deps.seen_messages.add(f"{channel}:{ts}"):
        return
    thread_ts = event.get("thread_ts") or ts
    refusal = deps.refusal(user, channel)
    if refusal:
        notify(deps, client, channel, thread_ts, refusal)
        return
    question = read_question(event.get("text") or "", context.bot_user_id, deps.policy.max_question_chars)
    if question.problem:
        notify(deps, client, channel, thread_ts, question.problem)
        return
    slow = deps.too_fast(user)
    if slow:
        notify(deps, client, channel, thread_ts, slow)
        return
    status: Future = Future()
    where = {"bot_user_id": context.bot_user_id, "bot_id": context.bot_id}
    if not deps.answers.submit(answer_in_thread, event, client, deps, question, status, where,
                               require_mention=require_mention):
        deps.limiter.refund(user or "")
        log.warning("busy: %d questions answering or waiting (NEWSDESK_SLACK_WORKERS + NEWSDESK_SLACK_QUEUE); "
                    "told %s in %s to try again", deps.answers.capacity, user, channel)
        notify(deps, client, channel, thread_ts, blocks.BUSY_TEXT)
        return
    if not deps.notices.submit(_post_status, client, channel, thread_ts, status):
        status.set_result(None)  # the answer job posts it


def answer_in_thread(event: dict, client: WebClient, deps: Deps, question: Question, status: Future,
                     where: dict, *, require_mention: bool) -> None:
    """In the answer pool: the thread's history, the answer, then chat.update of the status
    message. Whatever fails, the person gets a friendly message and the log the traceback."""
    channel, ts = event["channel"], event["ts"]
    thread_ts = event.get("thread_ts") or ts
    status_ts = None
    try:
        status_ts = status.result(timeout=STATUS_WAIT)
        if status_ts is None:
            status_ts = client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=blocks.STATUS_TEXT,
                                                **blocks.POST_OPTIONS)["ts"]
        history: list[tuple[str, str]] = []
        if event.get("thread_ts") and event["thread_ts"] != ts:
            try:
                history = thread_history(client, channel, thread_ts, ts, require_mention=require_mention, **where)
            except SlackApiError as exc:  # e.g. a missing *:history scope: answer without history
                log.warning("could not read thread %s in %s (%s); answering without history",
                            thread_ts, channel, exc.response.get("error"))
        result, error = answer(deps, question.text, history)
        if result is None:
            client.chat_update(channel=channel, ts=status_ts, text=blocks.escape(error or ""))
            return
        key = remember(deps, result, channel=channel, thread_ts=thread_ts, user=event.get("user"))
        post = blocks.message(result, key, question.notice)
        try:
            client.chat_update(channel=channel, ts=status_ts, **post)
        except SlackApiError as exc:
            if exc.response.status_code != 200:
                raise  # 429 / 5xx that outlasted the retries
            # Slack refused the blocks (ok: false): the plain answer is better than a stuck status
            log.error("chat.update with blocks failed (%s); sending the plain text", exc.response.get("error"))
            client.chat_update(channel=channel, ts=status_ts, text=post["text"])
    except Exception as exc:  # noqa: BLE001 - Slack failed us even after retries
        log.exception("could not answer the question of %s in %s (thread %s)", event.get("user"), channel, thread_ts)
        _tell_failure(client, channel, thread_ts, status_ts, exc)


def _tell_failure(client: WebClient, channel: str, thread_ts: str, status_ts: str | None, exc: Exception) -> None:
    text = blocks.escape(friendly_error(exc))
    try:
        if status_ts:
            client.chat_update(channel=channel, ts=status_ts, text=text)
        else:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=text, **blocks.POST_OPTIONS)
    except Exception:  # noqa: BLE001
        log.exception("could not tell %s (thread %s) that answering failed", channel, thread_ts)
