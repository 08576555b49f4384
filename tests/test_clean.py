"""The cleaner keeps article lines as spans into the untouched text: properties over any
text, the credit rule, and linear time on hostile lines."""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from retrieval.clean import _is_furniture, article_spans

# Hypothesis caches facts about the code under test in ./.hypothesis while pytest collects;
# keep that out of the working tree (examples are not stored at all: database=None).
set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                        or Path(tempfile.gettempdir()) / f"newsdesk-hypothesis-{os.getuid()}")
PROPS = settings(max_examples=200, deadline=None, database=None)

CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PIECES = st.sampled_from(["\r\n", "\n", "\n\n", "\r", ". ", "? ", "“", "”", "\ufeff", "\t", "  ", "\u2028", "\x0b",
                          "\x85", "\x1c", "Photo: AFP", "Share", "12", ".Luis Robayo / AFP - Getty Images",
                          "The ", "Maduro ", "said ", "72 hours", "(Source: Reuters)", "Title"])
TEXTS = st.one_of(
    st.text(CHARS, max_size=300),
    st.lists(st.one_of(PIECES, st.text(CHARS, max_size=10)), max_size=60).map("".join),
    st.builds(lambda w, n: (w + " ") * n, st.text("abcxyz", min_size=1, max_size=9), st.integers(50, 400)),
    st.text(st.sampled_from(" \t\r\n\x0b\x0c\u2028\u2029\xa0\ufeff\x85"), max_size=40),
)
BLANK = lambda ch: ch.isspace() or ch == "\ufeff"  # noqa: E731


def _lines(text: str):
    pos = 0
    for line in text.splitlines(keepends=True):
        yield pos, pos + len(line.rstrip("\r\n"))
        pos += len(line)


@PROPS
@given(text=TEXTS, title=st.one_of(st.none(), st.sampled_from(["Title", "The"]), st.text(CHARS, max_size=20)))
def test_spans_are_trimmed_ordered_pieces_of_kept_lines(text, title):
    spans = article_spans(text, title)
    prev = 0
    for a, b in spans:
        assert prev <= a < b <= len(text)
        assert not BLANK(text[a]) and not BLANK(text[b - 1])
        assert len(text[a:b].splitlines()) == 1 and not any(c in text[a:b] for c in "\r\n")
        prev = b
    # exactly the lines that are not furniture hold a span, starting at their first visible character
    kept = [(s, e) for s, e in _lines(text) if not _is_furniture(text[s:e], title)]
    assert len(kept) == len(spans)
    for (s, e), (a, b) in zip(kept, spans):
        assert s <= a < b <= e
        assert all(BLANK(c) for c in text[s:a])


def test_a_trailing_photo_credit_is_cut_and_the_sentence_kept_without_trailing_space():
    line = ("Supporters of the opposition leader gathered in the main square of the capital on Wednesday "
            "afternoon. Luis Robayo / AFP - Getty Images")
    (a, b), = article_spans(line)
    assert line[a:b].endswith("Wednesday afternoon.")


def test_page_furniture_is_dropped():
    text = "Title\n\nShare Tweet Email\n\nPhoto: Reuters\n\n12\n\nThe council met on Monday.\n"
    assert [text[a:b] for a, b in article_spans(text, "Title")] == ["The council met on Monday."]


def test_hostile_lines_are_cleaned_in_linear_time():
    # This line made the old credit pattern backtrack cubically (80 KB took minutes).
    credit_bomb = "Intro. Some Name / Agency" + " - Agency" * 25_000 + ","
    source_bomb = "(source: x " * 20_000
    for line in (credit_bomb, source_bomb, "x " * 200_000):
        started = time.perf_counter()
        article_spans("Title\n" + line + "\n", "Title")
        assert time.perf_counter() - started < 2.0, line[:40]
