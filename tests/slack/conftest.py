import threading
from dataclasses import dataclass

import pytest

from slack_fakes import BOT_TOKEN, SIGNING_SECRET, FakeAnswer, MockSlackAPI, SlackSender

SECRET = SIGNING_SECRET
TOKEN = BOT_TOKEN


@pytest.fixture
def slack_api():
    api = MockSlackAPI().start()
    yield api
    api.stop()


@pytest.fixture
def home(tmp_path, monkeypatch):
    path = tmp_path / "home"
    monkeypatch.setenv("NEWSDESK_HOME", str(path))
    return path


@dataclass
class Bot:
    api: MockSlackAPI
    send: SlackSender
    answer: FakeAnswer
    store: object
    app: object

    @property
    def deps(self):
        return self.app.deps


@pytest.fixture
def start_bot(slack_api, home):
    """start_bot(policy=None, answer=None): the real App served over HTTP on 127.0.0.1, talking to
    the mock Web API through the bot's own WebClient (with its retry handlers)."""
    from bot.slack.app import build_app, web_client
    from bot.slack.feedback import FeedbackStore
    from bot.slack.server import EVENTS_PATH, make_server
    from bot.slack.settings import Policy

    started = []

    def start(policy=None, answer=None) -> Bot:
        fake = answer or FakeAnswer()
        store = FeedbackStore.from_env()
        app = build_app(web_client(TOKEN, slack_api.url), SECRET, fake, store, policy or Policy())
        server = make_server(app, "127.0.0.1", 0)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
        started.append((fake, server, app))
        return Bot(slack_api, SlackSender(url, SECRET), fake, store, app)

    yield start
    for fake, server, app in started:
        fake.release.set()
        server.shutdown()
        server.server_close()
        app.deps.shutdown()


@pytest.fixture
def bot(start_bot):
    """The real App (fake answer function, default policy) over HTTP on 127.0.0.1."""
    return start_bot()
