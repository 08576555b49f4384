"""Entry points: ``newsdesk slack`` (Socket Mode) and ``newsdesk slack --http`` (Events API).

Both check the settings first (a missing or malformed token names the variable to set),
check the bot token with Slack, load the answer pipeline once, log "ready", then serve.
``python -m bot.slack.main [--http] [--port N] [--host ADDR]`` does the same.
"""
from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
import threading
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.conversation import AnswerFn
from bot.slack.feedback import FeedbackStore
from bot.slack.settings import SlackSettings, log_level
from retrieval.errors import ConfigError, NewsdeskError

log = logging.getLogger("newsdesk.slack")


def _quiet_token_warning(record: logging.LogRecord) -> bool:
    # Bolt reads SLACK_BOT_TOKEN itself and warns that our WebClient (which carries that same
    # token, and SLACK_API_URL) wins. That is intended; the warning would only confuse.
    return "`token` will be unused" not in record.getMessage()


class RedactSecrets(logging.Filter):
    """Defence in depth on the log handlers: the tokens and the signing secret, and anything
    shaped like a Slack token, become "[redacted]" should any library ever log one."""

    TOKEN = re.compile(r"\b(?:xox[a-z]|xapp)-[A-Za-z0-9-]+")

    def __init__(self, secrets: list[str] | None = None):
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return self.TOKEN.sub("[redacted]", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def _setup_logging(secrets: list[str] | None = None) -> None:
    """Logs to stderr at NEWSDESK_SLACK_LOG_LEVEL, secrets redacted, unless the program that
    runs the bot set up logging itself (then its handlers are left alone). Called again once
    the secrets are known, to redact them by value too."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=log_level(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        for handler in root.handlers:
            handler.addFilter(RedactSecrets())
    for handler in root.handlers:
        for f in handler.filters:
            if isinstance(f, RedactSecrets) and secrets:
                f.secrets = [s for s in secrets if s]
    logging.getLogger("slack_bolt.App").addFilter(_quiet_token_warning)


def _error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or exc.response.status_code)
    found = re.search(r"""["']error["']\s*:\s*["'](\w+)""", str(exc))
    return found.group(1) if found else type(exc).__name__


def connect(settings: SlackSettings) -> tuple[WebClient, dict]:
    """A WebClient for SLACK_API_URL whose bot token Slack accepts (auth.test)."""
    from bot.slack.app import web_client

    client = web_client(settings.bot_token, settings.api_url)  # retries 429s, 5xx and dropped connections
    try:
        auth = client.auth_test()
    except SlackApiError as exc:
        raise ConfigError(f"Slack rejected SLACK_BOT_TOKEN (auth.test: {_error_code(exc)}). Set it to the Bot "
                          "User OAuth Token (xoxb-...) from your app's OAuth & Permissions page, and "
                          "reinstall the app if the token was revoked.") from None
    except (URLError, OSError) as exc:
        raise ConfigError(f"Cannot reach Slack's Web API at {settings.api_url} ({exc}). Check the network, "
                          "or SLACK_API_URL if you set it.") from None
    return client, auth.data  # type: ignore[return-value]


def load_answer_fn() -> AnswerFn:
    """The real answer function: the process-wide pipeline, loaded now (models, index)."""
    from retrieval.pipeline import get_pipeline

    pipeline = get_pipeline()

    def ask(question: str, history: list[tuple[str, str]]):
        return pipeline.ask(question, history)

    return ask


def _build(client: WebClient, settings: SlackSettings, answer_fn: AnswerFn, store: FeedbackStore):
    from slack_bolt.error import BoltError

    from bot.slack.app import build_app

    try:
        return build_app(client, settings.signing_secret, answer_fn, store, settings.policy)
    except BoltError as exc:  # auth.test failed here rather than in connect()
        raise ConfigError(f"Slack rejected SLACK_BOT_TOKEN ({_error_code(exc)}). Set it to the Bot User "
                          "OAuth Token (xoxb-...) from your app's OAuth & Permissions page.") from None


def serve_http(app, host: str, port: int) -> None:
    from bot.slack.server import EVENTS_PATH, make_server

    try:
        server = make_server(app, host, port)
    except OSError as exc:
        raise ConfigError(f"Cannot listen on {host}:{port} ({exc.strerror}); pick another --port.") from None
    shown = "localhost" if host in ("0.0.0.0", "") else host
    log.info("ready: serving Slack events at http://%s:%d%s", shown, server.server_address[1], EVENTS_PATH)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        log.info("stopped")


def serve_socket_mode(app, app_token: str) -> None:
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    handler = SocketModeHandler(app, app_token=app_token)
    try:
        handler.connect()
    except SlackApiError as exc:
        raise ConfigError(f"Slack rejected SLACK_APP_TOKEN (apps.connections.open: {_error_code(exc)}). Set it "
                          "to an app-level token with the connections:write scope (Basic Information > "
                          "App-Level Tokens), and turn on Socket Mode for the app.") from None
    except (URLError, OSError) as exc:
        raise ConfigError(f"Cannot open a Socket Mode connection to Slack ({exc}). Check the network.") from None
    log.info("ready: connected to Slack in Socket Mode")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        handler.close()
        log.info("stopped")


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def run(http: bool = False, port: int = 3000, host: str | None = None) -> None:
    """Runs the bot until interrupted. Raises ConfigError (naming the variable) on bad settings."""
    _setup_logging()
    settings = SlackSettings.from_env(http=http)
    _setup_logging(settings.secrets())
    policy = settings.policy
    log.info("policy: %s channels, %s users, %s questions a minute per person, %d answering + %d waiting",
             ",".join(sorted(policy.allowed_channels)) or "all", ",".join(sorted(policy.allowed_users)) or "all",
             policy.rate or "unlimited", policy.workers, policy.queue)
    client, auth = connect(settings)
    log.info("Slack accepted the bot token: @%s (%s) in %s", auth.get("user"), auth.get("user_id"), auth.get("team"))
    store = FeedbackStore.from_env()
    from retrieval.config import env

    server = env("NEWSDESK_SERVER_URL")
    log.info("answering through the newsdesk server at %s" % server if server
             else "loading the answer pipeline (models and index)...")
    answer_fn = load_answer_fn()
    app = _build(client, settings, answer_fn, store)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)  # `kill` stops it as cleanly as Ctrl-C
    try:
        if http:
            serve_http(app, host or settings.host, port)
        else:
            serve_socket_mode(app, settings.app_token)
    finally:
        app.deps.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.slack.main", description=__doc__.split("\n")[0])
    parser.add_argument("--http", action="store_true", help="serve the Events API over HTTP (default: Socket Mode)")
    parser.add_argument("--port", type=int, default=3000, help="port for --http (default 3000)")
    parser.add_argument("--host", default=None, help="address for --http (default $NEWSDESK_SLACK_HOST or 0.0.0.0)")
    args = parser.parse_args(argv)
    try:
        run(http=args.http, port=args.port, host=args.host)
    except NewsdeskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
