"""Wires every listener to the App. Each listener is one job in its own file."""
from __future__ import annotations

from slack_bolt import App

from bot.slack.conversation import AnswerFn, Deps
from bot.slack.feedback import FeedbackStore
from bot.slack.listeners import actions, commands, dedupe, mentions, messages


def register_listeners(app: App, answer_fn: AnswerFn, store: FeedbackStore) -> Deps:
    """Registers the retry filter, mentions, DMs, /newsdesk and the feedback buttons."""
    deps = Deps(answer_fn=answer_fn, store=store)
    dedupe.register(app, deps)
    mentions.register(app, deps)
    messages.register(app, deps)
    commands.register(app, deps)
    actions.register(app, deps)
    return deps
