"""The naive baseline for `newsdesk eval --baseline naive` and `newsdesk bench`: plain LangChain
RAG over the same corpus and embedding model, so newsdesk's figures have something to beat.

    files -> RecursiveCharacterTextSplitter(1000, 200) -> Chroma -> similarity_search(k=4)
          -> one "stuff" prompt -> LLM -> text

No cleaning, no keyword search, no question rewriting, no citations, no verification. Its LLM
is, in order: the ``llm`` passed in (bench's), the chat model of ``NEWSDESK_LLM`` when that is a
remote backend, else the same local GGUF newsdesk's reader uses (the packaged Qwen2.5-Coder-
1.5B-Instruct or ``NEWSDESK_MODEL_PATH``), so the comparison is reader against reader.

The index lives in ``work_dir/chroma``, with ``work_dir/naive_index.json`` saying what it
holds; a later call with the same work dir, corpus files and embedder reuses it.
"""
from __future__ import annotations

import json
import re
import time
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

from retrieval.errors import BackendError, ConfigError, NewsdeskError

CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 4
COLLECTION = "naive"
MARKER = "naive_index.json"
TEMPLATE = ("Answer the question using only the context. If the context does not contain the answer, "
            "say you don't know.\n\nContext:\n{context}\n\n{history}Question: {question}")
ABSTAIN = re.compile(r"\b(i don't know|i do not know|not (mentioned|stated|provided|given|specified)|"
                     r"no information|cannot (answer|determine)|does not (say|mention|contain|provide))\b",
                     re.IGNORECASE)
MISSING_LLM = "The naive baseline needs llama-cpp-python: run `make install` (or pip install -e .)."
SUFFIXES = {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl"}

# (work_dir, corpus_root) -> (signature, vector store, chunk count, seconds the build took)
_INDEXES: dict[tuple[str, str], tuple[dict, object, int, float]] = {}


# ------------------------------------------------------------------------- loading
def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES
                  and not any(part.startswith(".") for part in p.relative_to(root).parts))


def _documents(path: Path, rel: str) -> list:
    """One file's LangChain ``Document``s, read the plain way: text as it is (bytes decoded, keeping \\r\\n,
    so offsets index the file), HTML as BeautifulSoup's ``get_text()``, JSON records with a body as
    ``title + "\\n\\n" + body``, sourced ``rel#n`` for a list item or JSONL line (as newsdesk names records)."""
    from langchain_core.documents import Document

    raw, ext = path.read_bytes().decode("utf-8"), path.suffix.lower()
    if ext in (".html", ".htm"):
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(raw, "html.parser")
        title = soup.title.get_text(strip=True) if soup.title else path.stem
        return [Document(soup.get_text(), metadata={"source": rel, "title": title})]
    if ext not in (".json", ".jsonl"):
        title = next((s.strip().lstrip("\ufeff#").strip() for s in raw.splitlines() if s.strip()), "")
        return [Document(raw, metadata={"source": rel, "title": title})]
    try:
        raw = raw.lstrip("\ufeff")
        data = [json.loads(line) if line.strip() else None for line in raw.splitlines()] if ext == ".jsonl" \
            else json.loads(raw)
    except ValueError:
        return []
    docs = []
    for n, obj in enumerate(data) if isinstance(data, list) else [(None, data)]:
        body = (obj.get("body") or obj.get("text")) if isinstance(obj, dict) else None
        if isinstance(body, str) and body.strip():
            title = obj["title"] if isinstance(obj.get("title"), str) else ""
            docs.append(Document(f"{title}\n\n{body}", metadata={"source": rel if n is None else f"{rel}#{n}",
                                                                 "title": title}))
    return docs


def load_documents(root: Path) -> list:
    """The corpus's documents with text (``source``: the path under ``root``); unreadable files are left out."""
    docs = []
    for path in _files(root):
        try:
            docs += [d for d in _documents(path, path.relative_to(root).as_posix()) if d.page_content.strip()]
        except (OSError, UnicodeDecodeError):
            continue
    return docs


def split_documents(docs: list) -> list:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                              add_start_index=True)
    return splitter.split_documents(docs)


