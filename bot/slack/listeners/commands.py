"""/newsdesk QUESTION: quick checks and an ephemeral ack within Slack's 3 seconds, then the
answer, ephemeral too (only the asker sees it), from the answer pool.

A refusal, "slow down", "busy" or the usage text is the ack itself: no extra Slack call.
"""
from __future__ import annotations

import logging

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.conversation import Deps, Question, answer, friendly_error, read_question, remember

COMMAND = "/newsdesk"
log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def on_command(ack: Ack, command: dict, client: WebClient, respond: Respond) -> None:
        channel, user = command.get("channel_id"), command.get("user_id")
        question = read_question(command.get("text") or "", None, deps.policy.max_question_chars)
        reply = deps.refusal(user, channel) or question.problem or deps.too_fast(user)
        if reply is None and not deps.answers.submit(answer_command, deps, question, channel, user, client, respond):
            deps.limiter.refund(user or "")
            log.warning("busy: %d questions answering or waiting; told %s to try again", deps.answers.capacity, user)
            reply = blocks.BUSY_TEXT
        if reply is not None:
            ack(text=blocks.escape(reply), response_type="ephemeral")
        else:
            ack(text=f"Searching the articles for “{blocks.fit(question.text, 500)}”...", response_type="ephemeral")

    app.command(COMMAND)(on_command)


def answer_command(deps: Deps, question: Question, channel: str | None, user: str | None, client: WebClient,
                   respond: Respond) -> None:
    result, error = answer(deps, question.text, [])
    if result is None:
        post = {"text": blocks.escape(error or "")}
    else:
        post = blocks.message(result, remember(deps, result, channel=channel, user=user), question.notice)
    try:
        client.chat_postEphemeral(channel=channel, user=user, **post)
    except SlackApiError as exc:
        # not_in_channel / channel_not_found: the bot is not in that conversation, but the
        # command's response_url reaches the user anywhere.
        log.info("chat.postEphemeral failed (%s); answering through the response_url",
                 exc.response.get("error"))
        try:
            respond(response_type="ephemeral", replace_original=False, **post)
        except Exception:  # noqa: BLE001
            log.exception("could not answer %s through the response_url either", user)
    except Exception as exc:  # noqa: BLE001 - Slack failed even after retries: say so if we can
        log.exception("could not post the answer for %s in %s", user, channel)
        try:
            respond(text=blocks.escape(friendly_error(exc)), response_type="ephemeral", replace_original=False)
        except Exception:  # noqa: BLE001
            log.exception("could not tell %s that answering failed", user)
