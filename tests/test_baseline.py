"""evals/baseline.py: the naive LangChain chain that `newsdesk eval --baseline naive` and
`newsdesk bench` compare newsdesk with. Fast tests use a tiny corpus, a deterministic fake
embedder and a fake LLM that returns queued replies and records its prompts; one slow test
runs the real local reader model and embedding model on the bundled corpus."""
import dataclasses
import json
from pathlib import Path

import pytest

from evals import baseline
from evals.baseline import run_naive
from retrieval.config import Settings
from retrieval.errors import BackendError, NewsdeskError
from retrieval.loaders import canonical_text

ROOT = Path(__file__).resolve().parents[1]

HARBOUR = "Harbour bridge reopens after repairs\n\n" + " ".join(
    f"Paragraph {n} of the harbour story says traffic moved slowly on day {n}." for n in range(30)
) + "\n\nThe bridge was reopened by Mayor Elena Ruiz on Tuesday, the city council said.\n"
ORCHARD = "Orchard harvest hit by frost\n\n" + " ".join(
    f"Growers in valley {n} counted their losses after the cold night." for n in range(25)
) + "\n\nThe cooperative estimated that 40 percent of the apples were lost.\n"
PORT_HTML = ("<html><head><title>Port strike ends</title><script>var tracker = 'do not index me';</script></head>"
             "<body><nav>Home | World | Sport</nav><h1>Port strike ends</h1>"
             + "".join(f"<p>Dock worker {n} went back to the cranes on Monday after the union vote.</p>" for n in range(20))
             + "</body></html>")
WIRE = [{"title": "Ferry timetable changes", "body": " ".join(f"Sailing {n} now leaves ten minutes later." for n in range(30))},
        {"title": "Lighthouse repainted", "body": "Volunteers repainted the old lighthouse red and white over the weekend."}]


class FakeLLM:
    """Returns queued replies (then the last one again) and records every prompt it saw."""

    def __init__(self, *replies: str):
        self.replies, self.prompts = list(replies) or ["Elena Ruiz reopened it."], []

    def runnable(self):
        from langchain_core.runnables import RunnableLambda

        return RunnableLambda(self._call, name="fake-llm")

    def _call(self, prompt_value) -> str:
        self.prompts.append("\n".join(str(m.content) for m in prompt_value.to_messages()))
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "harbour.txt").write_text(HARBOUR, encoding="utf-8")
    (root / "orchard.txt").write_text(ORCHARD, encoding="utf-8")
    (root / "notes.md").write_text("# Short note\n\nNothing to see here.\n", encoding="utf-8")
    return root


@pytest.fixture
def settings(monkeypatch, tmp_path):
    monkeypatch.delenv("NEWSDESK_LLM", raising=False)
    monkeypatch.setenv("NEWSDESK_HOME", str(tmp_path / "home"))
    return Settings.from_env()


@pytest.fixture
def embeddings():
    from langchain_core.embeddings import DeterministicFakeEmbedding

    return DeterministicFakeEmbedding(size=64)


@pytest.fixture(autouse=True)
def fresh_cache():
    baseline._INDEXES.clear()
    yield
    baseline._INDEXES.clear()


def gold(qid="q1", question="Who reopened the harbour bridge?", history=(), **extra):
    return {"id": qid, "type": "factoid", "question": question, "answers": ["Elena Ruiz"],
            "evidence": ["reopened by Mayor Elena Ruiz on Tuesday"], "sources": ["harbour.txt"],
            "history": [list(t) for t in history], "tags": [], **extra}


class CountingEmbeddings:
    """The fake embedder, counting the texts it embeds for the index."""

    def __init__(self):
        from langchain_core.embeddings import DeterministicFakeEmbedding

        self.inner, self.embedded = DeterministicFakeEmbedding(size=64), 0

    def embed_documents(self, texts):
        self.embedded += len(texts)
        return self.inner.embed_documents(texts)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def _count(work: Path) -> int:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_collection("naive").count()


def test_outputs_have_the_ask_json_shape(corpus, settings, embeddings, tmp_path):
    llm = FakeLLM("Mayor Elena Ruiz reopened it.", "40 percent.")
    rows = [gold(), gold("q2", "How many apples were lost?", history=[("Was there frost?", "Yes.")])]
    outputs, info = run_naive(rows, corpus, tmp_path / "work", settings, llm=llm.runnable(), embeddings=embeddings)

    assert len(outputs) == 2 and [o["id"] for o in outputs] == ["q1", "q2"]
    first = outputs[0]
    assert set(first) >= {"id", "question", "standalone_question", "answer", "short_answer", "abstained",
                          "citations", "passages", "timings_ms", "backend"}
    assert first["standalone_question"] == first["question"] == "Who reopened the harbour bridge?"
    assert first["answer"] == "Mayor Elena Ruiz reopened it." and first["short_answer"] is None
    assert first["abstained"] is False and first["citations"] == []
    assert len(first["passages"]) == baseline.K
    assert set(first["timings_ms"]) == {"retrieve", "answer", "total"}
    assert all(isinstance(v, float) and v >= 0 for v in first["timings_ms"].values())
    assert first["timings_ms"]["total"] >= first["timings_ms"]["answer"]
    assert info["backend"] == "fake-llm" and info["chunks"] > 4 and info["index_reused"] is False
    assert "chunk_size=1000, chunk_overlap=200" in info["splitter"]

    # one stuff prompt: the retrieved chunks, the question; history only as plain text before it
    assert "using only the context" in llm.prompts[0] and "Question: Who reopened the harbour bridge?" in llm.prompts[0]
    assert all(p["text"] in llm.prompts[0] for p in first["passages"])
    assert "Conversation so far" not in llm.prompts[0]
    assert "Conversation so far:\nUser: Was there frost?\nAssistant: Yes.\n\nQuestion: How many apples" in llm.prompts[1]


