from pathlib import Path

import pytest

from retrieval.config import ENV_VARS, Settings
from retrieval.errors import ConfigError

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_setting_is_documented_in_the_readme():
    text = README.read_text(encoding="utf-8")
    for name in ENV_VARS:
        assert f"`{name}`" in text, f"{name} missing from README's configuration table"


def test_bad_number_names_the_variable(monkeypatch):
    monkeypatch.setenv("NEWSDESK_TOP_K", "many")
    with pytest.raises(ConfigError, match="NEWSDESK_TOP_K"):
        Settings.from_env()


def test_defaults(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    s = Settings.from_env()
    assert s.home == Path(".newsdesk") and s.llm == "local" and s.top_k == 8
