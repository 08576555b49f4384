"""Rendering an Answer as Block Kit: escaping, Slack's limits, trimming at word boundaries."""
import json
import re

from slack_fakes import abstained_answer, cited_answer

from bot.slack import blocks
from retrieval.types import Answer, Citation


def _texts(bs):
    out = []
    for b in bs:
        if "text" in b:
            out.append(b["text"]["text"])
        for e in b.get("elements", []):
            out.append(e["text"] if isinstance(e.get("text"), str) else e.get("text", {}).get("text", ""))
    return out


def _answer(citations, text="An answer [1]."):
    return Answer(question="q", standalone_question="q", answer=text, short_answer=None, abstained=False,
                  citations=citations, backend="local")


def _check_limits(bs):
    assert len(bs) <= blocks.MAX_BLOCKS
    for b in bs:
        if b["type"] == "section":
            assert len(b["text"]["text"]) <= blocks.SECTION_LIMIT


def test_answer_sources_context_and_buttons():
    bs = blocks.answer_blocks(cited_answer(), "k123")
    assert bs[0]["block_id"] == blocks.ANSWER_BLOCK_ID
    assert bs[0]["text"]["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."
    assert bs[1]["text"]["text"] == "*Sources*"
    assert bs[2]["text"]["text"] == ("[1] *Maduro breaks diplomatic relations with US* — `000_d11bcdd6ba81869e.txt`\n"
                                     ">giving the U.S. delegation 72 hours to quit the country")
    assert bs[3]["type"] == "context" and "`local`" in bs[3]["elements"][0]["text"]
    actions = bs[4]
    assert [e["action_id"] for e in actions["elements"]] == [blocks.HELPFUL, blocks.NOT_HELPFUL]
    assert all(e["value"] == "k123" for e in actions["elements"])
    assert blocks.message(cited_answer(), "k")["text"] == "Maduro gave the U.S. delegation 72 hours to leave [1]."


def test_abstention_says_so_and_lists_closest_passages():
    bs = blocks.answer_blocks(abstained_answer(), "k")
    text = "\n".join(_texts(bs))
    assert bs[0]["text"]["text"].startswith("The articles don't say.")
    assert "*Closest passages*" in text
    assert "*Football results* — `003_747ea242d0380afb.txt`\n>The match ended in a draw after extra time." in text
    assert "*Sports roundup* — `004_29819ce6b5f17083.txt`" in text
    assert "weak match" not in text  # internal notes stay in the log
    assert bs[-1]["type"] == "actions"


def test_article_text_cannot_ping_anyone():
    evil = "Alert <!channel> and <@U123> & <!here|here> <https://evil.example|click>"
    ans = _answer([Citation(1, "a<b>.txt", "Title <!everyone>", 0, 10, evil)], text=evil + " [1]")
    post = blocks.message(ans, "k")
    dumped = json.dumps(post)
    for raw in ("<!channel>", "<@U123>", "<!here", "<!everyone>", "<https://"):
        assert raw not in dumped
    assert "&lt;!channel&gt;" in post["text"] and "&lt;@U123&gt; &amp;" in post["text"]
    assert "&lt;!channel&gt;" in post["blocks"][2]["text"]["text"]


def test_long_quote_trimmed_at_a_word_boundary():
    words = [f"word{i}" for i in range(2000)]
    quote = " ".join(words)  # ~15,000 characters
    bs = blocks.answer_blocks(_answer([Citation(1, "long.txt", "Long one", 0, len(quote), quote)]), "k")
    _check_limits(bs)
    section = bs[2]["text"]["text"]
    assert section.startswith("[1] *Long one* — `long.txt`\n>word0 word1")
    assert section.endswith("…") and len(section) > 2500
    last = section[:-1].split()[-1]
    assert last in words  # the last word kept is whole


def test_trim_never_cuts_mid_word_or_mid_entity():
    assert blocks.fit("short", 10) == "short"
    assert blocks.fit("alpha beta gamma", 12) == "alpha beta…"
    assert blocks.fit("supercalifragilistic", 5) == "…"  # one word too long: no half word
    out = blocks.fit("a & b & c & d & e", 12)  # "&" becomes "&amp;": count the escaped length
    assert len(out) <= 12 and out.endswith("…") and not re.search(r"&(?!amp;)", out)


def test_multiline_quote_is_quoted_line_by_line():
    text = blocks.quote("first line\nsecond line", 100)
    assert text == ">first line\n>second line"


def test_many_citations_keep_every_header_within_50_blocks():
    quote = " ".join(["lorem ipsum dolor sit amet"] * 200)
    cits = [Citation(i, f"file{i}.txt", f"Title {i}", 0, len(quote), quote) for i in range(1, 81)]
    bs = blocks.answer_blocks(_answer(cits), "k")
    _check_limits(bs)
    text = "\n".join(_texts(bs))
    for i in range(1, 81):
        assert f"[{i}] *Title {i}* — `file{i}.txt`" in text
    assert bs[-1]["type"] == "actions" and bs[-2]["type"] == "context"


def test_long_answer_text_is_trimmed_for_section_and_fallback():
    ans = _answer([], text="word " * 1000)
    post = blocks.message(ans, "k")
    assert len(post["text"]) <= 3000 and post["text"].endswith("…")
    _check_limits(post["blocks"])
