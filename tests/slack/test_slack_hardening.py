"""Hostile or unlucky input through Slack, over real HTTP against the fake Web API: odd
questions, article text that tries to ping, allow-lists, the rate limit, a full queue,
Slack's own 429s and 5xx, and secrets in the logs."""
import json
import logging
import re
import time

import pytest
from slack_fakes import BOT_TOKEN, BOT_USER, SIGNING_SECRET, FakeAnswer, abstained_answer, cited_answer, dm, mention

from bot.slack import blocks
from bot.slack.settings import Policy

LIVE = re.compile(r"<[!@#]|<https?:|<mailto:")


def _settle(seconds=0.3):
    time.sleep(seconds)


def _mrkdwn(body: dict) -> list[str]:
    """Every mrkdwn string of a chat.* call: the fallback text, sections and context elements."""
    out = [body.get("text") or ""]
    for b in body.get("blocks") or []:
        if b.get("text", {}).get("type") == "mrkdwn":
            out.append(b["text"]["text"])
        out += [e["text"] for e in b.get("elements", []) if e.get("type") == "mrkdwn"]
    return out


def _thread_replies(api, thread_ts):
    return [c.body["text"] for c in api.of("chat.postMessage") if c.body.get("thread_ts") == thread_ts]


def _no_raw_errors(text: str) -> None:
    for word in ("Traceback", "Error", "Exception", "File \""):
        assert word not in text, text


# --------------------------------------------------------------------------- bad questions
LONG = "Who is Juan Guaido and " + "why " * 25_000 + "?"  # about 100,000 characters


@pytest.mark.parametrize("text, asked", [
    ("¿Quién es Juan Guaidó?", "¿Quién es Juan Guaidó?"),
    ("谁是瓜伊多？", "谁是瓜伊多？"),
    ("من هو خوان غوايدو؟", "من هو خوان غوايدو؟"),
    ("'; DROP TABLE articles; --", "'; DROP TABLE articles; --"),
    ("$(rm -rf /) &amp;&amp; echo `id` | sh; cat /etc/passwd", "$(rm -rf /) && echo `id` | sh; cat /etc/passwd"),
    ("&lt;script&gt;alert(1)&lt;/script&gt; who is Guaido?", "<script>alert(1)</script> who is Guaido?"),
    ("Who\u0007 is \u001b[31mGuaido\u001b[0m?\u0000\u200b", "Who is Guaido?"),
    ("Who is Guaido? :thinking_face:", "Who is Guaido? :thinking_face:"),
])
def test_odd_but_real_questions_reach_the_answer_function_and_get_an_answer(bot, text, asked):
    bot.send.event(mention(f"<@{BOT_USER}> {text}", "300.000100"))
    update = bot.api.wait_for("chat.update")[0]
    assert bot.answer.calls == [(asked, [])]
    assert update.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."


@pytest.mark.parametrize("text, reply", [
    (f"<@{BOT_USER}>", blocks.USAGE_TEXT),
    (f"<@{BOT_USER}>   \n\t ", blocks.USAGE_TEXT),
    (f"<@{BOT_USER}> \u0000\u0007\u001b[2J\u200b", blocks.USAGE_TEXT),
    (f"<@{BOT_USER}> :tada: :+1::skin-tone-2: :flag-ve:", blocks.NO_WORDS_TEXT),
    (f"<@{BOT_USER}> 🎉🎉🎉 🙈", blocks.NO_WORDS_TEXT),
    (f"<@{BOT_USER}> ?!? ... --", blocks.NO_WORDS_TEXT),
])
def test_non_questions_get_a_friendly_reply_in_thread_and_are_not_answered(bot, text, reply):
    bot.send.event(mention(text, "310.000100"))
    post = bot.api.wait_for("chat.postMessage")[0]
    assert post.body["thread_ts"] == "310.000100" and post.body["text"] == reply
    assert post.body["unfurl_links"] is False and post.body["unfurl_media"] is False
    _settle()
    assert bot.answer.calls == [] and bot.api.of("chat.update") == []


def test_a_100000_character_question_is_cut_with_a_notice(bot):
    bot.send.event(mention(f"<@{BOT_USER}> {LONG}", "320.000100"))
    update = bot.api.wait_for("chat.update")[0]
    (asked, _), = bot.answer.calls
    full = " ".join(LONG.split())
    assert len(asked) <= 1000 and full.startswith(asked) and asked.endswith("why")
    context = next(b for b in update.body["blocks"] if b["type"] == "context")["elements"][0]["text"]
    assert blocks.truncated_text(len(full), len(asked)) in context
    assert f"{len(full):,} characters long" in context
    assert update.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."