# ------------------------------------------------------------------------- models
@lru_cache(maxsize=2)
def _hf_embeddings(path: str):
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=path, model_kwargs={"device": "cpu"})


def _embedder_id(embeddings) -> str:
    size = getattr(embeddings, "size", None)
    return str(getattr(embeddings, "model_name", None) or
               type(embeddings).__name__ + (f"(size={size})" if size else ""))


def _llm_name(llm) -> str:
    names = [getattr(llm, attr, None) for attr in ("model_name", "model", "_llm_type")]
    return next((n for n in names if isinstance(n, str) and n), None) or getattr(llm, "name", None) or \
        type(llm).__name__


def choose_llm(settings, llm=None) -> tuple[object, str, str]:
    """(runnable, backend name for tables, model name) of the naive chain's LLM."""
    from langchain_core.runnables import RunnableLambda

    if llm is not None:
        return llm, _llm_name(llm), _llm_name(llm)
    if getattr(settings, "llm", "local") not in ("local", "none"):
        from retrieval.models import get_generator

        gen = get_generator(settings)
        # newsdesk's backends wrap a LangChain chat model; the naive chain calls that model itself.
        if (model := getattr(gen, "_model", None)) is not None:
            return model, f"{gen.id} ({_llm_name(model)})", _llm_name(model)
        backend, model_name, kwargs = gen.id, gen.id, {}
    else:  # the local reader model: prompt value in, reply text out (one user turn)
        from retrieval.models import _local_generator, model_path

        path = model_path(settings)
        if find_spec("llama_cpp") is None:
            raise ConfigError(MISSING_LLM)
        gen, backend, model_name = _local_generator(path), f"local ({path.name})", path.name
        kwargs = {"max_tokens": 128}

    def chat(prompt_value) -> str:  # the prompt's messages as one user turn
        return gen.chat([("user", "\n\n".join(str(m.content) for m in prompt_value.to_messages()))], **kwargs)

    return RunnableLambda(chat, name=backend), backend, model_name


