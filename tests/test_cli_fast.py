"""The CLI's entry path stays light: --help must not import torch, chromadb or langchain."""
import json
import subprocess
import sys


def test_help_imports_nothing_heavy():
    code = ("import sys; from bot.cli import app\n"
            "from typer.testing import CliRunner\n"
            "r = CliRunner().invoke(app, ['--help'])\n"
            "assert r.exit_code == 0, r.output\n"
            "heavy = [m for m in ('torch', 'chromadb', 'langchain_core', 'sentence_transformers') if m in sys.modules]\n"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bad_history_is_a_usage_error():
    from typer.testing import CliRunner

    from bot.cli import app

    r = CliRunner().invoke(app, ["ask", "--history", "not json", "Who?"])
    assert r.exit_code == 2
    assert "history" in r.output


def test_unknown_backend_is_named(monkeypatch, tmp_path):
    from retrieval.config import Settings
    from retrieval.errors import ConfigError
    from retrieval.models import get_generator

    monkeypatch.setenv("NEWSDESK_LLM", "gpt-magic")
    try:
        get_generator(Settings.from_env())
    except ConfigError as exc:
        assert "gpt-magic" in str(exc) and "local" in str(exc) and "none" in str(exc)
    else:
        raise AssertionError("expected ConfigError")


def test_openai_without_key_says_what_to_set(monkeypatch):
    from retrieval.config import Settings
    from retrieval.errors import ConfigError
    from retrieval.models import get_generator

    monkeypatch.setenv("NEWSDESK_LLM", "openai")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    try:
        get_generator(Settings.from_env())
    except ConfigError as exc:
        assert "OPENAI_API_KEY" in str(exc) and "OPENAI_BASE_URL" in str(exc)
    else:
        raise AssertionError("expected ConfigError")
