"""@newsdesk in a channel: answer in the question's thread, with the thread as history."""
from __future__ import annotations

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot.slack.conversation import Deps, ask_in_thread


def register(app: App, deps: Deps) -> None:
    def on_mention(ack: Ack, event: dict, client: WebClient, context: BoltContext) -> None:
        ack()
        if event.get("bot_id") or event.get("subtype") or event.get("edited"):
            return  # bots (never loop), edits (already answered), joins...
        if context.bot_user_id and event.get("user") == context.bot_user_id:
            return
        # in a channel thread only messages that mention the bot were questions to it; in a DM all were
        ask_in_thread(event, client, context, deps, require_mention=not event["channel"].startswith("D"))

    app.event("app_mention")(on_mention)