# ------------------------------------------------------------------------- index
def _signature(corpus_root: Path, embeddings) -> dict:
    files = [[p.relative_to(corpus_root).as_posix(), (st := p.stat()).st_size, st.st_mtime_ns]
             for p in _files(corpus_root)]
    return {"corpus": str(corpus_root), "embeddings": _embedder_id(embeddings),
            "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP, "files": files}


def _chroma_settings():
    from chromadb.config import Settings as ChromaSettings

    return ChromaSettings(anonymized_telemetry=False)


def _open_index(corpus_root: Path, work_dir: Path, embeddings, console=None) -> tuple[object, int, float, bool]:
    """(vector store, chunks, seconds the build took, reused?). Builds only when ``work_dir``
    does not already hold an index of these corpus files (names, sizes, times) and embedder."""
    from langchain_chroma import Chroma

    key, sig = (str(work_dir), str(corpus_root)), _signature(corpus_root, embeddings)
    if (cached := _INDEXES.get(key)) and cached[0] == sig:
        return (*cached[1:], True)
    persist, marker = work_dir / "chroma", work_dir / MARKER
    try:
        saved = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        saved = {}
    store = Chroma(collection_name=COLLECTION, embedding_function=embeddings, persist_directory=str(persist),
                   client_settings=_chroma_settings())
    if saved.get("signature") == sig and store._collection.count() == saved.get("chunks"):
        _INDEXES[key] = (sig, store, saved["chunks"], saved.get("index_s", 0.0))
        return store, saved["chunks"], saved.get("index_s", 0.0), True

    t0 = time.perf_counter()
    marker.unlink(missing_ok=True)
    store.delete_collection()  # whatever an older corpus or embedder left there
    docs = load_documents(corpus_root)
    chunks = split_documents(docs)
    if not chunks:
        raise NewsdeskError(f"The naive baseline found no text to index in {corpus_root} "
                            "(it reads .txt .md .html .json .jsonl).")
    if console is not None:
        console.print(f"naive baseline: indexing {len(chunks)} chunks of {len(docs)} documents")
    store = Chroma.from_documents(chunks, embeddings, ids=[f"{n:07d}" for n in range(len(chunks))],
                                  collection_name=COLLECTION, persist_directory=str(persist),
                                  client_settings=_chroma_settings())
    index_s = round(time.perf_counter() - t0, 3)
    marker.write_text(json.dumps({"signature": sig, "chunks": len(chunks), "index_s": index_s}) + "\n",
                      encoding="utf-8")
    _INDEXES[key] = (sig, store, len(chunks), index_s)
    return store, len(chunks), index_s, False


# ------------------------------------------------------------------------- answering
def is_abstention(text: str) -> bool:
    return bool(ABSTAIN.search(text.replace("\u2019", "'").replace("\u2018", "'")))


def _history_text(history) -> str:
    turns = [(list(turn) + ["", ""])[:2] for turn in history or []]
    return "Conversation so far:\n" + "".join(f"User: {q}\nAssistant: {a}\n" for q, a in turns) + "\n" if turns else ""


def _passage(doc, distance) -> dict:
    start = int(doc.metadata.get("start_index", 0))
    return {"source": doc.metadata.get("source", ""), "title": doc.metadata.get("title", ""), "start": start,
            "end": start + len(doc.page_content),
            "score": None if distance is None else round(float(distance), 6), "text": doc.page_content}


def run_naive(gold_rows: list[dict], corpus_root: Path, work_dir: Path, settings, console=None, llm=None,
              embeddings=None) -> tuple[list[dict], dict]:
    """Answer each gold row with the naive chain: (one ``ask --json``-shaped dict per row, info).

    ``passages[].score`` is Chroma's distance (lower is closer). ``timings_ms`` holds retrieve,
    answer and total per question; models load and the index is built before the first one."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    from evals.runner import progress_bar

    corpus_root, work_dir = Path(corpus_root).resolve(), Path(work_dir).resolve()
    if not corpus_root.is_dir():
        raise NewsdeskError(f"The naive baseline's corpus {corpus_root} is not a folder.")
    work_dir.mkdir(parents=True, exist_ok=True)
    model, backend, model_name = choose_llm(settings, llm)  # first: a missing extra fails before indexing
    if embeddings is None:
        from retrieval.models import embedding_model_path

        embeddings = _hf_embeddings(str(embedding_model_path(settings.embed_model)))
    store, n_chunks, index_s, reused = _open_index(corpus_root, work_dir, embeddings, console)
    chain = ChatPromptTemplate.from_template(TEMPLATE) | model | StrOutputParser()

    outputs = []
    with progress_bar(console, "naive baseline answering") as bar:
        task = bar.add_task("naive", total=len(gold_rows))
        for g in gold_rows:
            question = g["question"]
            t0 = time.perf_counter()
            hits = store.similarity_search_with_score(question, k=K)
            t1 = time.perf_counter()
            inputs = {"context": "\n\n".join(doc.page_content for doc, _ in hits), "question": question,
                      "history": _history_text(g.get("history"))}
            try:
                answer = chain.invoke(inputs).strip()
            except NewsdeskError:
                raise
            except Exception as exc:
                raise BackendError(f"The naive baseline's LLM ({backend}) failed on {g.get('id', question)!r} "
                                   f"({type(exc).__name__}: {exc}).") from exc
            t2 = time.perf_counter()
            outputs.append({
                "id": g.get("id"), "question": question, "standalone_question": question, "answer": answer,
                "short_answer": None, "abstained": is_abstention(answer), "citations": [],
                "passages": [_passage(doc, dist) for doc, dist in hits],
                "timings_ms": {"retrieve": round((t1 - t0) * 1000, 1), "answer": round((t2 - t1) * 1000, 1),
                               "total": round((t2 - t0) * 1000, 1)},
                "backend": backend, "notes": [],
            })
            bar.advance(task)
    info = {"backend": backend, "model": model_name, "embeddings": _embedder_id(embeddings),
            "chunks": n_chunks, "index_s": index_s, "index_reused": reused, "k": K,
            "splitter": f"RecursiveCharacterTextSplitter(chunk_size={CHUNK_SIZE}, "
                        f"chunk_overlap={CHUNK_OVERLAP}, add_start_index=True)",
            "retriever": f"Chroma.similarity_search(k={K})", "prompt": TEMPLATE}
    return outputs, info
