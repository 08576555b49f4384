"""Fusion and diversification with a fake store (no model)."""
from retrieval.search import HybridRetriever, KeywordIndex, fold, terms
from retrieval.store import StoredChunk
from retrieval.types import Passage


class FakeStore:
    def __init__(self, dense_hits, vectors):
        self.dense_hits, self.vectors = dense_hits, vectors

    def dense(self, qvec, k):
        return [Passage(**{**p.__dict__}) for p in self.dense_hits][:k]

    def embeddings_for(self, ids):
        return {i: self.vectors[i] for i in ids if i in self.vectors}


def _chunk(i, source, text):
    return StoredChunk(id=i, source=source, title=source, start=0, end=len(text), text=text, doc_hash="h")


def test_terms_fold_accents_and_stem():
    assert terms("Guaidó declared") == terms("guaido declares")
    assert fold("Nicolás") == "nicolas"


def test_keyword_index_roundtrip(tmp_path):
    chunks = [_chunk("a", "a.txt", "The mayor resigned on Friday."), _chunk("b", "b.txt", "Floods hit the coast.")]
    KeywordIndex.build(chunks, tmp_path / "bm25")
    idx = KeywordIndex(tmp_path / "bm25")
    hits = idx.search("Why did the mayor resign?", 5)
    assert hits[0].chunk_id == "a"
    assert idx.idf("mayor") > 0 and idx.idf("unseenword") > idx.idf("mayor")


def test_rrf_fuses_and_near_duplicates_from_other_articles_are_demoted(tmp_path):
    chunks = [_chunk("a1", "a.txt", "Storm kills 5 in the north."), _chunk("b1", "b.txt", "Storm kills 5 in the north, officials say."),
              _chunk("c1", "c.txt", "The storm closed schools in the south.")]
    KeywordIndex.build(chunks, tmp_path / "bm25")
    dense = [Passage(c.source, c.title, c.start, c.end, c.text, 0.9, c.id) for c in chunks]
    vectors = {"a1": [1.0, 0.0], "b1": [0.99, 0.05], "c1": [0.0, 1.0]}
    r = HybridRetriever(FakeStore(dense, vectors), KeywordIndex(tmp_path / "bm25"), k=3, candidates=3)
    got = [p.chunk_id for p in r.run("storm north", [1.0, 0.0])]
    assert got[0] == "a1"
    assert got.index("c1") < got.index("b1")  # the duplicate from b.txt goes behind the distinct passage
    assert len(got) == 3


def test_retriever_validates_config():
    import pytest

    with pytest.raises(ValueError, match="k="):
        HybridRetriever(None, None, k=0)
