"""Builds the Bolt App. Socket Mode and HTTP (main.py) serve this same App.

``process_before_response=True``: a listener's ack function runs before Slack gets its
response, and the slow work (answering) runs in lazy listeners, as Bolt documents for
servers that must answer Slack within 3 seconds.
"""
from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient

from bot.slack.conversation import AnswerFn
from bot.slack.feedback import FeedbackStore
from bot.slack.listeners import register_listeners


def build_app(client: WebClient, signing_secret: str, answer_fn: AnswerFn, store: FeedbackStore) -> App:
    app = App(client=client, signing_secret=signing_secret, process_before_response=True, name="newsdesk")
    register_listeners(app, answer_fn, store)
    return app
