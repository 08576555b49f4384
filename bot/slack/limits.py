"""Bounds on what Slack can make the bot do: who may ask, how often, and how much at once.

- ``Access``: the optional allow-lists (NEWSDESK_SLACK_ALLOWED_CHANNELS / _USERS).
- ``RateLimiter``: at most N questions per person in any 60-second window (NEWSDESK_SLACK_RATE).
- ``WorkPool``: a fixed number of threads and a bounded backlog. ``submit`` says at once
  whether the job was taken, so the caller can tell the person "busy, try again" instead of
  letting work (and memory) pile up without end.

All three are thread-safe and keep bounded state.
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

from bot.slack.settings import ALL_DMS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Access:
    """Empty lists allow everyone / every conversation."""

    channels: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    def user_allowed(self, user: str | None) -> bool:
        return not self.users or (user or "") in self.users

    def channel_allowed(self, channel: str | None) -> bool:
        channel = channel or ""
        return (not self.channels or channel in self.channels
                or (ALL_DMS in self.channels and channel.startswith("D")))


class RateLimiter:
    """A sliding window per person: ``take(user)`` is 0.0 if the question may go ahead (and
    counts it), else the seconds until it may. ``rate`` 0 turns the limit off."""

    def __init__(self, rate: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic):
        self.rate, self.window, self.clock = rate, window, clock
        self._asked: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def take(self, user: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        with self._lock:
            self._calls += 1
            if self._calls % 1000 == 0:
                self._forget_idle(now)
            times = self._asked.setdefault(user, deque(maxlen=self.rate))
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) < self.rate:
                times.append(now)
                return 0.0
            return max(self.window - (now - times[0]), 0.001)

    def refund(self, user: str) -> None:
        """Un-counts the last question (it was not answered: the bot was busy)."""
        with self._lock:
            times = self._asked.get(user)
            if times:
                times.pop()

    def _forget_idle(self, now: float) -> None:
        idle = [u for u, t in self._asked.items() if not t or now - t[-1] >= self.window]
        for user in idle:
            del self._asked[user]

    def __len__(self) -> int:
        with self._lock:
            return len(self._asked)


def seconds(wait: float) -> int:
    """Whole seconds for a "try again in N s" message (never 0)."""
    return max(1, math.ceil(wait))


class WorkPool:
    """``threads`` workers and at most ``backlog`` jobs waiting for one. ``submit`` never blocks:
    it returns False when the pool is full. A job's exception is logged with its traceback."""

    def __init__(self, threads: int, backlog: int, name: str):
        if threads < 1 or backlog < 0:
            raise ValueError(f"WorkPool needs threads >= 1 and backlog >= 0, not {threads} and {backlog}")
        self.name, self.capacity = name, threads + backlog
        self._slots = threading.BoundedSemaphore(self.capacity)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0

    def submit(self, fn: Callable[..., object], *args, **kwargs) -> bool:
        if not self._slots.acquire(blocking=False):
            return False
        with self._lock:
            self._pending += 1
        try:
            self._executor.submit(self._run, fn, args, kwargs)
        except RuntimeError:  # shut down
            self._done()
            return False
        return True

    def _run(self, fn, args, kwargs) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:  # noqa: BLE001 - a worker must survive any job
            log.exception("%s: a job failed", self.name)
        finally:
            self._done()

    def _done(self) -> None:
        with self._lock:
            self._pending -= 1
        self._slots.release()

    @property
    def pending(self) -> int:
        """Jobs running or waiting."""
        with self._lock:
            return self._pending

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
