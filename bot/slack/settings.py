"""The Slack adapter's settings: environment variables only, checked before anything starts.

Tokens and the signing secret are read from the environment and never logged, printed or
put in an error message: a message names the variable and what its value must look like.
The policy settings (who may ask, how often, how many at once) are parsed here too, so a
bad value stops the bot at start with a message naming the variable.
"""
from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field

from retrieval.config import ENV_VARS as CORE_ENV_VARS
from retrieval.errors import ConfigError

DEFAULT_API_URL = "https://slack.com/api/"

# name -> (default, description). docs/slack.md documents the same table.
SLACK_ENV_VARS: dict[str, tuple[str, str]] = {
    "SLACK_BOT_TOKEN": ("", "Bot User OAuth Token (xoxb-...), from OAuth & Permissions. Always required."),
    "SLACK_APP_TOKEN": ("", "App-level token (xapp-...) with connections:write. Socket Mode only."),
    "SLACK_SIGNING_SECRET": ("", "Signing Secret, from Basic Information. HTTP mode (--http) only."),
    "SLACK_API_URL": (DEFAULT_API_URL, "Base URL of Slack's Web API (tests point it at a local fake)."),
    "NEWSDESK_SLACK_HOST": ("0.0.0.0", "Address the --http server binds to (127.0.0.1 behind a local proxy)."),
    "NEWSDESK_SLACK_ALLOWED_CHANNELS": ("", "Comma-separated conversation IDs (C..., G...; DM for every direct "
                                            "message) where the bot answers. Unset: everywhere."),
    "NEWSDESK_SLACK_ALLOWED_USERS": ("", "Comma-separated user IDs (U..., W...) whose questions are answered. "
                                         "Unset: everyone."),
    "NEWSDESK_SLACK_RATE": ("10", "Questions a person may ask per minute; more get a 'slow down' reply. 0: no limit."),
    "NEWSDESK_SLACK_WORKERS": ("4", "Questions answered at the same time."),
    "NEWSDESK_SLACK_QUEUE": ("50", "Questions that may wait for a worker; more get a 'busy, try again' reply."),
    "NEWSDESK_SLACK_LOG_LEVEL": ("INFO", "Log level: DEBUG, INFO, WARNING or ERROR. Secrets are never logged."),
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


# --------------------------------------------------------------------------- policy
_ID = re.compile(r"^[A-Z0-9]{2,}$")  # Slack IDs: C0123ABCD, G..., D..., U..., W...
ALL_DMS = "DM"  # in NEWSDESK_SLACK_ALLOWED_CHANNELS: every direct message
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _int(name: str, minimum: int, default: str | None = None) -> int:
    raw = os.environ.get(name, "").strip() or (default if default is not None else SLACK_ENV_VARS[name][0])
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to e.g. "
                          f"{default or SLACK_ENV_VARS[name][0]}, or unset it for the default.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}.")
    return value


def _ids(name: str, what: str, example: str, extra: tuple[str, ...] = ()) -> frozenset[str]:
    out = set()
    for item in (part.strip() for part in _get(name).split(",")):
        if not item:
            continue
        if item.upper() in extra:
            out.add(item.upper())
        elif _ID.match(item):
            out.add(item)
        else:
            raise ConfigError(f"{name}: {item!r} is not a {what} ID. List IDs such as {example}, separated by "
                              "commas (in Slack: the conversation's or person's details, at the bottom)"
                              + (f"; {' / '.join(extra)} allows every direct message." if extra else "."))
    return frozenset(out)


def log_level() -> int:
    name = _get("NEWSDESK_SLACK_LOG_LEVEL").upper()
    if name not in LOG_LEVELS:
        raise ConfigError(f"NEWSDESK_SLACK_LOG_LEVEL={name!r} is not a log level; use one of {', '.join(LOG_LEVELS)}.")
    return getattr(logging, name)


@dataclass(frozen=True)
class Policy:
    """Who may ask, how often, and how many questions are answered or waiting at once."""

    allowed_channels: frozenset[str] = frozenset()  # empty: every conversation
    allowed_users: frozenset[str] = frozenset()  # empty: everyone
    rate: int = 10  # questions per person per minute; 0: no limit
    workers: int = 4
    queue: int = 50
    max_question_chars: int = 1000  # NEWSDESK_MAX_QUESTION_CHARS, shared with the CLI

    @classmethod
    def from_env(cls) -> "Policy":
        return cls(
            allowed_channels=_ids("NEWSDESK_SLACK_ALLOWED_CHANNELS", "conversation", "C0123ABCD,G0456EFGH",
                                  extra=(ALL_DMS,)),
            allowed_users=_ids("NEWSDESK_SLACK_ALLOWED_USERS", "user", "U0123ABCD,W0456EFGH"),
            rate=_int("NEWSDESK_SLACK_RATE", minimum=0),
            workers=_int("NEWSDESK_SLACK_WORKERS", minimum=1),
            queue=_int("NEWSDESK_SLACK_QUEUE", minimum=0),
            max_question_chars=_int("NEWSDESK_MAX_QUESTION_CHARS", minimum=20,
                                    default=CORE_ENV_VARS["NEWSDESK_MAX_QUESTION_CHARS"][0]),
        )


@dataclass(frozen=True)
class SlackSettings:
    bot_token: str = field(repr=False)
    api_url: str
    app_token: str = field(default="", repr=False)  # Socket Mode
    signing_secret: str = field(default="", repr=False)  # HTTP mode
    host: str = "0.0.0.0"
    policy: Policy = field(default_factory=Policy)

    @classmethod
    def from_env(cls, http: bool) -> "SlackSettings":
        mode = "the HTTP server (--http)" if http else "Socket Mode (the default; --http serves the Events API)"
        bot_token = _secret("SLACK_BOT_TOKEN", mode)
        if http:
            return cls(bot_token=bot_token, api_url=api_url(),
                       signing_secret=_secret("SLACK_SIGNING_SECRET", mode), host=_get("NEWSDESK_SLACK_HOST"),
                       policy=Policy.from_env())
        return cls(bot_token=bot_token, api_url=api_url(), app_token=_secret("SLACK_APP_TOKEN", mode),
                   policy=Policy.from_env())

    def secrets(self) -> list[str]:
        """The values that must never reach a log (see main.RedactSecrets)."""
        return [s for s in (self.bot_token, self.app_token, self.signing_secret) if s]

