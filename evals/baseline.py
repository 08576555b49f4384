"""The naive baseline for `newsdesk eval --baseline naive` and `newsdesk bench`: plain LangChain
RAG over the same corpus and embedding model, so newsdesk's figures have something to beat.

    retrieval.loaders -> RecursiveCharacterTextSplitter(1000, 200) -> Chroma -> similarity_search(k=4)
        -> one "stuff" prompt -> LLM -> text

No keyword search, no question rewriting, no judge, no citations, no verification. Files are
read by newsdesk's loader (the baseline gets newsdesk's cleaned text), so passage offsets slice
``canonical_text(root, source)`` as citations' do. The LLM is the ``llm`` passed in, else the chat
model of a remote ``NEWSDESK_LLM``, else the local GGUF newsdesk's reader uses (the same instance):
reader against reader. The index is built in ``work_dir/chroma`` once per (work dir, corpus) in a
process; later calls reuse it.
"""
from __future__ import annotations

import dataclasses
import re
import time
from importlib.util import find_spec
from pathlib import Path

from retrieval.errors import BackendError, ConfigError, NewsdeskError
from retrieval.loaders import iter_corpus

CHUNK_SIZE, CHUNK_OVERLAP, K = 1000, 200, 4
SPLITTER = f"RecursiveCharacterTextSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP}, add_start_index=True)"
TEMPLATE = ("Answer the question using only the context. If the context does not contain the answer, "
            "say you don't know.\n\nContext:\n{context}\n\n{history}Question: {question}")
ABSTAIN = re.compile(r"\b(i don['\u2018\u2019]t know|i do not know|not (mentioned|stated|provided|given|specified)|"
                     r"no information|cannot (answer|determine)|does not (say|mention|contain|provide))\b",
                     re.IGNORECASE)
MISSING_LLM = "The naive baseline needs llama-cpp-python: run `make install` (or pip install -e .)."

_INDEXES: dict[tuple[Path, Path], tuple[object, int, float]] = {}  # (work_dir, corpus) -> (store, chunks, build s)


def _name(model) -> str:
    names = (getattr(model, attr, None) for attr in ("model_name", "model", "name"))
    return next((n for n in names if isinstance(n, str) and n), type(model).__name__)


def choose_llm(settings, llm=None) -> tuple[object, str, str]:
    """(runnable, backend name for tables, model name) of the naive chain's LLM."""
    from retrieval.models import get_generator

    if llm is not None:
        return llm, _name(llm), _name(llm)
    if settings.llm not in ("local", "none"):  # newsdesk's remote backends wrap a LangChain chat model
        model = get_generator(settings)._model
        return model, f"{settings.llm} ({_name(model)})", _name(model)
    if find_spec("llama_cpp") is None:
        raise ConfigError(MISSING_LLM)
    gen = get_generator(dataclasses.replace(settings, llm="local"))
    name = gen.path.name  # below, a plain function (LCEL makes it a runnable): the prompt as one user turn
    return (lambda prompt: gen.chat([("user", prompt.to_string())], max_tokens=128)), f"local ({name})", name


def build_index(corpus_root: Path, work_dir: Path, embeddings, settings, console) -> tuple[object, int, float, bool]:
    """(vector store, chunks, seconds the build took, reused?). Also the naive LangChain ingest that
    `newsdesk bench` times against newsdesk's."""
    if (key := (work_dir, corpus_root)) in _INDEXES:
        return (*_INDEXES[key], True)
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    t0 = time.perf_counter()
    docs = [Document(d.text, metadata={"source": d.source, "title": d.title})
            for _, loaded, _ in iter_corpus([corpus_root], corpus_root, settings.max_file_bytes) for d in loaded or ()]
    chunks = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                            add_start_index=True).split_documents(docs)
    if not chunks:
        raise NewsdeskError(f"The naive baseline found no text to index in {corpus_root} "
                            "(it reads .txt .md .html .json .jsonl, as `newsdesk ingest` does).")
    if console is not None:
        console.print(f"naive baseline: indexing {len(chunks)} chunks of {len(docs)} documents")
    where = {"collection_name": "naive", "persist_directory": str(work_dir / "chroma"),
             "client_settings": ChromaSettings(anonymized_telemetry=False)}
    Chroma(embedding_function=embeddings, **where).delete_collection()  # what an earlier process left there
    store = Chroma.from_documents(chunks, embeddings, ids=[f"{n:07d}" for n in range(len(chunks))], **where)
    _INDEXES[key] = (store, len(chunks), round(time.perf_counter() - t0, 3))
    return (*_INDEXES[key], False)


