"""Chunks are exact slices of the document, never cross dropped text, cover everything the
cleaner kept, and stay bounded whatever the text looks like."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from retrieval import chunking
from retrieval.chunking import _is_boundary, chunk_document, sentence_spans
from retrieval.clean import article_spans
from retrieval.types import Document

# Hypothesis caches facts about the code under test in ./.hypothesis while pytest collects;
# keep that out of the working tree (examples are not stored at all: database=None).
set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                        or Path(tempfile.gettempdir()) / f"newsdesk-hypothesis-{os.getuid()}")
PROPS = settings(max_examples=200, deadline=None, database=None)

CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PIECES = st.sampled_from(["\r\n", "\n", "\n\n", "\r", ". ", "? ", "! ", "… ", "“", "”", "Mr. ", "U.S. ", "Jan. 23",
                          "\ufeff", "\t", "  ", "\u2028", "\x0b", "\x85", "?!”", ".)", "e.g. ", "A. ", "3.5 ",
                          "The ", "Maduro ", "said ", "72 hours", "Photo: AFP", "Title"])
WORD = st.text("abcdefghijklmnopqrstuvwxyzABC", min_size=1, max_size=12)
TEXTS = st.one_of(
    st.text(CHARS, max_size=400),  # anything: unicode, control characters, CR/LF mixes
    st.lists(st.one_of(PIECES, WORD, st.text(CHARS, max_size=8)), max_size=120).map("".join),  # sentence-like
    st.builds(lambda w, n: (w + " ") * n, WORD, st.integers(100, 800)),  # a very long line, no punctuation
    st.builds(lambda c, n: c * n, st.sampled_from("x.?“é語"), st.integers(300, 3000)),  # one endless word
    st.text(st.sampled_from(" \t\r\n\x0b\x0c\u2028\u2029\xa0\x85"), max_size=40),  # only whitespace
)


def _document(text: str, title: str = "Title") -> Document:
    return Document(source="a.txt", title=title, text=text, spans=article_spans(text, title))


def _inside(i: int, spans) -> bool:
    return any(a <= i < b for a, b in spans)


@PROPS
@given(text=TEXTS, target=st.one_of(st.just(700), st.integers(20, 200)))
def test_chunks_slice_the_text_stay_inside_kept_text_and_cover_all_of_it(text, target):
    doc = _document(text)
    chunks = chunk_document(doc, target_chars=target)
    covered = set()
    for c in chunks:
        assert 0 <= c.start < c.end <= len(text)
        assert text[c.start:c.end] == c.text  # the offsets are the truth
        assert c.text.strip() == c.text and c.text  # trimmed, never blank
        assert len(c.text) <= target
        assert c.source == "a.txt" and c.title == "Title"
        for i in range(c.start, c.end):  # never across text the cleaner dropped
            assert text[i].isspace() or _inside(i, doc.spans), (c, i)
        covered.update(range(c.start, c.end))
    for a, b in doc.spans:  # every visible kept character is in some chunk
        missing = [i for i in range(a, b) if not text[i].isspace() and i not in covered]
        assert not missing, (missing[:5], text[a:b][:80])
    assert len({c.id for c in chunks}) == len(chunks)
    assert [c.start for c in chunks] == sorted({c.start for c in chunks})
    assert chunk_document(doc, target_chars=target) == chunks  # deterministic (ids are stable)


@PROPS
@given(text=TEXTS, cut=st.tuples(st.integers(0, 50), st.integers(0, 50)))
def test_sentences_are_trimmed_ordered_and_cover_the_range(text, cut):
    start, end = min(cut[0], len(text)), max(min(cut[0], len(text)), len(text) - cut[1])
    spans = sentence_spans(text, start, end)
    prev = start
    for a, b in spans:
        assert prev <= a < b <= end
        assert text[a:b].strip() == text[a:b]
        prev = b
    visible = {i for i in range(start, end) if not text[i].isspace()}
    assert visible == {i for a, b in spans for i in range(a, b)} & visible
    assert all(i in visible or text[i].isspace() for a, b in spans for i in range(a, b))
    # the linear-time quote bookkeeping splits exactly where recounting from the sentence start does
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(chunking, "_is_boundary",
                   lambda text, end, stop, begin=0, quote_open=None: _is_boundary(text, end, stop, begin))
        assert chunking.sentence_spans(text, start, end) == spans


def test_quotes_and_abbreviations_still_split_as_before():
    text = "“Who are we? Venezuela!” the crowd chanted. Mr. Guaido spoke at 3 p.m. on Jan. 23. It rained."
    got = [text[a:b] for a, b in sentence_spans(text, 0, len(text))]
    assert got == ["“Who are we? Venezuela!” the crowd chanted.", "Mr. Guaido spoke at 3 p.m. on Jan. 23.",
                   "It rained."]


def test_an_endless_line_is_cut_at_spaces_into_bounded_chunks():
    line = "word " * 2000
    doc = _document("Title\n" + line)
    chunks = chunk_document(doc)
    assert len(chunks) > 10 and all(len(c.text) <= 700 for c in chunks)
    assert all(c.text.startswith("word") and c.text.endswith("word") for c in chunks)  # never inside a word


def test_hostile_text_chunks_in_linear_time():
    # "?" inside an unclosed quotation used to recount the quotes for every "?": quadratic
    for text in ("Title\n“" + "Why? " * 60_000, "Title\n" + "x" * 300_000, "Title\n" + "a. " * 100_000):
        started = time.perf_counter()
        chunk_document(_document(text))
        assert time.perf_counter() - started < 3.0, text[:20]
