"""The loader on bad corpus input: every bad file is skipped with a one-line reason, the
rest loads, and whatever loads has a canonical text the citations can point into."""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from retrieval.errors import SkipFile
from retrieval.loaders import canonical_text, iter_corpus, load_path, load_path_report, split_source

ARTICLE = ("Bridge reopens after repairs\n\n"
           "The city's main bridge reopened on Monday after six weeks of repairs, the mayor said.\n\n"
           "Traffic was light in the morning. Officials expect it to return to normal by Friday.\n")

# Hypothesis caches facts about the code under test in ./.hypothesis while pytest collects;
# keep that out of the working tree (examples are not stored at all: database=None).
set_hypothesis_home_dir(os.environ.get("HYPOTHESIS_STORAGE_DIRECTORY")
                        or Path(tempfile.gettempdir()) / f"newsdesk-hypothesis-{os.getuid()}")
PROPS = settings(max_examples=200, deadline=None, database=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])


def _outcome(folder: Path, **kw) -> tuple[dict[str, str], dict[str, list]]:
    """(skipped name -> reason, loaded name -> documents) for one run of iter_corpus."""
    skipped, loaded = {}, {}
    for path, docs, reason in iter_corpus([folder], **kw):
        name = path.relative_to(folder.absolute()).as_posix()
        if reason is None:
            loaded[name] = docs
        else:
            assert "\n" not in reason and reason.strip(), reason
            skipped[name] = reason
    return skipped, loaded


def test_every_kind_of_bad_file_is_skipped_with_a_reason_and_the_rest_loads(tmp_path):
    corpus, outside = tmp_path / "corpus", tmp_path / "outside"
    corpus.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret\n\nThis text lives outside the corpus and must not load.\n")
    (corpus / "a_good.txt").write_text(ARTICLE, encoding="utf-8")
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text(" \n\t\r\n  \n")
    (corpus / "binary.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    (corpus / "late_nul.txt").write_bytes(ARTICLE.encode() + b"x" * 9000 + b"\x00tail")  # NUL past 8 KB
    (corpus / "utf16.txt").write_bytes(ARTICLE.encode("utf-16"))
    (corpus / "latin1.txt").write_bytes("Caf\u00e9 society\n\nThe caf\u00e9 opened.\n".encode("latin-1"))
    (corpus / "huge.txt").write_bytes(b"A long article.\n" * 70_000)  # ~1.1 MB
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "b_copy.txt").write_text(ARTICLE, encoding="utf-8")  # same bytes as a_good.txt
    (corpus / "out_link.txt").symlink_to(outside / "secret.txt")
    (corpus / "out_dir").symlink_to(outside)
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "dangling.txt").symlink_to(corpus / "missing.txt")
    os.mkfifo(corpus / "pipe.txt")  # reading it would block forever
    (corpus / ".hidden.txt").write_text(ARTICLE + "hidden\n")

    skipped, loaded = _outcome(corpus, max_bytes=1024 * 1024)

    assert set(loaded) == {"a_good.txt"}
    assert loaded["a_good.txt"][0].text == ARTICLE
    expected = {
        "empty.txt": "empty file",
        "blank.md": "only whitespace",
        "binary.txt": "binary",
        "late_nul.txt": "binary",
        "utf16.txt": "UTF-16",
        "latin1.txt": "not valid UTF-8",
        "huge.txt": "too large",
        "notes.docx": "unsupported file type .docx",
        "b_copy.txt": "duplicate of a_good.txt",
        "out_link.txt": "outside the corpus",
        "out_dir": "outside the corpus",
        "loop.txt": "symlink loop",
        "dangling.txt": "broken symlink",
        "pipe.txt": "not a regular file",
    }
    assert set(skipped) == set(expected)
    for name, words in expected.items():
        assert words in skipped[name], (name, skipped[name])
    assert "NEWSDESK_MAX_FILE_MB" in skipped["huge.txt"]


