"""Settings, start-up checks, the feedback store and the manifest (no Slack, no models)."""
import sys

import pytest
import yaml
from slack_fakes import abstained_answer, cited_answer

from bot.slack.feedback import FeedbackStore, print_feedback
from bot.slack.main import connect, main, serve_socket_mode
from bot.slack.settings import SlackSettings
from retrieval.errors import ConfigError

SLACK_VARS = ("SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_API_URL", "NEWSDESK_SLACK_HOST")


@pytest.fixture
def clean_env(monkeypatch):
    for name in SLACK_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("http, env, names", [
    (True, {}, ["SLACK_BOT_TOKEN", "xoxb-"]),
    (False, {}, ["SLACK_BOT_TOKEN"]),
    (True, {"SLACK_BOT_TOKEN": "xoxp-user-token-value"}, ["SLACK_BOT_TOKEN", "must start with xoxb-"]),
    (True, {"SLACK_BOT_TOKEN": "xoxb-bot-token-value"}, ["SLACK_SIGNING_SECRET", "Signing Secret"]),
    (False, {"SLACK_BOT_TOKEN": "xoxb-bot-token-value"}, ["SLACK_APP_TOKEN", "xapp-"]),
    (False, {"SLACK_BOT_TOKEN": "xoxb-bot-token-value", "SLACK_APP_TOKEN": "xoxb-app-token-value"},
     ["SLACK_APP_TOKEN", "must start with xapp-"]),
    (True, {"SLACK_BOT_TOKEN": "xoxb-bot-token-value", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "slack.com"},
     ["SLACK_API_URL"]),
])
def test_missing_or_malformed_settings_name_the_variable(clean_env, http, env, names):
    for key, value in env.items():
        clean_env.setenv(key, value)
    with pytest.raises(ConfigError) as err:
        SlackSettings.from_env(http=http)
    for name in names:
        assert name in str(err.value)
    assert "token-value" not in str(err.value)  # never echo a secret


def test_settings_defaults_and_repr_hides_secrets(clean_env):
    clean_env.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret")
    clean_env.setenv("SLACK_SIGNING_SECRET", "sign-secret")
    s = SlackSettings.from_env(http=True)
    assert s.api_url == "https://slack.com/api/" and s.host == "0.0.0.0"
    assert "very-secret" not in repr(s) and "sign-secret" not in repr(s)
    clean_env.setenv("SLACK_API_URL", "http://127.0.0.1:9/api")
    assert SlackSettings.from_env(http=True).api_url == "http://127.0.0.1:9/api/"


def test_rejected_bot_token_is_a_config_error(slack_api):
    settings = SlackSettings(bot_token="xoxb-invalid", api_url=slack_api.url, signing_secret="s")
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN.*invalid_auth") as err:
        connect(settings)
    assert "xoxb-invalid" not in str(err.value)
    client, auth = connect(SlackSettings(bot_token="xoxb-good", api_url=slack_api.url))
    assert auth["user_id"] == "UBOT" and client.base_url == slack_api.url


def test_unreachable_slack_is_a_config_error():
    with pytest.raises(ConfigError, match="Cannot reach Slack's Web API at http://127.0.0.1:9/api/"):
        connect(SlackSettings(bot_token="xoxb-x", api_url="http://127.0.0.1:9/api/"))


def test_rejected_app_token_is_a_config_error(slack_api, home):
    from slack_sdk import WebClient

    from bot.slack.app import build_app

    app = build_app(WebClient(token="xoxb-test", base_url=slack_api.url), "", lambda q, h: cited_answer(q),
                    FeedbackStore.from_env())
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN.*invalid_auth") as err:
        serve_socket_mode(app, "xapp-wrong-value")
    assert "xapp-wrong-value" not in str(err.value)


def test_main_reports_config_errors_on_one_line_before_loading_models(clean_env, capsys):
    assert main(["--http", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: SLACK_BOT_TOKEN is not set") and err.count("\n") == 1


def test_bad_settings_fail_fast_without_importing_the_pipeline(tmp_path):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k not in SLACK_VARS}
    env.update(NEWSDESK_HOME=str(tmp_path), SLACK_BOT_TOKEN="xoxb-x")
    code = ("import sys; from bot.slack.main import main; rc = main(['--http']); "
            "print(rc, [m for m in ('retrieval.pipeline', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60,
                         cwd=str(tmp_path.parent))
    assert out.stdout.strip() == "1 []", out.stderr
    assert "SLACK_SIGNING_SECRET" in out.stderr and "xoxb-x" not in out.stderr


def test_feedback_store_round_trip(tmp_path):
    store = FeedbackStore(tmp_path / "db" / "feedback.sqlite3")
    store.save_answer("k1", cited_answer(), channel="C1", thread_ts="1.0", user="U1")
    store.save_answer("k2", abstained_answer(), channel="D1")
    assert store.get_answer("k1")["citations"][0]["quote"].startswith("giving the U.S.")
    assert store.get_answer("missing") is None
    assert store.record_vote("k1", "helpful", user="U7", channel="C1", ts="2.0") is True
    assert store.record_vote("k1", "not_helpful", user="U7", channel="C1", ts="2.0") is True  # changed mind
    assert store.record_vote("k2", "helpful", user="U8", channel="D1", ts="3.0") is True
    assert store.record_vote("gone", "helpful", user="U9", channel="C1", ts="4.0") is False
    rows = store.list_feedback()
    assert len(rows) == 3
    by_user = {r["user"]: r for r in rows}
    assert by_user["U7"]["vote"] == "not_helpful" and by_user["U8"]["citations"] == []
    assert by_user["U9"]["question"] == ""
    assert len(store.list_feedback(limit=1)) == 1
    with pytest.raises(ValueError):
        store.record_vote("k1", "meh", user="U7", channel="C1", ts="2.0")


def test_print_feedback_with_no_database(home, capsys):
    print_feedback()
    assert "No feedback yet" in capsys.readouterr().out
    assert not (home / "feedback.sqlite3").exists()


def test_print_feedback_escapes_rich_markup(home):
    from rich.console import Console

    answer = cited_answer("What about [bold]this[/bold]?")
    store = FeedbackStore.from_env()
    store.save_answer("k", answer, channel="C1")
    store.record_vote("k", "helpful", user="U1", channel="C1", ts="1.0")
    console = Console(record=True, width=250)
    print_feedback(limit=5, console=console)
    assert "[bold]this[/bold]" in console.export_text()


def test_manifest_has_the_scopes_events_command_and_modes():
    from pathlib import Path

    manifest = yaml.safe_load((Path(__file__).resolve().parents[2] / "bot/slack/manifest.yml").read_text())
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == {
        "app_mentions:read", "chat:write", "im:history", "im:read", "im:write", "channels:history",
        "groups:history", "commands"}
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention", "message.im"]
    assert settings["interactivity"]["is_enabled"] is True and settings["socket_mode_enabled"] is True
    assert [c["command"] for c in manifest["features"]["slash_commands"]] == ["/newsdesk"]


def test_docs_list_every_slack_setting():
    from pathlib import Path

    from bot.slack.settings import SLACK_ENV_VARS

    root = Path(__file__).resolve().parents[2]
    # docs/slack.md is the README's "Slack" section; it may live in either place
    docs = "".join(p.read_text(encoding="utf-8") for p in (root / "docs/slack.md", root / "README.md")
                   if p.exists())
    for name in (*SLACK_ENV_VARS, "NEWSDESK_HOME"):
        assert f"`{name}`" in docs
