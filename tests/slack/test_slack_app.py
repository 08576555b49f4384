"""The Bolt app over real HTTP on 127.0.0.1, talking to a fake Slack Web API, with a fake
answer function (no models): mentions, DMs, threads, /newsdesk, buttons, signatures, retries."""
import json
import logging
import time

from rich.console import Console
from slack_fakes import BOT_ID, BOT_USER, abstained_answer, cited_answer, dm, mention

from bot.slack import blocks
from bot.slack.feedback import print_feedback


def _settle(api, seconds=0.3):
    """Gives background (lazy) listeners time to make any call they were going to make."""
    time.sleep(seconds)
    return api.methods()


def _chat_calls(api):
    return [m for m in api.methods() if m.startswith("chat.") or m == "conversations.replies"]


def test_mention_posts_status_then_updates_it_with_the_answer(bot):
    reply = bot.send.event(mention(f"<@{BOT_USER}> How long were US diplomats given to leave?", "111.000100"))
    assert reply.status == 200
    update = bot.api.wait_for("chat.update")[0]
    post = bot.api.of("chat.postMessage")[0]
    assert post.body["channel"] == "C0001" and post.body["thread_ts"] == "111.000100"
    assert post.body["text"] == blocks.STATUS_TEXT
    assert _chat_calls(bot.api) == ["chat.postMessage", "chat.update"]
    assert update.body["channel"] == "C0001" and update.body["ts"] == "1700000000.000001"
    assert update.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    section_texts = [b["text"]["text"] for b in update.body["blocks"] if b["type"] == "section"]
    assert any("[1] *Maduro breaks diplomatic relations with US* — `000_d11bcdd6ba81869e.txt`" in t
               and ">giving the U.S. delegation 72 hours to quit the country" in t for t in section_texts)
    assert any(b["type"] == "context" and "local" in b["elements"][0]["text"] for b in update.body["blocks"])
    assert bot.answer.calls == [("How long were US diplomats given to leave?", [])]
    assert update.headers["authorization"] == "Bearer xoxb-test"


def test_mention_inside_a_thread_replies_in_that_thread(bot):
    bot.send.event(mention(f"<@{BOT_USER}> and then?", "120.000200", thread_ts="120.000100"))
    bot.api.wait_for("chat.update")
    assert bot.api.of("chat.postMessage")[0].body["thread_ts"] == "120.000100"


def test_abstention_is_rendered_plainly(bot):
    bot.answer.make = abstained_answer
    bot.send.event(mention(f"<@{BOT_USER}> Who won the 1950 World Cup?", "130.000100"))
    update = bot.api.wait_for("chat.update")[0]
    assert update.body["text"].startswith("The articles don't say.")
    texts = [b["text"]["text"] for b in update.body["blocks"] if b["type"] == "section"]
    assert "*Closest passages*" in texts
    assert any(t.startswith("*Football results* — `003_747ea242d0380afb.txt`") for t in texts)


def test_dm_is_answered_in_a_thread(bot):
    bot.send.event(dm("What happened in Caracas?", "140.000100"))
    update = bot.api.wait_for("chat.update")[0]
    post = bot.api.of("chat.postMessage")[0]
    assert post.body["channel"] == "D0001" and post.body["thread_ts"] == "140.000100"
    assert update.body["channel"] == "D0001"
    assert bot.answer.calls[0][0] == "What happened in Caracas?"