def test_too_large_message_uses_the_configured_megabytes(tmp_path):
    (tmp_path / "big.txt").write_bytes(ARTICLE.encode() + b"x" * (3 * 1024 * 1024 // 2))  # 1.5 MiB
    with pytest.raises(SkipFile, match=r"too large \(1\.5 MB > 1 MB; raise NEWSDESK_MAX_FILE_MB\)"):
        load_path(tmp_path / "big.txt", tmp_path, max_bytes=1024 * 1024)
    (tmp_path / "edge.txt").write_text(ARTICLE)
    assert load_path(tmp_path / "edge.txt", tmp_path, max_bytes=len(ARTICLE.encode()))  # the limit itself is allowed
    with pytest.raises(SkipFile, match="too large"):
        load_path(tmp_path / "edge.txt", tmp_path, max_bytes=len(ARTICLE.encode()) - 1)


def test_of_identical_files_the_real_one_wins_over_a_symlink_whatever_the_names(tmp_path):
    (tmp_path / "z_real.txt").write_text(ARTICLE)
    (tmp_path / "a_link.txt").symlink_to(tmp_path / "z_real.txt")  # sorts first, still loses
    (tmp_path / "m_copy.txt").write_text(ARTICLE)
    skipped, loaded = _outcome(tmp_path)
    assert set(loaded) == {"m_copy.txt"}  # first regular file in path order
    assert skipped == {"a_link.txt": "duplicate of m_copy.txt (same bytes)",
                       "z_real.txt": "duplicate of m_copy.txt (same bytes)"}


def test_a_symlinked_folder_inside_the_corpus_is_not_followed(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text(ARTICLE)
    (tmp_path / "again").symlink_to(tmp_path / "sub")
    skipped, loaded = _outcome(tmp_path)
    assert set(loaded) == {"sub/a.txt"} and skipped == {}


def test_a_file_named_twice_is_read_once(tmp_path):
    (tmp_path / "a.txt").write_text(ARTICLE)
    seen = [(p.name, r) for p, _, r in iter_corpus([tmp_path, tmp_path / "a.txt"], root=tmp_path)]
    assert seen == [("a.txt", None)]


def test_a_byte_order_mark_is_not_part_of_the_title_or_the_chunks(tmp_path):
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode())
    doc = load_path(tmp_path / "bom.txt", tmp_path)[0]
    assert doc.title == "Bridge reopens after repairs"
    assert doc.text.startswith("\ufeff")  # offsets still index the file as read
    assert all("\ufeff" not in doc.text[a:b] for a, b in doc.spans)
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"title": "T", "body": "Body text here."}).encode())
    assert load_path(tmp_path / "bom.json", tmp_path)[0].text == "T\n\nBody text here."


HOSTILE_HTML = """<!DOCTYPE html><html><head><title>Council votes</title>
<script>var TOKEN_HEAD = "steal()";</script><style>.TOKEN_STYLE { color: red }</style>
<script type="application/ld+json">{"TOKEN_LD": 1}</script></head>
<body><nav>TOKEN_NAV Home | World</nav><!-- TOKEN_COMMENT -->
<p>The council voted 7 to 2 on Tuesday <script>document.write("TOKEN_INLINE")</script>to fund the new library.</p>
<noscript>TOKEN_NOSCRIPT enable javascript</noscript><SCRIPT>TOKEN_UPPER()</SCRIPT>
<svg><script>TOKEN_SVG()</script><style>TOKEN_SVG_STYLE</style></svg><template><p>TOKEN_TEMPLATE</p></template>
<p onclick="TOKEN_ATTR()">Construction starts in May.</p><iframe src="x">TOKEN_IFRAME</iframe>
<script>unclosed("TOKEN_UNCLOSED") <p>TOKEN_AFTER</p>
"""


def test_html_scripts_styles_and_other_non_text_never_reach_the_text(tmp_path):
    (tmp_path / "page.html").write_text(HOSTILE_HTML)
    doc = load_path(tmp_path / "page.html", tmp_path)[0]
    assert "TOKEN" not in doc.text, doc.text
    assert "voted 7 to 2 on Tuesday to fund the new library." in doc.text
    assert "Construction starts in May." in doc.text
    assert doc.title == "Council votes"
    assert canonical_text(tmp_path, "page.html") == doc.text


