"""The LLM answer step with a scripted generator: what it may say, and what is thrown away."""
import pytest

from retrieval.answer import Draft, Sentence
from retrieval.errors import BackendError
from retrieval.llm_answer import llm_draft, supported

S1 = "The port reopened on Monday after 9 days, harbour officials said."
S2 = "Fishermen had waited at the docks since the storm."


class Scripted:
    id = "scripted"

    def __init__(self, reply):
        self.reply, self.calls, self.prompts = reply, 0, []

    def generate(self, system, prompt):
        self.calls += 1
        self.prompts.append(prompt)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def sentence(text, start):
    return Sentence("port.txt", "Port reopens", start, start + len(text), text, 0, text)


def draft(short="9 days", **kw):
    a, b = sentence(S1, 10), sentence(S2, 80)
    return Draft(abstained=False, short_answer=short, parts=[a], template="{0}", evidence=[a, b], **kw)


def test_a_supported_claim_is_kept_with_its_whole_sentence_cited():
    gen = Scripted("Harbour officials reported that the port reopened after 9 days [1].")
    out = llm_draft(gen, "How long was the port closed?", draft())
    assert gen.calls == 1 and "[1] (Port reopens) " + S1 in gen.prompts[0] and "[2]" in gen.prompts[0]
    assert out.ids_only and not out.abstained and out.short_answer == "9 days"
    assert [p.text for p in out.parts] == [S1]
    assert out.template.format("1") == "Harbour officials reported that the port reopened after 9 days [1]."


@pytest.mark.parametrize("reply", [
    "The port reopened after 12 days [1].",  # a number the sentence does not hold
    "The port did not reopen after 9 days [1].",  # a negation the sentence lacks
    "The navy reopened the port after 9 days [1].",  # a word from nowhere
    "Brazil won the World Cup.",
    "",
])
def test_unsupported_replies_fall_back_to_the_extractive_draft(reply):
    d = draft()
    out = llm_draft(Scripted(reply), "How long was the port closed?", d)
    assert out is d and not out.ids_only
    assert any("extractive answer instead" in n for n in out.notes)


def test_a_claim_without_a_marker_is_credited_to_the_sentence_that_supports_it():
    out = llm_draft(Scripted("Fishermen waited at the docks since the storm; the port reopened after 9 days."),
                    "How long was the port closed?", draft())
    # one claim needing both sentences is not supported by either alone
    assert not out.ids_only
    out = llm_draft(Scripted("The port reopened after 9 days. Fishermen waited at the docks [2]."),
                    "How long was the port closed?", draft())
    assert out.ids_only and [p.text for p in out.parts] == [S1, S2]
    assert out.template.format("1", "2") == "The port reopened after 9 days [1]. Fishermen waited at the docks [2]."


def test_the_answer_found_by_the_extractive_step_must_survive():
    out = llm_draft(Scripted("Fishermen had waited at the docks [2]."), "How long was the port closed?", draft())
    assert not out.ids_only and any("left out" in n for n in out.notes)


def test_not_in_articles_abstains_and_backend_errors_fall_back():
    assert llm_draft(Scripted("NOT IN ARTICLES"), "q?", draft()).abstained
    out = llm_draft(Scripted(BackendError("The openai backend failed (Timeout).")), "q?", draft())
    assert not out.abstained and any("backend failed" in n for n in out.notes)


def test_disagreements_and_abstentions_never_reach_the_llm():
    gen = Scripted("The port reopened after 9 days [1].")
    for d in (draft(notes=["sources disagree"]), draft(short_parts=["9", "days"]),
              Draft(abstained=True), Draft(abstained=False, parts=[])):
        assert llm_draft(gen, "q?", d) is d
    assert gen.calls == 0


def test_supported_treats_verbs_of_attribution_as_one():
    assert supported("Harbour officials reported that the port reopened", [S1])
    assert not supported("Harbour officials denied that the port reopened", [S1])