def test_follow_up_in_a_thread_passes_earlier_turns_as_history(bot):
    answer_blocks = blocks.answer_blocks(cited_answer(), "k0")
    bot.api.replies[("C0001", "150.000100")] = [
        {"type": "message", "user": "U0001", "ts": "150.000100",
         "text": f"<@{BOT_USER}> How long were diplomats given &amp; why?"},
        {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": "150.000200",
         "text": "Maduro gave the U.S. delegation 72 hours to leave [1].", "blocks": answer_blocks},
        {"type": "message", "user": "U0002", "ts": "150.000300", "text": "chatter that is not for the bot"},
        {"type": "message", "bot_id": "BOTHER", "subtype": "bot_message", "ts": "150.000400", "text": "other bot"},
        {"type": "message", "user": "U0001", "ts": "150.000500", "text": f"<@{BOT_USER}> Who said that?"},
        {"type": "message", "user": "U0003", "ts": "150.000600", "text": f"<@{BOT_USER}> a later message"},
    ]
    bot.send.event(mention(f"<@{BOT_USER}> Who said that?", "150.000500", thread_ts="150.000100"))
    bot.api.wait_for("chat.update")
    replies = bot.api.of("conversations.replies")[0]
    assert replies.body["channel"] == "C0001" and replies.body["ts"] == "150.000100"
    assert bot.answer.calls == [("Who said that?", [("How long were diplomats given & why?",
                                                       "Maduro gave the U.S. delegation 72 hours to leave [1].")])]


