"""Embeddings are cached by content hash: text already in the index is never embedded again,
whatever file or id it comes under; a text repeated within one batch is embedded once."""
from langchain_core.embeddings import Embeddings

from retrieval.ingest import ingest
from retrieval.store import Store, text_hash
from tests.test_ingest_hardening import FakeEmbeddings, _settings, article, snapshot


class Counting(FakeEmbeddings, Embeddings):
    def __init__(self):
        self.texts: list[str] = []

    def embed_documents(self, texts):
        self.texts += texts
        return super().embed_documents(texts)


def test_renamed_copied_and_edited_files_embed_only_new_text(tmp_path, monkeypatch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for n in range(3):
        (corpus / f"a{n}.txt").write_text(article(n), encoding="utf-8")
    settings = _settings(tmp_path / "home", monkeypatch)
    emb = Counting()
    store = Store(settings, emb)
    first = ingest([corpus], settings, store=store)
    assert first.chunks_embedded == first.chunks_added == len(emb.texts) > 6 and first.chunks_reused == 0

    emb.texts.clear()
    (corpus / "a0.txt").rename(corpus / "renamed.txt")
    report = ingest([corpus], settings, store=store)
    assert emb.texts == []  # nothing new to say: every chunk's text is cached
    assert report.chunks_added == report.chunks_reused > 0 and report.chunks_embedded == 0
    assert report.chunks_removed == report.chunks_added  # a0.txt's rows went

    # a syndicated copy under another headline: only the chunks holding the new headline are new text
    body = (corpus / "a1.txt").read_text(encoding="utf-8").split("\n", 1)[1]
    (corpus / "wire.txt").write_text("Wire copy: the library story\n" + body, encoding="utf-8")
    report = ingest([corpus], settings, store=store)
    assert report.chunks_reused > 0 and report.chunks_embedded == len(emb.texts) < report.chunks_added
    assert all("Wire copy" in t for t in emb.texts)

    # the index equals one built from scratch (same rows, same vectors)
    clean = _settings(tmp_path / "clean", monkeypatch)
    ingest([corpus], clean, store=Store(clean, Counting()))
    assert snapshot(settings, store) == snapshot(clean)

    # an edit re-embeds only the chunks whose text changed
    emb.texts.clear()
    text = (corpus / "a2.txt").read_text(encoding="utf-8")
    (corpus / "a2.txt").write_text(text.replace("stage 8 of its plan", "stage 8 of its revised plan"), encoding="utf-8")
    settings = _settings(tmp_path / "home", monkeypatch)
    report = ingest([corpus], settings, store=store)
    assert emb.texts and all("revised" in t for t in emb.texts)
    assert report.chunks_embedded == len(emb.texts) and report.chunks_reused > 0  # the file's other chunks


def test_a_text_repeated_in_one_batch_is_embedded_once(tmp_path, monkeypatch):
    from retrieval.types import Chunk

    settings = _settings(tmp_path / "home", monkeypatch)
    emb = Counting()
    store = Store(settings, emb)
    same = "The same wire story, word for word."
    embedded = store.add([Chunk(f"x{i}", f"f{i}.txt", "t", 0, len(same), same, f"h{i}") for i in range(3)])
    assert embedded == 1 and emb.texts == [same] and store.count() == 3
    assert set(store.embeddings_by_hash([text_hash(same), text_hash("never stored")])) == {text_hash(same)}
