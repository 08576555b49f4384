"""evals/baseline.py: the naive LangChain chain that `newsdesk eval --baseline naive` and
`newsdesk bench` compare newsdesk with. Fast tests use a tiny corpus, a deterministic fake
embedder and a fake LLM that returns queued replies and records its prompts; one slow test
runs the real SmolLM2 and embedding model on the bundled corpus."""
import dataclasses
import json
from pathlib import Path

import pytest

from evals import baseline
from evals.baseline import run_naive
from retrieval.config import Settings
from retrieval.errors import NewsdeskError

ROOT = Path(__file__).resolve().parents[1]

HARBOUR = "Harbour bridge reopens after repairs\n\n" + " ".join(
    f"Paragraph {n} of the harbour story says traffic moved slowly on day {n}." for n in range(30)
) + "\n\nThe bridge was reopened by Mayor Elena Ruiz on Tuesday, the city council said.\n"
ORCHARD = "Orchard harvest hit by frost\n\n" + " ".join(
    f"Growers in valley {n} counted their losses after the cold night." for n in range(25)
) + "\n\nThe cooperative estimated that 40 percent of the apples were lost.\n"


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


def _count(work: Path) -> int:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(work / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    return client.get_collection(baseline.COLLECTION).count()


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
    outputs, _ = run_naive([gold()], corpus, tmp_path / "work", settings, llm=FakeLLM().runnable(),
                           embeddings=embeddings)
    for p in outputs[0]["passages"]:
        text = (corpus / p["source"]).read_text(encoding="utf-8")
        assert text[p["start"]:p["end"]] == p["text"]
        assert len(p["text"]) <= 1000 and isinstance(p["score"], float)
        assert p["title"] in {"Harbour bridge reopens after repairs", "Orchard harvest hit by frost", "Short note"}


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


def test_the_index_is_reused_not_rebuilt(corpus, settings, embeddings, tmp_path):
    work = tmp_path / "work"
    llm = FakeLLM().runnable()
    _, first = run_naive([gold()], corpus, work, settings, llm=llm, embeddings=embeddings)
    n = _count(work)
    assert n == first["chunks"]

    _, again = run_naive([gold("q2")], corpus, work, settings, llm=llm, embeddings=embeddings)  # same process
    assert again["index_reused"] is True and again["chunks"] == first["chunks"] and _count(work) == n

    baseline._INDEXES.clear()  # as a new process would: the marker file and the stored collection
    _, later = run_naive([gold("q3")], corpus, work, settings, llm=llm, embeddings=embeddings)
    assert later["index_reused"] is True and _count(work) == n

    (corpus / "extra.txt").write_text("A new article about the harbour ferry timetable.\n", encoding="utf-8")
    _, changed = run_naive([gold("q4")], corpus, work, settings, llm=llm, embeddings=embeddings)
    assert changed["index_reused"] is False and changed["chunks"] == n + 1 == _count(work)


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
