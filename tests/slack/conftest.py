import threading
from dataclasses import dataclass

import pytest
from slack_sdk import WebClient

from slack_fakes import FakeAnswer, MockSlackAPI, SlackSender

SECRET = "test-secret"


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


@pytest.fixture
def bot(slack_api, home):
    """The real App (fake answer function) served over HTTP on 127.0.0.1, talking to the mock API."""
    from bot.slack.app import build_app
    from bot.slack.feedback import FeedbackStore
    from bot.slack.server import EVENTS_PATH, make_server

    fake = FakeAnswer()
    store = FeedbackStore.from_env()
    app = build_app(WebClient(token="xoxb-test", base_url=slack_api.url), SECRET, fake, store)
    server = make_server(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}{EVENTS_PATH}"
    yield Bot(slack_api, SlackSender(url, SECRET), fake, store, app)
    fake.release.set()
    server.shutdown()
    server.server_close()