def test_hostile_json_is_skipped_or_cleaned_never_a_crash(tmp_path):
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(SkipFile, match="nested too deeply"):
        load_path(tmp_path / "deep.json", tmp_path)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SkipFile, match="invalid JSON"):
        load_path(tmp_path / "bad.json", tmp_path)
    # escapes that decode to a lone surrogate or a NUL: the text must still encode as UTF-8
    (tmp_path / "odd.json").write_text('{"title": "Odd \\ud800 title", "body": "A body\\u0000 with a \\udfff here."}')
    doc = load_path(tmp_path / "odd.json", tmp_path)[0]
    doc.text.encode("utf-8")
    assert "\x00" not in doc.text and "\ufffd" in doc.text
    lines = [json.dumps({"title": "One", "body": "First body."}), "[" * 5000, "{broken", json.dumps([1, 2]),
             json.dumps({"title": "No body"}), json.dumps({"title": "Two", "body": "Second body."})]
    (tmp_path / "mixed.jsonl").write_text("\n".join(lines))
    docs, skipped = load_path_report(tmp_path / "mixed.jsonl", tmp_path)
    assert [d.source for d in docs] == ["mixed.jsonl#0", "mixed.jsonl#5"]
    assert len(skipped) == 4 and all(s.startswith("record ") for s in skipped)


def test_file_names_may_hold_a_hash_sign(tmp_path):
    (tmp_path / "issue#12.txt").write_text(ARTICLE)
    (tmp_path / "feed#2.jsonl").write_text(json.dumps({"title": "T", "body": "Record body."}) + "\n")
    assert split_source("issue#12.txt") == ("issue#12.txt", None)
    assert split_source("feed#2.jsonl#0") == ("feed#2.jsonl", 0)
    assert split_source("a.json#x") == ("a.json#x", None)
    assert canonical_text(tmp_path, "issue#12.txt") == ARTICLE
    assert canonical_text(tmp_path, "feed#2.jsonl#0") == "T\n\nRecord body."


def test_canonical_text_refuses_sources_outside_the_corpus(tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (tmp_path / "secret.txt").write_text(ARTICLE)
    for source in ("../secret.txt", str(tmp_path / "secret.txt")):
        with pytest.raises((KeyError, SkipFile)):
            canonical_text(corpus, source)


# --------------------------------------------------------------------------- properties
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=400)


@PROPS
@given(data=st.binary(max_size=600), ext=st.sampled_from([".txt", ".md", ".html", ".json", ".jsonl"]))
def test_any_bytes_either_load_or_are_skipped_with_a_reason(tmp_path, data, ext):
    path = tmp_path / f"f{ext}"
    path.write_bytes(data)
    try:
        docs, _ = load_path_report(path, tmp_path)
    except SkipFile as exc:
        assert str(exc).strip() and "\n" not in str(exc)
        return
    for doc in docs:
        doc.text.encode("utf-8")  # no lone surrogates
        assert doc.spans and all(0 <= a < b <= len(doc.text) for a, b in doc.spans)
        assert canonical_text(tmp_path, doc.source) == doc.text


@PROPS
@given(text=TEXT)
def test_a_text_file_is_its_own_canonical_text(tmp_path, text):
    path = tmp_path / "a.txt"
    path.write_bytes(text.encode("utf-8"))
    try:
        doc = load_path(path, tmp_path)[0]
    except SkipFile as exc:
        assert "empty file" in str(exc) or "no article text" in str(exc), str(exc)
        return
    assert doc.text == text  # CRLF, control characters and all: offsets index the file itself
    assert canonical_text(tmp_path, "a.txt") == text


@PROPS
@given(words=st.lists(st.text("abcdefghij", min_size=1, max_size=8), min_size=1, max_size=30),
       script=TEXT, style=TEXT)
def test_no_script_or_style_text_reaches_an_html_document(tmp_path, words, script, style):
    body = " ".join(words)
    marker = "ZQXMARKER"
    html = (f"<html><head><title>Report</title><style>{marker}{style.replace('<', '')}</style></head><body>"
            f"<p>{body}.</p><script>{marker}{script.replace('<', '')}</script><p>{body} again.</p></body></html>")
    (tmp_path / "p.html").write_text(html, encoding="utf-8")
    doc = load_path(tmp_path / "p.html", tmp_path)[0]
    assert marker not in doc.text
    assert f"{body}." in doc.text and f"{body} again." in doc.text