def test_follow_up_in_a_dm_thread_counts_messages_without_a_mention(bot):
    bot.api.replies[("D0001", "160.000100")] = [
        {"type": "message", "user": "U0001", "ts": "160.000100", "text": "Who is Guaido?"},
        {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": "160.000200", "text": blocks.STATUS_TEXT},
        {"type": "message", "user": BOT_USER, "bot_id": BOT_ID, "ts": "160.000201",
         "text": "The opposition leader [1].", "blocks": blocks.answer_blocks(cited_answer(), "k1")},
    ]
    bot.send.event(dm("What did he do?", "160.000300", thread_ts="160.000100"))
    bot.api.wait_for("chat.update")
    assert bot.answer.calls == [("What did he do?", [("Who is Guaido?", "The opposition leader [1].")])]
    assert bot.api.of("chat.postMessage")[0].body["thread_ts"] == "160.000100"


def test_answer_with_channel_ping_in_article_text_is_escaped(bot):
    def evil(question):
        a = cited_answer(question)
        a.citations[0].quote = "Everyone look <!channel> now, says <@U123> & co"
        a.answer = "Look <!channel> [1]."
        return a

    bot.answer.make = evil
    bot.send.event(mention(f"<@{BOT_USER}> anything?", "170.000100"))
    update = bot.api.wait_for("chat.update")[0]
    dumped = json.dumps(update.body)
    assert "<!channel>" not in dumped and "<@U123>" not in dumped
    assert "&lt;!channel&gt;" in update.body["text"]
    assert any("&lt;!channel&gt; now, says &lt;@U123&gt; &amp; co" in b["text"]["text"]
               for b in update.body["blocks"] if b["type"] == "section")


def test_slash_command_acks_fast_then_answers_ephemerally(bot):
    bot.answer.release.clear()  # the answer takes "forever": the ack must not wait for it
    reply = bot.send.command("How long were US diplomats given to leave Venezuela?", bot.api.response_url)
    assert reply.status == 200 and reply.seconds < 3
    assert "Searching the articles" in reply.json()["text"]
    assert bot.answer.started.wait(5)
    assert bot.api.of("chat.postEphemeral") == []
    bot.answer.release.set()
    eph = bot.api.wait_for("chat.postEphemeral")[0]
    assert eph.body["channel"] == "C0001" and eph.body["user"] == "U0001"
    assert eph.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    assert any(b.get("block_id") == blocks.ANSWER_BLOCK_ID for b in eph.body["blocks"])
    assert "chat.postMessage" not in bot.api.methods()


def test_slash_command_where_the_bot_is_not_a_member_uses_the_response_url(bot):
    bot.api.errors["chat.postEphemeral"] = "not_in_channel"
    bot.send.command("How long?", bot.api.response_url)
    call = bot.api.wait_for("response_url")[0]
    assert call.body["response_type"] == "ephemeral"
    assert call.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."


def test_empty_slash_command_gets_usage(bot):
    reply = bot.send.command("   ", bot.api.response_url)
    assert reply.status == 200 and "/newsdesk How long" in reply.json()["text"]
    assert bot.answer.calls == []
    assert _settle(bot.api) == ["auth.test"]


def test_empty_mention_gets_usage_in_thread(bot):
    bot.send.event(mention(f"<@{BOT_USER}>", "175.000100"))
    post = bot.api.wait_for("chat.postMessage")[0]
    assert post.body["text"] == blocks.USAGE_TEXT and post.body["thread_ts"] == "175.000100"
    assert bot.answer.calls == []


def test_feedback_click_is_stored_and_listed(bot, home):
    bot.send.event(mention(f"<@{BOT_USER}> How long were US diplomats given to leave?", "180.000100"))
    update = bot.api.wait_for("chat.update")[0]
    button = next(b for b in update.body["blocks"] if b["type"] == "actions")["elements"][1]
    assert button["action_id"] == "feedback_not_helpful"
    payload = {"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U0042"},
               "api_app_id": "A0001", "trigger_id": "1.2", "response_url": bot.api.response_url + "click",
               "container": {"type": "message", "message_ts": update.body["ts"], "channel_id": "C0001"},
               "channel": {"id": "C0001"}, "message": {"ts": update.body["ts"], "text": update.body["text"]},
               "actions": [{"type": "button", "action_id": button["action_id"], "block_id": "newsdesk_feedback",
                            "value": button["value"], "action_ts": "181.0"}]}
    assert bot.send.action(payload).status == 200
    thanks = bot.api.wait_for("response_url")[0]
    assert thanks.body["response_type"] == "ephemeral" and thanks.body["replace_original"] is False
    rows = bot.store.list_feedback()
    assert len(rows) == 1
    row = rows[0]
    assert (row["vote"], row["user"], row["channel"], row["ts"]) == ("not_helpful", "U0042", "C0001", update.body["ts"])
    assert row["question"] == "How long were US diplomats given to leave?"
    assert row["answer"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    assert row["citations"][0]["source"] == "000_d11bcdd6ba81869e.txt"
    assert (home / "feedback.sqlite3").exists()

    console = Console(record=True, width=250)
    print_feedback(console=console)
    out = console.export_text()
    assert "not helpful" in out and "U0042" in out and "How long were US diplomats" in out
    assert "[1] 000_d11bcdd6ba81869e.txt" in out


def test_own_other_bot_and_edited_messages_are_ignored(bot):
    ignored = [
        dm("my own message", "190.000001", user=BOT_USER, bot_id=BOT_ID),
        dm("another bot", "190.000002", user="U0999", bot_id="B0999"),
        dm("bot message", "190.000003", subtype="bot_message", bot_id="B0999"),
        {"type": "message", "channel_type": "im", "channel": "D0001", "subtype": "message_changed",
         "ts": "190.000004", "message": {"user": "U0001", "text": "edited", "ts": "190.000000"}},
        {"type": "message", "channel_type": "im", "channel": "D0001", "subtype": "message_deleted",
         "ts": "190.000005", "deleted_ts": "190.000000"},
        mention(f"<@{BOT_USER}> from a bot", "190.000006", user="U0999", bot_id="B0999"),
        mention(f"<@{BOT_USER}> from myself", "190.000007", user=BOT_USER),
    ]
    for event in ignored:
        assert bot.send.event(event).status == 200
    assert _settle(bot.api) == ["auth.test"]
    assert bot.answer.calls == []
    bot.send.event(dm("a real question", "190.000100"))  # and the bot still works
    bot.api.wait_for("chat.update")
    assert bot.answer.calls == [("a real question", [])]


def test_bad_missing_or_stale_signature_is_rejected(bot):
    event = json.dumps({"type": "event_callback", "team_id": "T0001", "event_id": "EvSig",
                        "event": mention(f"<@{BOT_USER}> hi", "200.000100")})
    forged = {"X-Slack-Request-Timestamp": str(int(time.time())), "X-Slack-Signature": "v0=" + "0" * 64}
    assert bot.send.post(event, "application/json", forged, signed=False).status == 401
    assert bot.send.post(event, "application/json", signed=False).status == 401
    assert bot.send.post(event, "application/json", timestamp=int(time.time()) - 6 * 60).status == 401
    bot.send.secret = "another-secret"
    assert bot.send.post(event, "application/json").status == 401
    assert _settle(bot.api) == ["auth.test"]
    assert bot.answer.calls == []


def test_retry_of_an_event_being_answered_gets_no_second_answer(bot, caplog):
    caplog.set_level(logging.INFO, logger="bot.slack.listeners.dedupe")
    bot.answer.release.clear()
    event = mention(f"<@{BOT_USER}> slow question", "210.000100")
    assert bot.send.event(event, event_id="EvRetry").status == 200
    assert bot.answer.started.wait(5)
    retry = bot.send.event(event, event_id="EvRetry", headers={"X-Slack-Retry-Num": "1",
                                                               "X-Slack-Retry-Reason": "http_timeout"})
    assert retry.status == 200 and retry.seconds < 3
    again = bot.send.event(event, event_id="EvRetry", headers={"X-Slack-Retry-Num": "2"})
    assert again.status == 200
    bot.answer.release.set()
    bot.api.wait_for("chat.update")
    _settle(bot.api)
    assert len(bot.api.of("chat.postMessage")) == 1 and len(bot.api.of("chat.update")) == 1
    assert len(bot.answer.calls) == 1
    dropped = [r.getMessage() for r in caplog.records if "second delivery" in r.getMessage()]
    assert dropped == ["ignoring second delivery of event EvRetry (retry 1, http_timeout)",
                       "ignoring second delivery of event EvRetry (retry 2, -)"]


def test_same_message_as_mention_and_dm_is_answered_once(bot):
    text = f"<@{BOT_USER}> once please"
    bot.send.event(mention(text, "215.000100", channel="D0001"), event_id="EvA")
    bot.send.event(dm(text, "215.000100"), event_id="EvB")
    bot.api.wait_for("chat.update")
    _settle(bot.api)
    assert len(bot.api.of("chat.postMessage")) == 1 and len(bot.answer.calls) == 1


def test_failure_in_the_answer_function_gives_a_friendly_message(bot):
    from retrieval.errors import NoIndexError

    def broken(question):
        raise NoIndexError("No index found in /secret/path - run `newsdesk ingest corpus/` first.")

    bot.answer.make = broken
    bot.send.event(mention(f"<@{BOT_USER}> anything?", "220.000100"))
    update = bot.api.wait_for("chat.update")[0]
    assert update.body["text"].startswith("Sorry, I have no articles to search yet")
    assert "/secret/path" not in update.body["text"] and "blocks" not in update.body

    bot.answer.make = lambda q: 1 / 0
    bot.send.event(mention(f"<@{BOT_USER}> again?", "220.000200"))
    update = bot.api.wait_for("chat.update", 2)[1]
    assert update.body["text"].startswith("Sorry, something went wrong") and "ZeroDivision" not in update.body["text"]


def test_url_verification_challenge(bot):
    reply = bot.send.post(json.dumps({"type": "url_verification", "challenge": "abc123", "token": "x"}),
                          "application/json")
    assert reply.status == 200 and "abc123" in reply.body


def test_answer_still_posted_when_the_feedback_store_fails(bot, monkeypatch):
    import sqlite3

    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(bot.store, "save_answer", broken)
    bot.send.event(mention(f"<@{BOT_USER}> still answered?", "230.000100"))
    update = bot.api.wait_for("chat.update")[0]
    assert update.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    assert any(b["type"] == "actions" for b in update.body["blocks"])
