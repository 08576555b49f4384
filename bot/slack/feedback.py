"""Helpful / not helpful votes on Slack answers, in SQLite at ``$NEWSDESK_HOME/feedback.sqlite3``.

Every answer the bot posts is saved under a random key first; the feedback buttons carry
that key, so a click can be stored with the question, the answer and its citations.
One vote per person per answer: clicking again changes the vote (and its time).
"""
from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from retrieval.config import env
from retrieval.types import Answer

FILENAME = "feedback.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key         TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL,
    channel     TEXT,
    thread_ts   TEXT,
    user        TEXT,
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    citations   TEXT NOT NULL,  -- JSON list of Citation.to_json()
    abstained   INTEGER NOT NULL,
    backend     TEXT,
    full_json   TEXT NOT NULL   -- Answer.to_json()
);
CREATE TABLE IF NOT EXISTS feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT NOT NULL,
    answer_key  TEXT NOT NULL,
    user        TEXT NOT NULL,
    channel     TEXT,
    ts          TEXT,
    vote        TEXT NOT NULL CHECK (vote IN ('helpful', 'not_helpful')),
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    citations   TEXT NOT NULL,
    UNIQUE (answer_key, user)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def default_path() -> Path:
    return Path(env("NEWSDESK_HOME")) / FILENAME


class FeedbackStore:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.executescript(_SCHEMA)

    @classmethod
    def from_env(cls) -> "FeedbackStore":
        return cls(default_path())

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.row_factory = sqlite3.Row
        return db

    def _write(self, sql: str, args: tuple) -> None:
        with self._lock, closing(self._connect()) as db, db:
            db.execute(sql, args)

    def save_answer(self, key: str, answer: Answer, *, channel: str | None, thread_ts: str | None = None,
                    user: str | None = None) -> None:
        citations = json.dumps([c.to_json() for c in answer.citations], ensure_ascii=False)
        self._write("INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (key, _now(), channel, thread_ts, user, answer.question, answer.answer, citations,
                     int(answer.abstained), answer.backend, json.dumps(answer.to_json(), ensure_ascii=False)))

    def get_answer(self, key: str) -> dict[str, Any] | None:
        with closing(self._connect()) as db:
            row = db.execute("SELECT * FROM answers WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["citations"] = json.loads(out["citations"])
        out["full_json"] = json.loads(out["full_json"])
        return out

    def record_vote(self, key: str, vote: str, *, user: str, channel: str | None, ts: str | None) -> bool:
        """Stores a click; returns False if the answer is unknown (it is stored all the same)."""
        if vote not in ("helpful", "not_helpful"):
            raise ValueError(f"vote must be 'helpful' or 'not_helpful', not {vote!r}")
        found = self.get_answer(key)
        question, answer, citations = ((found["question"], found["answer"], json.dumps(found["citations"]))
                                       if found else ("", "", "[]"))
        self._write(
            "INSERT INTO feedback (created_at, answer_key, user, channel, ts, vote, question, answer, citations) "
            "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (answer_key, user) DO UPDATE SET "
            "vote = excluded.vote, created_at = excluded.created_at, channel = excluded.channel, ts = excluded.ts",
            (_now(), key, user, channel, ts, vote, question, answer, citations))
        return found is not None

    def list_feedback(self, limit: int = 50) -> list[dict[str, Any]]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM feedback ORDER BY created_at DESC, id DESC LIMIT ?",
                              (limit,)).fetchall()
        out = []
        for row in rows:
            item = dict(row)
            item["citations"] = json.loads(item["citations"])
            out.append(item)
        return out


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1].rsplit(" ", 1)[0] + "…"


def print_feedback(limit: int = 50, console=None) -> None:
    """Prints the latest votes, newest first (``newsdesk feedback``)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console()
    path = default_path()
    rows = FeedbackStore(path).list_feedback(limit) if path.exists() else []
    if not rows:
        console.print(f"No feedback yet (looked in {path}).", highlight=False)
        return
    table = Table(title=f"Slack feedback, newest first ({path})", show_lines=False)
    for name in ("When (UTC)", "Vote", "User", "Channel", "Question", "Answer", "Sources"):
        table.add_column(name, overflow="fold")
    for r in rows:
        vote = "[green]helpful[/green]" if r["vote"] == "helpful" else "[red]not helpful[/red]"
        sources = ", ".join(f"[{c['id']}] {c['source']}" for c in r["citations"]) or "-"
        cells = (r["user"], r["channel"] or "", _short(r["question"], 120) or "(answer not found)",
                 _short(r["answer"], 200), sources)
        table.add_row(r["created_at"].replace("+00:00", ""), vote, *(escape(c) for c in cells))
    console.print(table)
