"""The Slack adapter's settings: environment variables only, checked before anything starts.

Tokens and the signing secret are read from the environment and never logged, printed or
put in an error message: a message names the variable and what its value must look like.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from retrieval.errors import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"

# name -> (default, description). docs/slack.md documents the same table.
SLACK_ENV_VARS: dict[str, tuple[str, str]] = {
    "SLACK_BOT_TOKEN": ("", "Bot User OAuth Token (xoxb-...), from OAuth & Permissions. Always required."),
    "SLACK_APP_TOKEN": ("", "App-level token (xapp-...) with connections:write. Socket Mode only."),
    "SLACK_SIGNING_SECRET": ("", "Signing Secret, from Basic Information. HTTP mode (--http) only."),
    "SLACK_API_URL": (DEFAULT_API_URL, "Base URL of Slack's Web API (tests point it at a local fake)."),
    "NEWSDESK_SLACK_HOST": ("0.0.0.0", "Address the --http server binds to (127.0.0.1 behind a local proxy)."),
}

_HOW = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your app's OAuth & Permissions page "
                       "(install the app to the workspace first)",
    "SLACK_APP_TOKEN": "an app-level token (xapp-...) with the connections:write scope, from your app's "
                       "Basic Information > App-Level Tokens",
    "SLACK_SIGNING_SECRET": "the Signing Secret from your app's Basic Information > App Credentials",
}
_PREFIX = {"SLACK_BOT_TOKEN": "xoxb-", "SLACK_APP_TOKEN": "xapp-"}


def _get(name: str) -> str:
    value = os.environ.get(name)
    return SLACK_ENV_VARS[name][0] if value is None or value.strip() == "" else value.strip()


def _secret(name: str, mode: str) -> str:
    value = _get(name)
    if not value:
        raise ConfigError(f"{name} is not set: {mode} needs it. Set {name} to {_HOW[name]}.")
    prefix = _PREFIX.get(name)
    if prefix and not value.startswith(prefix):
        # never echo the value, not even part of it
        raise ConfigError(f"{name} does not look right: it must start with {prefix}. "
                          f"Set {name} to {_HOW[name]}.")
    return value


def api_url() -> str:
    url = _get("SLACK_API_URL")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"SLACK_API_URL={url!r} is not an http(s) URL; leave it unset for {DEFAULT_API_URL}")
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    api_url: str
    app_token: str = field(default="", repr=False)  # Socket Mode
    signing_secret: str = field(default="", repr=False)  # HTTP mode
    host: str = "0.0.0.0"

    @classmethod
    def from_env(cls, http: bool) -> "SlackSettings":
        mode = "the HTTP server (--http)" if http else "Socket Mode (the default; --http serves the Events API)"
        bot_token = _secret("SLACK_BOT_TOKEN", mode)
        if http:
            return cls(bot_token=bot_token, api_url=api_url(),
                       signing_secret=_secret("SLACK_SIGNING_SECRET", mode), host=_get("NEWSDESK_SLACK_HOST"))
        return cls(bot_token=bot_token, api_url=api_url(), app_token=_secret("SLACK_APP_TOKEN", mode))