def run_naive(gold_rows: list[dict], corpus_root: Path, work_dir: Path, settings, console=None, llm=None,
              embeddings=None) -> tuple[list[dict], dict]:
    """Answer each gold row with the naive chain: (one ``ask --json``-shaped dict per row, info).

    ``passages[].score`` is Chroma's distance (lower is closer). ``timings_ms`` holds retrieve,
    answer and total per question; models load and the index is built before the first one."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import PromptTemplate

    from evals.runner import progress_bar
    from retrieval.models import get_embeddings

    corpus_root, work_dir = Path(corpus_root).resolve(), Path(work_dir).resolve()
    if not corpus_root.is_dir():
        raise NewsdeskError(f"The naive baseline's corpus {corpus_root} is not a folder.")
    work_dir.mkdir(parents=True, exist_ok=True)
    model, backend, model_name = choose_llm(settings, llm)  # first: a missing extra fails before indexing
    embedder = settings.embed_model if embeddings is None else _name(embeddings)
    embeddings = get_embeddings(settings.embed_model) if embeddings is None else embeddings
    store, n_chunks, index_s, reused = build_index(corpus_root, work_dir, embeddings, settings, console)
    chain = PromptTemplate.from_template(TEMPLATE) | model | StrOutputParser()
    outputs = []
    with progress_bar(console, "naive baseline answering") as bar:
        task = bar.add_task("naive", total=len(gold_rows))
        for g in gold_rows:
            outputs.append(_answer(g, store, chain, backend))
            bar.advance(task)
    return outputs, {"backend": backend, "model": model_name, "embeddings": embedder, "chunks": n_chunks,
                     "index_s": index_s, "index_reused": reused, "k": K, "splitter": SPLITTER,
                     "retriever": f"Chroma.similarity_search(k={K})", "prompt": TEMPLATE}


def _answer(g: dict, store, chain, backend: str) -> dict:
    """One gold row: retrieve, then the chain; shaped as ``ask --json`` shapes an answer."""
    question, turns = g["question"], [(list(turn) + ["", ""])[:2] for turn in g.get("history") or []]
    history = "".join(f"User: {q}\nAssistant: {a}\n" for q, a in turns)
    t0 = time.perf_counter()
    hits = store.similarity_search_with_score(question, k=K)
    t1 = time.perf_counter()
    try:
        answer = chain.invoke({"context": "\n\n".join(doc.page_content for doc, _ in hits), "question": question,
                               "history": f"Conversation so far:\n{history}\n" if history else ""}).strip()
    except Exception as exc:
        raise BackendError(f"The naive baseline's LLM ({backend}) failed on {g.get('id', question)!r} "
                           f"({type(exc).__name__}: {exc}).") from exc
    t2 = time.perf_counter()
    return {"id": g.get("id"), "question": question, "standalone_question": question, "answer": answer,
            "short_answer": None, "abstained": bool(ABSTAIN.search(answer)), "citations": [],
            "passages": [{"source": d.metadata["source"], "title": d.metadata["title"],
                          "start": d.metadata["start_index"], "end": d.metadata["start_index"] + len(d.page_content),
                          "score": round(float(dist), 6), "text": d.page_content} for d, dist in hits],
            "timings_ms": {"retrieve": round((t1 - t0) * 1000, 1), "answer": round((t2 - t1) * 1000, 1),
                           "total": round((t2 - t0) * 1000, 1)},
            "backend": backend, "notes": []}
