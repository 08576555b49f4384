"""Wires every listener to the App. Each listener is one job in its own file."""
from __future__ import annotations

from slack_bolt import App

from bot.slack.conversation import AnswerFn, Deps
from bot.slack.feedback import FeedbackStore
from bot.slack.listeners import actions, commands, dedupe, mentions, messages
from bot.slack.settings import Policy


def register_listeners(app: App, answer_fn: AnswerFn, store: FeedbackStore, policy: Policy | None = None) -> Deps:
    """Registers the retry filter, mentions, DMs, /newsdesk and the feedback buttons."""
    deps = Deps(answer_fn=answer_fn, store=store, policy=policy or Policy())
    dedupe.register(app, deps)
    mentions.register(app, deps)
    messages.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    return deps