def test_the_question_limit_is_a_setting(start_bot):
    bot = start_bot(Policy(max_question_chars=40))
    bot.send.event(dm("What did the weather service say about rainfall in the capital on Friday?", "321.0001"))
    update = bot.api.wait_for("chat.update")[0]
    assert bot.answer.calls[0][0] == "What did the weather service say about"
    assert "read only its first 38" in json.dumps(update.body)


def test_slash_command_odd_questions(bot):
    reply = bot.send.command("   ", bot.api.response_url)
    assert reply.json()["text"] == blocks.USAGE_TEXT
    reply = bot.send.command(":tada: :tada:", bot.api.response_url)
    assert reply.json()["text"] == blocks.NO_WORDS_TEXT
    reply = bot.send.command(LONG, bot.api.response_url)
    assert reply.status == 200 and len(reply.json()["text"]) < 600
    eph = bot.api.wait_for("chat.postEphemeral")[0]
    assert len(bot.answer.calls) == 1 and len(bot.answer.calls[0][0]) <= 1000
    assert "characters long, so I read only its first" in json.dumps(eph.body)


def test_a_failing_answer_function_gives_a_friendly_status_update_and_a_logged_traceback(bot, caplog):
    caplog.set_level(logging.ERROR)

    def broken(question):
        raise RuntimeError("backend exploded at /srv/newsdesk/internal.py line 42")

    bot.answer.make = broken
    bot.send.event(mention(f"<@{BOT_USER}> Who is Guaido?", "330.000100"))
    update = bot.api.wait_for("chat.update")[0]
    status = bot.api.of("chat.postMessage")[0]
    assert status.body["text"] == blocks.STATUS_TEXT
    assert (update.body["channel"], update.body["ts"]) == ("C0001", "1700000000.000001")  # the status message
    assert update.body["text"].startswith("Sorry, something went wrong while answering that.")
    _no_raw_errors(update.body["text"])
    assert "exploded" not in update.body["text"] and "/srv" not in update.body["text"]
    failed = [r for r in caplog.records if r.exc_info and r.exc_info[0] is RuntimeError]
    assert failed and "Who is Guaido?" in failed[0].getMessage()

    reply = bot.send.command("Who is Guaido?", bot.api.response_url)
    assert reply.status == 200
    eph = bot.api.wait_for("chat.postEphemeral")[0]
    assert eph.body["text"].startswith("Sorry, something went wrong") and "exploded" not in eph.body["text"]


# --------------------------------------------------------------------------- nothing pings
PINGS = "<!channel> <!here> <!everyone> <@U123> <#C1> <https://evil.example|click> <mailto:a@b.c|mail> & co"


def _evil(question):
    a = cited_answer(question)
    a.answer = f"Look {PINGS} [1]."
    a.backend = "local<!here>"
    a.notes = [f"The sources say {PINGS}"]
    c = a.citations[0]
    c.quote, c.title, c.source = f"quote {PINGS}", f"Title {PINGS}", f"file<@U123>.txt"
    return a


def _evil_abstention(question):
    a = abstained_answer(question)
    a.answer = f"The articles don't say {PINGS}."
    for p in a.passages:
        p.text, p.title = f"passage {PINGS}", f"Title {PINGS}"
    return a


@pytest.mark.parametrize("make", [_evil, _evil_abstention])
def test_article_text_never_becomes_a_mention_or_link(make):
    msg = blocks.message(make("q"), "key", notice=f"Your question {PINGS}")
    for text in _mrkdwn(msg):
        assert "<" not in text, text  # nothing the bot posts opens Slack's <...> syntax
    assert not LIVE.search(json.dumps(msg))
    shown = "\n".join(_mrkdwn(msg))
    assert "&lt;!channel&gt;" in shown and "&lt;@U123&gt;" in shown and "&lt;#C1&gt;" in shown
    assert "&lt;https://evil.example|click&gt;" in shown and "&amp; co" in shown


def test_an_answer_quoting_pings_is_posted_escaped_without_unfurls(bot):
    bot.answer.make = _evil
    bot.send.event(mention(f"<@{BOT_USER}> <!channel> who? <https://x.example|x>", "340.000100"))
    update = bot.api.wait_for("chat.update")[0]
    assert bot.answer.calls[0][0] == "<!channel> who? x"
    for text in _mrkdwn(update.body):
        assert "<" not in text, text
    assert not LIVE.search(json.dumps(update.body))
    status = bot.api.of("chat.postMessage")[0]
    assert status.body["unfurl_links"] is False and status.body["unfurl_media"] is False

    reply = bot.send.command("<!channel> and <@U999>?", bot.api.response_url)
    assert not LIVE.search(reply.body) and "&lt;!channel&gt;" in reply.json()["text"]
    eph = bot.api.wait_for("chat.postEphemeral")[0]
    assert not LIVE.search(json.dumps(eph.body))


