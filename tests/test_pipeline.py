"""End to end with the real embedding model: ingest a copy of corpus/, then ask."""
import json
from pathlib import Path

import pytest

from retrieval.loaders import canonical_text

pytestmark = pytest.mark.slow


def _check_citations(answer, corpus: Path):
    for c in answer.citations:
        text = (corpus / c.source).read_text(encoding="utf-8")
        assert text[c.start:c.end] == c.quote, c


def test_answers_with_verified_citations(pipeline, indexed_home):
    _, corpus = indexed_home
    ans = pipeline.ask("How many hours were U.S. diplomats given to leave Venezuela?")
    assert not ans.abstained
    assert "72" in (ans.short_answer or "") + ans.answer
    assert ans.citations and "[1]" in ans.answer
    _check_citations(ans, corpus)
    assert set(ans.timings_ms) >= {"rewrite", "retrieve", "answer", "verify", "total"}


def test_off_topic_question_abstains_and_shows_passages(pipeline):
    ans = pipeline.ask("Which team won the football World Cup final?")
    assert ans.abstained and not ans.citations
    assert ans.answer.startswith("The articles don't say")
    assert ans.passages


def test_follow_up_is_rewritten(pipeline, indexed_home):
    _, corpus = indexed_home
    ans = pipeline.ask("How old is he?", [["Who declared himself acting president?", "Juan Guaido"]])
    assert "Guaido" in ans.standalone_question
    assert not ans.abstained and "35" in (ans.short_answer or "") + ans.answer
    _check_citations(ans, corpus)


def test_conflicting_figures_cite_each_side(pipeline, indexed_home):
    _, corpus = indexed_home
    ans = pipeline.ask("How many people have been killed in the unrest?")
    assert not ans.abstained
    assert "13" in ans.answer and "20" in ans.answer
    assert len({c.source for c in ans.citations}) >= 2
    _check_citations(ans, corpus)


def test_a_quote_that_no_longer_matches_the_file_is_never_shown(indexed_home, tmp_path, monkeypatch):
    """Edit an article after indexing: citations into the changed text must be dropped."""
    import shutil

    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.pipeline import Pipeline

    corpus = tmp_path / "corpus"
    shutil.copytree(indexed_home[1], corpus)
    monkeypatch.setenv("NEWSDESK_HOME", str(tmp_path / "home"))
    settings = Settings.from_env()
    ingest([corpus], settings)
    for f in corpus.glob("*.txt"):
        f.write_text(f.read_text(encoding="utf-8").replace("72", "96"), encoding="utf-8")
    ans = Pipeline(settings).ask("How many hours were U.S. diplomats given to leave Venezuela?")
    for c in ans.citations:
        assert canonical_text(corpus, c.source)[c.start:c.end] == c.quote
    assert "72" not in ans.answer


def test_ingest_is_incremental(tmp_path, monkeypatch, indexed_home):
    import shutil

    from retrieval.config import Settings
    from retrieval.ingest import ingest

    corpus = tmp_path / "corpus"
    shutil.copytree(indexed_home[1], corpus)
    monkeypatch.setenv("NEWSDESK_HOME", str(tmp_path / "home"))
    settings = Settings.from_env()
    first = ingest([corpus], settings)
    assert first.chunks_added > 0 and first.chunks_removed == 0
    again = ingest([corpus], settings)
    assert again.chunks_added == 0 and again.chunks_removed == 0 and again.chunks_unchanged == first.chunks_added
    victim = sorted(corpus.glob("*.txt"))[0]
    victim.write_text(victim.read_text(encoding="utf-8") + "\n\nA new closing sentence was added here.\n",
                      encoding="utf-8")
    changed = ingest([corpus], settings)
    assert changed.chunks_added >= 1
    gone = sorted(corpus.glob("*.txt"))[1]
    gone.unlink()
    removed = ingest([corpus], settings)
    assert removed.chunks_removed > 0 and removed.chunks_added == 0
    from retrieval.models import get_embeddings
    from retrieval.store import Store

    store = Store(settings, get_embeddings(settings.embed_model))
    assert gone.name not in store.sources()
    rows = [json.loads(l) for l in (settings.home / "bm25" / "rows.jsonl").read_text().splitlines()]
    assert {r["source"] for r in rows} == set(store.sources()) and len(rows) == store.count()
