"""newsdesk against a real `chroma run` server on 127.0.0.1 (NEWSDESK_CHROMA_URL): ingest and
ask work, the server going away gives a clear error, and the same pipeline recovers when
the server comes back."""
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.integration]
QUESTION = "How long were US diplomats given to leave Venezuela?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _chroma_bin() -> str:
    found = Path(sys.executable).with_name("chroma")
    return str(found) if found.exists() else (shutil.which("chroma") or pytest.skip("no `chroma` CLI"))


class ChromaServer:
    def __init__(self, path: Path, port: int, log: Path):
        self.path, self.port, self.log, self.proc = path, port, log, None

    def start(self) -> "ChromaServer":
        out = open(self.log, "ab")
        self.proc = subprocess.Popen([_chroma_bin(), "run", "--path", str(self.path), "--host", "127.0.0.1",
                                      "--port", str(self.port)], stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text(errors="replace")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.3)
        raise AssertionError(f"chroma run did not listen:\n{self.log.read_text(errors='replace')}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(20)


@pytest.fixture()
def server(tmp_path):
    srv = ChromaServer(tmp_path / "chroma-data", _free_port(), tmp_path / "chroma.log").start()
    yield srv
    srv.stop()


def test_ingest_and_ask_through_a_chroma_server(server, tmp_path, monkeypatch):
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "NEWSDESK_HOME": str(tmp_path / "home"),
           "NEWSDESK_CHROMA_URL": f"http://127.0.0.1:{server.port}"}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", str(root / "corpus")], env=env, cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "home" / "chroma").exists(), "with a server URL nothing goes to the embedded store"
    assert server.path.exists()

    for k in ("NEWSDESK_HOME", "NEWSDESK_CHROMA_URL"):
        monkeypatch.setenv(k, env[k])
    from retrieval.config import Settings
    from retrieval.errors import StoreError
    from retrieval.pipeline import Pipeline

    pipeline = Pipeline(Settings.from_env())
    first = pipeline.ask(QUESTION)
    assert "72 hours" in first.answer and first.citations

    server.stop()
    with pytest.raises(StoreError) as err:
        pipeline.ask(QUESTION)
    assert "Chroma server" in str(err.value) and str(server.port) in str(err.value)
    cli = subprocess.run([sys.executable, "-m", "bot.cli", "ask", QUESTION], env=env, cwd=root,
                         capture_output=True, text=True, timeout=300)
    assert cli.returncode != 0 and "Traceback" not in cli.stderr + cli.stdout
    assert "NEWSDESK_CHROMA_URL" in cli.stderr + cli.stdout

    server.start()
    again = pipeline.ask(QUESTION)
    assert again.answer == first.answer
