"""The verifier accepts a citation only when its quote is the file's text at [start:end]."""
from __future__ import annotations

import itertools
import json
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from retrieval.errors import SkipFile
from retrieval.loaders import canonical_text
from retrieval.types import Citation
from retrieval.verify import Verifier

# Hypothesis caches facts about the code under test in ./.hypothesis while pytest collects;
# keep that out of the working tree (examples are not stored at all: database=None).
set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                        or Path(tempfile.gettempdir()) / f"newsdesk-hypothesis-{os.getuid()}")
PROPS = settings(max_examples=200, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])

CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
PIECES = st.sampled_from(["\r\n", "\n\n", ". ", "“", "”", "\ufeff", "\t", "Photo: AFP", "Maduro said 72 hours. "])
TEXTS = st.one_of(
    st.text(CHARS, min_size=1, max_size=300),
    st.lists(st.one_of(PIECES, st.text(CHARS, max_size=10)), min_size=1, max_size=40).map("".join),
    st.builds(lambda w, n: (w + " ") * n, st.text("abc", min_size=1, max_size=5), st.integers(100, 500)),
    st.text(st.sampled_from(" \t\r\n\xa0"), min_size=1, max_size=20),
)
ARTICLE = "Diplomats told to leave\n\nMaduro gave US diplomats 72 hours to leave the country.\n"
_names = itertools.count()


def _cite(source, start, end, quote):
    return Citation(id=1, source=source, title="t", start=start, end=end, quote=quote)


def _write(folder, text: str, ext: str = ".txt") -> str:
    name = f"a{next(_names)}{ext}"  # a new file per example: no cache can mask a bug
    (folder / name).write_bytes(text.encode("utf-8"))
    return name


@PROPS
@given(text=TEXTS, start=st.integers(-3, 320), length=st.integers(-2, 60), other=st.text(CHARS, max_size=5))
def test_accepted_citations_slice_to_their_quote_and_others_are_rejected(tmp_path, text, start, length, other):
    name = _write(tmp_path, text)
    verifier = Verifier(tmp_path)
    end = start + length
    try:
        canonical = canonical_text(tmp_path, name)
    except SkipFile:
        canonical = None  # a file the loader skips backs no citation at all
    exact = text[start:end] if 0 <= start <= end <= len(text) else other
    ok = verifier.check(_cite(name, start, end, exact))
    assert ok == (canonical is not None and 0 <= start < end <= len(text) and exact == text[start:end]
                  and exact.strip() != "")
    if ok:
        assert canonical[start:end] == exact
        # any other quote at the same offsets is rejected
        for wrong in (exact + "x", exact[:-1], "x" + exact[1:], exact.upper() if exact.upper() != exact else None,
                      other if other != exact else None):
            if wrong is not None and wrong != exact:  # "x" + exact[1:] is exact itself when exact is "x"
                assert not verifier.check(_cite(name, start, end, wrong)), wrong
        assert not verifier.check(_cite(name, start + 1, end + 1, exact)) or text[start + 1:end + 1] == exact
    # a random quote is accepted only where it really is
    if verifier.check(_cite(name, start, end, other)):
        assert text[start:end] == other


@PROPS
@given(title=st.text(CHARS, max_size=30), body=TEXTS, start=st.integers(0, 200), length=st.integers(1, 40))
def test_json_citations_point_into_the_extracted_text(tmp_path, title, body, start, length):
    name = _write(tmp_path, json.dumps({"title": title, "body": body}), ".json")
    verifier = Verifier(tmp_path)
    text = verifier.text(name)
    if text is None:
        return
    quote = text[start:start + length]
    ok = verifier.check(_cite(name, start, start + length, quote))
    assert ok == (start + length <= len(text) and quote.strip() != "")
    assert not verifier.check(_cite(name, start, start + length, quote + "!"))


def test_sources_outside_the_corpus_are_rejected_even_when_the_quote_matches(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "secret.txt").write_text(ARTICLE)
    (corpus / "link.txt").symlink_to(tmp_path / "secret.txt")
    (corpus / "ok.txt").write_text(ARTICLE)
    verifier = Verifier(corpus)
    a = ARTICLE.index("Maduro")
    quote = ARTICLE[a:a + 20]
    assert verifier.check(_cite("ok.txt", a, a + 20, quote))
    for source in ("../secret.txt", str(tmp_path / "secret.txt"), "link.txt", "missing.txt", "", "ok.txt\x00"):
        assert not verifier.check(_cite(source, a, a + 20, quote)), source


def test_offsets_must_be_whole_numbers_in_range(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    verifier = Verifier(tmp_path)
    a = ARTICLE.index("72")
    assert verifier.check(_cite("a.txt", a, a + 8, "72 hours"))
    for start, end in ((str(a), a + 8), (a, float(a + 8)), (True, 2), (a + 8, a), (-len(ARTICLE), 3),
                       (a, len(ARTICLE) + 5)):
        assert not verifier.check(_cite("a.txt", start, end, "72 hours")), (start, end)
    assert not verifier.check(_cite("a.txt", a, a + 8, None))
    assert not verifier.check(_cite("a.txt", a - 1, a, " "))  # blank quotes prove nothing


def test_an_edited_file_is_read_again_even_within_one_mtime_tick(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE)
    verifier = Verifier(tmp_path)
    a = ARTICLE.index("72")
    assert verifier.check(_cite("a.txt", a, a + 8, "72 hours"))
    stamp = path.stat().st_mtime_ns
    path.write_text(ARTICLE.replace("72", "96 "))
    os.utime(path, ns=(stamp, stamp))  # same mtime as before: only the size tells
    assert not verifier.check(_cite("a.txt", a, a + 8, "72 hours"))
    assert verifier.check(_cite("a.txt", a, a + 9, "96  hours"))


def test_file_names_with_a_hash_sign_can_be_cited(tmp_path):
    (tmp_path / "issue#3.txt").write_text(ARTICLE)
    (tmp_path / "feed.jsonl").write_text(json.dumps({"title": "T", "body": "Feed body text."}) + "\n")
    verifier = Verifier(tmp_path)
    a = ARTICLE.index("72")
    assert verifier.check(_cite("issue#3.txt", a, a + 8, "72 hours"))
    assert verifier.check(_cite("feed.jsonl#0", 3, 7, "Feed"))
    assert not verifier.check(_cite("feed.jsonl#1", 3, 7, "Feed"))
