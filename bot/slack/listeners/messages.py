"""Direct messages: every message a person sends the bot is a question; a thread is a conversation."""
from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.conversation import Deps, ask_in_thread


def is_question(event: dict, bot_user_id: str | None) -> bool:
    """A person's new DM to the bot: not a bot (itself included), not an edit, deletion or join."""
    return (event.get("channel_type") == "im"
            and not event.get("subtype")  # message_changed, message_deleted, bot_message, ...
            and not event.get("bot_id")
            and bool(event.get("user")) and event.get("user") != bot_user_id)


def register(app: App, deps: Deps) -> None:
    def on_message(ack: Ack, event: dict, client: WebClient, context: BoltContext) -> None:
        ack()  # every message event is acknowledged, so Slack never retries one we skip
        if is_question(event, context.bot_user_id):
            ask_in_thread(event, client, context, deps, require_mention=False)

    app.event("message")(on_message)
