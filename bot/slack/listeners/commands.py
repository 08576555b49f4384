"""/newsdesk QUESTION: ack within Slack's 3 seconds, then answer ephemerally (only the asker sees it)."""
from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.conversation import Deps, answer, clean_text, remember

COMMAND = "/newsdesk"
log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def ack_command(ack: Ack, command: dict) -> None:
        question = clean_text(command.get("text") or "")
        if not question:
            ack(text=blocks.USAGE_TEXT, response_type="ephemeral")
        else:
            ack(text=f"Searching the articles for “{blocks.fit(question, 500)}”...", response_type="ephemeral")

    def answer_command(command: dict, client: WebClient, respond: Respond) -> None:
        question = clean_text(command.get("text") or "")
        if not question:
            return
        channel, user = command.get("channel_id"), command.get("user_id")
        result, error = answer(deps, question, [])
        if result is None:
            post = {"text": blocks.escape(error or "")}
        else:
            post = blocks.message(result, remember(deps, result, channel=channel, user=user))
        try:
            client.chat_postEphemeral(channel=channel, user=user, **post)
        except SlackApiError as exc:
            # not_in_channel / channel_not_found: the bot is not in that conversation, but the
            # command's response_url reaches the user anywhere.
            log.info("chat.postEphemeral failed (%s); answering through the response_url",
                     exc.response.get("error"))
            respond(response_type="ephemeral", replace_original=False, **post)

    app.command(COMMAND)(ack=ack_command, lazy=[answer_command])