def test_passage_offsets_slice_the_file(corpus, settings, embeddings, tmp_path):
    """Every chunk, HTML and JSON records too, slices the text newsdesk's loader gives for its source
    (what evals/metrics.py checks quotes against); the HTML's script and navigation are not indexed."""
    (corpus / "port.html").write_text(PORT_HTML, encoding="utf-8")
    (corpus / "wire.jsonl").write_text("".join(json.dumps(r) + "\n" for r in WIRE), encoding="utf-8")
    outputs, _ = run_naive([gold()], corpus, tmp_path / "work", settings, llm=FakeLLM().runnable(),
                           embeddings=embeddings)
    store = baseline._INDEXES[((tmp_path / "work").resolve(), corpus.resolve())][0]
    rows = store.get(include=["documents", "metadatas"])
    chunks = list(zip(rows["documents"], rows["metadatas"]))
    assert {"harbour.txt", "orchard.txt", "port.html", "wire.jsonl#0", "wire.jsonl#1"} <= {m["source"] for _, m in chunks}
    for text, m in chunks:
        assert canonical_text(corpus, m["source"])[m["start_index"]:m["start_index"] + len(text)] == text
        assert "tracker" not in text and "Home | World" not in text
    assert {m["title"] for _, m in chunks if m["source"].startswith("wire")} == {w["title"] for w in WIRE}
    for p in outputs[0]["passages"]:
        assert canonical_text(corpus, p["source"])[p["start"]:p["end"]] == p["text"]
        assert len(p["text"]) <= 1000 and isinstance(p["score"], float)
        assert p["title"] in {"Harbour bridge reopens after repairs", "Orchard harvest hit by frost", "Short note",
                              "Port strike ends", *(w["title"] for w in WIRE)}


@pytest.mark.parametrize("reply, abstained", [
    ("I don't know.", True),
    ("I don\u2019t know based on the context.", True),
    ("The context does not mention who reopened it.", True),
    ("The answer is not stated in the articles.", True),
    ("Mayor Elena Ruiz reopened the bridge.", False),
    ("Nobody knows the mayor better than the council.", False),
])
def test_abstention_is_read_from_the_answer(corpus, settings, embeddings, tmp_path, reply, abstained):
    outputs, _ = run_naive([gold()], corpus, tmp_path / "work", settings, llm=FakeLLM(reply).runnable(),
                           embeddings=embeddings)
    assert outputs[0]["abstained"] is abstained


def test_the_index_is_reused_not_rebuilt(corpus, settings, tmp_path):
    work, llm, embeddings = tmp_path / "work", FakeLLM().runnable(), CountingEmbeddings()
    _, first = run_naive([gold()], corpus, work, settings, llm=llm, embeddings=embeddings)
    n = first["chunks"]
    assert first["index_reused"] is False and embeddings.embedded == n == _count(work)

    # bench's worker calls run_naive once per batch, in one process: the same index, nothing embedded again
    for qid in ("q2", "q3"):
        _, again = run_naive([gold(qid)], corpus, work, settings, llm=llm, embeddings=embeddings)
        assert again["index_reused"] is True and again["chunks"] == n and embeddings.embedded == n
    assert len(baseline._INDEXES) == 1

    # another work dir is another index
    _, other = run_naive([gold("q4")], corpus, tmp_path / "other", settings, llm=llm, embeddings=embeddings)
    assert other["index_reused"] is False and embeddings.embedded == 2 * n

    # a new process builds again, replacing what the last one left in work_dir/chroma (not adding to it)
    baseline._INDEXES.clear()
    (corpus / "orchard.txt").unlink()
    _, later = run_naive([gold("q5")], corpus, work, settings, llm=llm, embeddings=embeddings)
    assert later["index_reused"] is False and 0 < later["chunks"] == _count(work) < n