# --------------------------------------------------------------------------- allow-lists
def test_allow_lists_refuse_politely_and_answer_nothing(start_bot):
    bot = start_bot(Policy(allowed_channels=frozenset({"C0001"}), allowed_users=frozenset({"U0001", "U0002"})))
    bot.send.event(mention(f"<@{BOT_USER}> who?", "350.000100", user="U0666"))
    bot.send.event(mention(f"<@{BOT_USER}> who?", "350.000200", channel="C0999"))
    bot.send.event(dm("who?", "350.000300"))  # DMs are not on the channel list
    reply = bot.send.command("who?", bot.api.response_url, user="U0666")
    assert reply.json() == {"text": blocks.USER_NOT_ALLOWED_TEXT, "response_type": "ephemeral"}
    reply = bot.send.command("who?", bot.api.response_url, channel="C0999")
    assert reply.json()["text"] == blocks.CHANNEL_NOT_ALLOWED_TEXT
    bot.api.wait_for("chat.postMessage", 3)
    _settle()
    assert _thread_replies(bot.api, "350.000100") == [blocks.USER_NOT_ALLOWED_TEXT]
    assert _thread_replies(bot.api, "350.000200") == [blocks.CHANNEL_NOT_ALLOWED_TEXT]
    assert _thread_replies(bot.api, "350.000300") == [blocks.CHANNEL_NOT_ALLOWED_TEXT]
    assert bot.answer.calls == [] and bot.api.of("chat.update") == [] and bot.api.of("chat.postEphemeral") == []

    bot.send.event(mention(f"<@{BOT_USER}> allowed?", "350.000400", user="U0002"))
    bot.api.wait_for("chat.update")
    assert bot.answer.calls == [("allowed?", [])]


def test_dm_entry_allows_every_direct_message(start_bot):
    bot = start_bot(Policy(allowed_channels=frozenset({"C0001", "DM"})))
    bot.send.event(dm("who?", "351.000100", channel="D0042"))
    bot.api.wait_for("chat.update")
    assert bot.answer.calls == [("who?", [])]


# --------------------------------------------------------------------------- rate limit and queue
def test_rate_limit_per_person_says_when_to_try_again(start_bot):
    bot = start_bot(Policy(rate=2))
    for i in range(3):
        bot.send.event(mention(f"<@{BOT_USER}> question {i}", f"360.00010{i}"))
        time.sleep(0.05)
    bot.send.event(mention(f"<@{BOT_USER}> someone else", "360.000200", user="U0002"))
    bot.api.wait_for("chat.update", 3)
    _settle()
    assert sorted(q for q, _ in bot.answer.calls) == ["question 0", "question 1", "someone else"]
    (slow,) = _thread_replies(bot.api, "360.000102")
    wait = int(re.search(r"try again in (\d+) s", slow).group(1))
    assert slow.startswith("You're asking faster than I can keep up with (at most 2 questions a minute)")
    assert 55 <= wait <= 60
    reply = bot.send.command("a third?", bot.api.response_url)
    assert reply.json()["text"].startswith("You're asking faster") and len(bot.answer.calls) == 3


def test_full_queue_says_busy_instead_of_piling_up(start_bot):
    bot = start_bot(Policy(workers=1, queue=1))
    bot.answer.release.clear()
    bot.send.event(mention(f"<@{BOT_USER}> first", "370.000100", user="U0001"))
    assert bot.answer.started.wait(5)
    bot.send.event(mention(f"<@{BOT_USER}> second", "370.000200", user="U0002"))
    assert bot.deps.answers.pending == 2
    bot.send.event(mention(f"<@{BOT_USER}> third", "370.000300", user="U0003"))
    reply = bot.send.command("fourth", bot.api.response_url, user="U0004")
    assert reply.json()["text"] == blocks.BUSY_TEXT
    bot.api.wait_for("chat.postMessage", 3)
    assert _thread_replies(bot.api, "370.000300") == [blocks.BUSY_TEXT]
    bot.answer.release.set()
    bot.api.wait_for("chat.update", 2)
    _settle()
    assert [q for q, _ in bot.answer.calls] == ["first", "second"] and len(bot.api.of("chat.update")) == 2
    assert bot.deps.answers.pending == 0
    bot.send.event(mention(f"<@{BOT_USER}> third again", "370.000400", user="U0003"))  # room again
    bot.api.wait_for("chat.update", 3)


