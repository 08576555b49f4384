"""The helpful / not helpful buttons under every answer: store the vote, thank the voter."""
from __future__ import annotations

import logging
import re

from slack_bolt import Ack, App, Respond

from bot.slack import blocks
from bot.slack.conversation import Deps

log = logging.getLogger(__name__)
VOTES = {blocks.HELPFUL: "helpful", blocks.NOT_HELPFUL: "not_helpful"}


def register(app: App, deps: Deps) -> None:
    def ack_vote(ack: Ack) -> None:
        ack()

    def record_vote(body: dict, action: dict, respond: Respond) -> None:
        vote = VOTES[action["action_id"]]
        container = body.get("container") or {}
        channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
        ts = container.get("message_ts") or (body.get("message") or {}).get("ts")
        user = (body.get("user") or {}).get("id", "")
        known = deps.store.record_vote(action.get("value", ""), vote, user=user, channel=channel, ts=ts)
        if not known:
            log.warning("vote for an answer this bot no longer has (key %r); stored without it",
                        action.get("value"))
        thanks = ("Thanks! Glad it helped." if vote == "helpful"
                  else "Thanks, noted. Your vote helps us improve the answers.")
        if body.get("response_url"):
            respond(text=thanks, response_type="ephemeral", replace_original=False)

    pattern = re.compile("^(" + "|".join(map(re.escape, VOTES)) + ")$")
    app.action(pattern)(ack=ack_vote, lazy=[record_vote])
