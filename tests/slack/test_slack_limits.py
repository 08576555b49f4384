"""The policy settings and the pieces that enforce them, without Slack: allow-lists, the
per-person rate limit, the bounded pool, and reading a Slack message as a question."""
import threading

import pytest

from bot.slack import blocks
from bot.slack.conversation import read_question
from bot.slack.limits import Access, RateLimiter, WorkPool, seconds
from bot.slack.settings import SLACK_ENV_VARS, Policy
from retrieval.errors import ConfigError

POLICY_VARS = [n for n in SLACK_ENV_VARS if n.startswith("NEWSDESK_SLACK_")] + ["NEWSDESK_MAX_QUESTION_CHARS"]


@pytest.fixture
def env(monkeypatch):
    for name in POLICY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_policy_defaults(env):
    p = Policy.from_env()
    assert (p.allowed_channels, p.allowed_users, p.rate, p.workers, p.queue, p.max_question_chars) == (
        frozenset(), frozenset(), 10, 4, 50, 1000)
    assert p == Policy()


def test_policy_from_env(env):
    env.setenv("NEWSDESK_SLACK_ALLOWED_CHANNELS", " C0123ABCD, G0456,dm ,, ")
    env.setenv("NEWSDESK_SLACK_ALLOWED_USERS", "U0001,W0002")
    env.setenv("NEWSDESK_SLACK_RATE", "0")
    env.setenv("NEWSDESK_SLACK_WORKERS", "2")
    env.setenv("NEWSDESK_SLACK_QUEUE", "0")
    env.setenv("NEWSDESK_MAX_QUESTION_CHARS", "300")
    p = Policy.from_env()
    assert p.allowed_channels == {"C0123ABCD", "G0456", "DM"} and p.allowed_users == {"U0001", "W0002"}
    assert (p.rate, p.workers, p.queue, p.max_question_chars) == (0, 2, 0, 300)


@pytest.mark.parametrize("name, value, says", [
    ("NEWSDESK_SLACK_RATE", "abc", "NEWSDESK_SLACK_RATE='abc' is not a whole number"),
    ("NEWSDESK_SLACK_RATE", "-1", "NEWSDESK_SLACK_RATE=-1 must be at least 0"),
    ("NEWSDESK_SLACK_WORKERS", "0", "NEWSDESK_SLACK_WORKERS=0 must be at least 1"),
    ("NEWSDESK_SLACK_QUEUE", "ten", "NEWSDESK_SLACK_QUEUE='ten' is not a whole number"),
    ("NEWSDESK_MAX_QUESTION_CHARS", "5", "NEWSDESK_MAX_QUESTION_CHARS=5 must be at least 20"),
    ("NEWSDESK_SLACK_ALLOWED_CHANNELS", "C0001,#general", "NEWSDESK_SLACK_ALLOWED_CHANNELS: '#general' is not a conv"),
    ("NEWSDESK_SLACK_ALLOWED_USERS", "@alice", "NEWSDESK_SLACK_ALLOWED_USERS: '@alice' is not a user ID"),
])
def test_bad_policy_values_name_the_variable(env, name, value, says):
    env.setenv(name, value)
    with pytest.raises(ConfigError, match="^" + __import__("re").escape(says)):
        Policy.from_env()


def test_bad_policy_stops_the_bot_before_it_starts(env, capsys):
    from bot.slack.main import main

    env.setenv("SLACK_BOT_TOKEN", "xoxb-x")
    env.setenv("SLACK_SIGNING_SECRET", "s")
    env.setenv("NEWSDESK_SLACK_RATE", "abc")
    assert main(["--http", "--port", "0"]) == 1
    assert capsys.readouterr().err.startswith("error: NEWSDESK_SLACK_RATE='abc' is not a whole number")