# --------------------------------------------------------------------------- Slack's faults
def test_429_and_5xx_from_slack_are_retried_and_the_answer_still_arrives(bot):
    bot.api.fail("chat.postMessage", 500, times=1)
    bot.api.fail("conversations.replies", 503, times=1)
    bot.api.fail("chat.update", 429, times=1, retry_after=1)
    bot.send.event(mention(f"<@{BOT_USER}> and then?", "380.000200", thread_ts="380.000100"))
    update = bot.api.wait_for("chat.update", ok_only=True, timeout=20)[0]
    assert update.body["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    assert [c.status for c in bot.api.of("chat.postMessage")] == [500, 200]
    assert [c.status for c in bot.api.of("conversations.replies")] == [503, 200]
    limited, ok = bot.api.of("chat.update")
    assert (limited.status, ok.status) == (429, 200) and ok.at - limited.at >= 1.0  # honoured Retry-After
    _settle()
    assert len(bot.api.of("chat.update", ok_only=True)) == 1 and len(bot.answer.calls) == 1


def test_slack_down_beyond_the_retries_still_tells_the_person(bot, caplog):
    caplog.set_level(logging.ERROR)
    bot.api.fail("chat.postMessage", 502, times=4)  # the first call and its 3 retries
    bot.send.event(mention(f"<@{BOT_USER}> anyone there?", "390.000100"))
    posts = bot.api.wait_for("chat.postMessage", 5, timeout=20, ok_only=False)
    assert [c.status for c in posts] == [502] * 4 + [200]
    assert posts[-1].body["text"].startswith("Sorry, something went wrong") and posts[-1].body["thread_ts"] == "390.000100"
    _no_raw_errors(posts[-1].body["text"])
    assert any("could not answer the question of U0001" in r.getMessage() and r.exc_info for r in caplog.records)


def test_startup_auth_test_is_retried_on_429(slack_api):
    from bot.slack.main import connect
    from bot.slack.settings import SlackSettings

    slack_api.fail("auth.test", 429, times=1, retry_after=0)
    _, auth = connect(SlackSettings(bot_token="xoxb-good", api_url=slack_api.url))
    assert auth["user_id"] == BOT_USER and [c.status for c in slack_api.of("auth.test")] == [429, 200]


# --------------------------------------------------------------------------- secrets
def test_tokens_and_signing_secret_never_reach_the_logs(start_bot, caplog):
    from bot.slack.main import connect
    from bot.slack.settings import SlackSettings
    from retrieval.errors import ConfigError

    caplog.set_level(logging.DEBUG)
    bot = start_bot(answer=FakeAnswer())
    bot.api.fail("chat.update", 429, times=1, retry_after=0)
    bot.api.errors["conversations.replies"] = "missing_scope"
    bot.send.event(mention(f"<@{BOT_USER}> follow-up?", "400.000200", thread_ts="400.000100"))
    bot.api.wait_for("chat.update", ok_only=True, timeout=15)
    bot.answer.make = lambda q: 1 / 0
    bot.send.event(dm("fails?", "400.000300"))
    bot.send.command("slash?", bot.api.response_url)
    bot.send.post(json.dumps({"type": "event_callback"}), "application/json", signed=False)  # 401
    bot.api.wait_for("chat.update", 2, ok_only=True)
    bot.api.wait_for("chat.postEphemeral")
    with pytest.raises(ConfigError):
        connect(SlackSettings(bot_token="xoxb-secret-token-invalid", api_url=bot.api.url))
    _settle()
    logged = caplog.text + "".join(str(r.exc_info) + str(r.__dict__) for r in caplog.records)
    assert any(r.name.startswith("slack_sdk") and r.levelno == logging.DEBUG for r in caplog.records)
    assert "Sending a request" in caplog.text  # slack_sdk's debug logging was on, with headers
    for secret in (BOT_TOKEN, SIGNING_SECRET, "xoxb-secret-token-invalid"):
        assert secret not in logged


def test_redact_filter_hides_secrets_and_token_shapes():
    from bot.slack.main import RedactSecrets

    f = RedactSecrets(["sign-secret-123"])
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "token %s secret %s", ("xoxb-1-abc", "sign-secret-123"),
                               None)
    try:
        raise ValueError("bad xapp-1-A-123")
    except ValueError:
        import sys
        record.exc_info = sys.exc_info()
    assert f.filter(record)
    assert record.getMessage() == "token [redacted] secret [redacted]"
    assert "xapp-1" not in record.exc_text and "[redacted]" in record.exc_text
