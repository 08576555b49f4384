"""Global middleware: an Events API event is handled once, however often Slack delivers it.

Slack retries an event (with an ``X-Slack-Retry-Num`` header) when it did not see our
200 in time. Its ``event_id`` stays the same, so a bounded set of seen event_ids makes a
retry, or any second delivery, a no-op that is still acknowledged (so Slack stops).
A retry of an event this process never saw (say, it restarted) is answered.
"""
from __future__ import annotations

import logging

from slack_bolt import App, BoltRequest, BoltResponse

from bot.slack.conversation import Deps

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def ignore_seen_events(body: dict, request: BoltRequest, next):
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not deps.seen_events.add(event_id):
            retry = (request.headers.get("x-slack-retry-num") or ["-"])[0]
            reason = (request.headers.get("x-slack-retry-reason") or ["-"])[0]
            log.info("ignoring second delivery of event %s (retry %s, %s)", event_id, retry, reason)
            return BoltResponse(status=200, body="")
        return next()

    app.use(ignore_seen_events)