def test_bad_log_level_names_the_variable(env):
    from bot.slack.settings import log_level

    env.setenv("NEWSDESK_SLACK_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="NEWSDESK_SLACK_LOG_LEVEL='LOUD' is not a log level"):
        log_level()
    env.setenv("NEWSDESK_SLACK_LOG_LEVEL", "debug")
    assert log_level() == 10


def test_access():
    everyone = Access()
    assert everyone.user_allowed("U1") and everyone.channel_allowed("C1") and everyone.channel_allowed("D1")
    some = Access(channels=frozenset({"C1"}), users=frozenset({"U1"}))
    assert some.user_allowed("U1") and not some.user_allowed("U2") and not some.user_allowed(None)
    assert some.channel_allowed("C1") and not some.channel_allowed("C2") and not some.channel_allowed("D1")
    assert Access(channels=frozenset({"C1", "DM"})).channel_allowed("D9")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_rate_limiter_sliding_window():
    clock = Clock()
    rl = RateLimiter(2, window=60, clock=clock)
    assert rl.take("U1") == 0
    clock.now += 10
    assert rl.take("U1") == 0
    clock.now += 10
    assert rl.take("U1") == pytest.approx(40)  # the first question leaves the window in 40 s
    assert rl.take("U2") == 0  # per person
    clock.now += 40
    assert rl.take("U1") == 0
    assert rl.take("U1") == pytest.approx(10)
    rl.refund("U1")  # the last one was not answered after all (busy): it counts no more
    assert rl.take("U1") == 0
    assert seconds(0.2) == 1 and seconds(49.01) == 50


def test_rate_limiter_off_and_forgets_idle_people():
    assert all(RateLimiter(0).take("U1") == 0 for _ in range(100))
    clock = Clock()
    rl = RateLimiter(1, window=60, clock=clock)
    for i in range(999):
        rl.take(f"U{i}")
    assert len(rl) == 999
    clock.now += 61
    rl.take("Unew")  # the 1000th call sweeps people idle for a whole window
    assert len(rl) == 1


def test_work_pool_is_bounded_and_survives_failing_jobs(caplog):
    pool = WorkPool(threads=1, backlog=1, name="t")
    gate, ran = threading.Event(), []
    assert pool.submit(gate.wait, 5) and pool.submit(ran.append, 1)
    assert pool.pending == 2 and not pool.submit(ran.append, 2)  # full: refused at once
    gate.set()
    pool.shutdown()
    assert ran == [1] and pool.pending == 0
    pool = WorkPool(threads=1, backlog=0, name="t2")
    assert pool.submit(lambda: 1 / 0)
    pool.shutdown()
    assert pool.pending == 0 and "t2: a job failed" in caplog.text
    assert not pool.submit(ran.append, 3)  # shut down: refused, not lost silently
    with pytest.raises(ValueError):
        WorkPool(threads=0, backlog=1, name="bad")


@pytest.mark.parametrize("text, question, problem", [
    ("<@UBOT> Who is <https://example.com|Guaido>?", "Who is Guaido?", None),
    ("<@UBOT>  ¿Quién   es\tGuaidó? ", "¿Quién es Guaidó?", None),
    ("<@UBOT> 10:30: what happened then?", "10:30: what happened then?", None),
    ("<@UBOT> :smile::smile:", "", blocks.NO_WORDS_TEXT),
    ("<@UBOT|newsdesk>", "", blocks.USAGE_TEXT),
    ("\x1b[0m\x00", "", blocks.USAGE_TEXT),
])
def test_read_question(text, question, problem):
    q = read_question(text, "UBOT", 1000)
    assert (q.text, q.problem, q.notice) == (question, problem, None)


def test_read_question_cuts_long_text_after_a_word():
    q = read_question("alpha " * 100, None, 50)
    assert q.text == ("alpha " * 8).strip() and q.notice == blocks.truncated_text(599, 47)
    q = read_question("x" * 5000, None, 50)  # no space to cut at: cut at the limit
    assert q.text == "x" * 50 and "5,000 characters" in q.notice