def test_errors_say_what_went_wrong(corpus, settings, embeddings, tmp_path):
    from langchain_core.runnables import RunnableLambda

    kw = {"llm": FakeLLM().runnable(), "embeddings": embeddings}
    with pytest.raises(NewsdeskError, match="harbour.txt is not a folder"):
        run_naive([gold()], corpus / "harbour.txt", tmp_path / "w1", settings, **kw)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "photo.png").write_bytes(b"\x89PNG\r\n")
    with pytest.raises(NewsdeskError, match="no text to index in .*empty"):
        run_naive([gold()], empty, tmp_path / "w2", settings, **kw)

    def broken(prompt):
        raise RuntimeError("server went away")

    kw["llm"] = RunnableLambda(broken, name="flaky")
    with pytest.raises(BackendError, match=r"LLM \(flaky\) failed on 'q1' \(RuntimeError: server went away\)"):
        run_naive([gold()], corpus, tmp_path / "w3", settings, **kw)


def test_score_runs_on_the_outputs(corpus, settings, embeddings, tmp_path):
    from evals.metrics import score

    rows = [gold(), gold("u1", "What did the governor say?", type="unanswerable", answers=[], evidence=[],
                         sources=[])]
    outputs, _ = run_naive(rows, corpus, tmp_path / "work", settings,
                           llm=FakeLLM("Mayor Elena Ruiz.", "I don't know.").runnable(), embeddings=embeddings)
    metrics = score(rows, outputs, corpus)
    assert metrics["questions"] == 2
    assert metrics["accuracy"] == 1.0 and metrics["abstention_recall"] == 1.0
    assert metrics["citations"] == 0 and metrics["citation_precision"] is None
    assert metrics["hit@10"] is not None and set(metrics["latency_ms"]) == {"retrieve", "answer", "total"}
    json.dumps(metrics)  # metrics.json must be writable

    # a passage that holds the evidence counts as a hit, whichever rank the fake embedder gave it
    hit = [o for o in outputs[0]["passages"] if "reopened by Mayor Elena Ruiz" in o["text"]]
    assert (metrics["hit@10"] == 1.0) == bool(hit)


def test_missing_local_llm_says_how_to_fix_it(settings, monkeypatch):
    monkeypatch.setattr(baseline, "find_spec", lambda name: None)
    with pytest.raises(NewsdeskError, match="needs llama-cpp-python: run `make install`"):
        baseline.choose_llm(settings)


def test_a_configured_backend_is_used_instead_of_the_local_model(settings, monkeypatch):
    pytest.importorskip("langchain_openai")
    monkeypatch.setenv("OPENAI_API_KEY", "local")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("NEWSDESK_OPENAI_MODEL", "smollm2")
    model, backend, name = baseline.choose_llm(dataclasses.replace(settings, llm="openai"))
    assert backend == "openai (smollm2)" and name == "smollm2"
    assert type(model).__name__ == "ChatOpenAI"


def test_the_local_reader_model_gets_the_prompt_as_one_user_turn(corpus, settings, embeddings, tmp_path, monkeypatch):
    """NEWSDESK_LLM=local or none: newsdesk's own local reader (here a fake with its interface) answers."""
    import retrieval.models

    class FakeLocalReader:
        path, calls = Path("/models/reader.gguf"), []

        def chat(self, messages, max_tokens):
            self.calls.append((messages, max_tokens))
            return " Mayor Elena Ruiz.\n"

    reader, asked = FakeLocalReader(), []
    monkeypatch.setattr(baseline, "find_spec", lambda name: object())
    monkeypatch.setattr(retrieval.models, "get_generator", lambda s: asked.append(s.llm) or reader)
    outputs, info = run_naive([gold()], corpus, tmp_path / "work", dataclasses.replace(settings, llm="none"),
                              embeddings=embeddings)
    assert asked == ["local"] and info["backend"] == outputs[0]["backend"] == "local (reader.gguf)"
    assert info["model"] == "reader.gguf" and outputs[0]["answer"] == "Mayor Elena Ruiz."
    [(messages, max_tokens)] = reader.calls
    assert max_tokens == 128 and [role for role, _ in messages] == ["user"]
    assert messages[0][1].startswith("Answer the question using only the context.")
    assert messages[0][1].endswith("\n\nQuestion: Who reopened the harbour bridge?")


@pytest.mark.slow
def test_real_local_model_on_the_bundled_corpus(tmp_path, settings):
    pytest.importorskip("llama_cpp", reason="pip install -e '.[dev]'")
    rows = [json.loads(line) for line in (ROOT / "evals" / "gold.jsonl").read_text(encoding="utf-8").splitlines()
            if line.strip()][:2]
    outputs, info = run_naive(rows, ROOT / "corpus", tmp_path / "naive", settings)
    assert info["backend"].startswith("local (") and info["chunks"] > 0
    for o in outputs:
        assert isinstance(o["answer"], str) and o["answer"].strip()
        assert o["timings_ms"]["answer"] > 0 and o["timings_ms"]["total"] >= o["timings_ms"]["retrieve"]
        assert len(o["passages"]) == baseline.K
