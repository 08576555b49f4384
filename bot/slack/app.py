"""Builds the Bolt App. Socket Mode and HTTP (main.py) serve this same App.

``process_before_response=True``: a listener's ack function runs before Slack gets its
response. The ack functions only make quick checks (who, how often, is it a question) and
hand the slow work to the bounded pools in ``Deps`` (see listeners/ and limits.py), so
Slack hears back within its 3 seconds and a flood of questions cannot grow without end.
"""
from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (ConnectionErrorRetryHandler, RateLimitErrorRetryHandler,
                                                   ServerErrorRetryHandler)

from bot.slack.conversation import AnswerFn, Deps
from bot.slack.feedback import FeedbackStore
from bot.slack.listeners import register_listeners
from bot.slack.settings import Policy

RETRIES = 3  # per Web API call, shared by the three kinds of fault below


class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
    """slack_sdk's ServerErrorRetryHandler retries 500 and 503; any 5xx is worth a retry."""

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        return response is not None and 500 <= response.status_code <= 599


def retry_handlers() -> list:
    """429 waits for Slack's Retry-After; 5xx and dropped connections back off exponentially
    (0.5 s, 1 s, 2 s, each plus up to 1 s of jitter)."""
    return [RateLimitErrorRetryHandler(max_retry_count=RETRIES),
            AnyServerErrorRetryHandler(max_retry_count=RETRIES),
            ConnectionErrorRetryHandler(max_retry_count=RETRIES)]


def web_client(token: str, base_url: str) -> WebClient:
    """The bot's WebClient. Bolt copies its retry handlers into each request's client."""
    return WebClient(token=token, base_url=base_url, retry_handlers=retry_handlers())


def build_app(client: WebClient, signing_secret: str, answer_fn: AnswerFn, store: FeedbackStore,
              policy: Policy | None = None) -> App:
    """``policy`` defaults to the environment's (NEWSDESK_SLACK_RATE, ...). ``app.deps`` holds the
    listeners' shared state (pools, rate limiter) for shutdown and tests."""
    app = App(client=client, signing_secret=signing_secret, process_before_response=True, name="newsdesk")
    app.deps = register_listeners(app, answer_fn, store, policy or Policy.from_env())  # type: ignore[attr-defined]
    return app


__all__ = ["build_app", "web_client", "retry_handlers", "Deps"]
