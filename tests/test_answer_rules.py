"""Answer-selection rules on a small corpus written for these tests (not the seed articles)."""
import pytest

PORT = """Harbour strike enters second week

The dockworkers' strike at the port of Halvard entered its second week on Monday.
Union leader Tomas Berg addressed the crowd outside the harbour office.
“We will not go back until the contract is signed,” he said.
The port authority said it would “review every option” before the next meeting.
Mayor Ana Ortiz asked both sides to “resume talks” in the interest of the city.
Labour Party leader Nils Eide backed the mayor’s call on Tuesday.
Shipping companies have diverted 40 vessels to other ports since the strike began.
Norwegian transport minister Eva Lund called the dispute “a national problem.”
Berg, who was reelected as union leader in March, has led two earlier strikes.
Dockers held solidarity rallies in other ports, including Rotterdam, Lagos and Osaka.
Shipowner Lars Dahl criticised Tomas Berg on Wednesday for the strike.
"""

PROFILE = """Profile: the dockers' voice

Tomas Berg grew up in the harbour district and started work at sixteen.
He was re-elected in 2021 after a close vote among the members.
"""

WEATHER = """Storm closes mountain roads

A spring storm closed three mountain roads near the town of Sella on Tuesday.
Snow ploughs cleared the main pass by the evening, the regional office said.
The regional road secretary Ivo Marsh said the pass would stay open.
Resident Pia Moss, 40, said the snow had cut off her street for two days.
Forecasters expect warmer weather later in the week.
"""

FLEET = """Fishing fleet protests quotas

Fishermen from Portugal marched through Lisbon on Friday against the new quotas.
Delegate Rosa Lind of the fleet council said that “unlike Paul Grant, the fishermen kept every promise.”
Meanwhile, the quota office stayed closed all weekend.
The ministry cut the cod quota by half last month.
Accordingly, the trawlers stayed in the harbour on Monday.
"""


@pytest.fixture(scope="module")
def ask(tmp_path_factory):
    from retrieval.config import Settings
    from retrieval.ingest import ingest
    from retrieval.pipeline import Pipeline

    base = tmp_path_factory.mktemp("rules")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "port.txt").write_text(PORT, encoding="utf-8")
    (corpus / "weather.txt").write_text(WEATHER, encoding="utf-8")
    (corpus / "profile.txt").write_text(PROFILE, encoding="utf-8")
    (corpus / "fleet.txt").write_text(FLEET, encoding="utf-8")
    mp = pytest.MonkeyPatch()
    mp.setenv("NEWSDESK_HOME", str(base / "home"))
    settings = Settings.from_env()
    mp.undo()
    ingest([corpus], settings)
    pipeline = Pipeline(settings)
    return pipeline.ask


@pytest.mark.slow
def test_who_said_a_quote_attributed_to_he_names_the_speaker_from_the_sentence_before(ask):
    a = ask("Who said they would not go back until the contract is signed?")
    assert not a.abstained
    assert "Tomas Berg" in (a.short_answer or "")
    # both sentences are cited: the one naming him and the one quoting him
    quotes = " ".join(c.quote for c in a.citations)
    assert "Tomas Berg" in quotes and "go back until the contract" in quotes


@pytest.mark.slow
def test_words_in_quotes_pick_the_sentence_that_uses_them(ask):
    a = ask('Who did the mayor ask to "resume talks"?')
    assert not a.abstained
    assert "resume talks" in a.answer


@pytest.mark.slow
def test_a_he_said_sentence_without_a_named_speaker_before_it_does_not_invent_one(ask):
    a = ask("Who said the snow ploughs cleared the pass?")
    # the regional office said it; no "he said" here, so no speaker is borrowed from elsewhere
    assert "Tomas Berg" not in (a.short_answer or "") + a.answer


@pytest.mark.slow
def test_month_and_year_from_two_articles_cites_both(ask):
    # one article gives the month ("reelected ... in March"), the other the year ("re-elected in 2021")
    a = ask("In what month and year was Tomas Berg re-elected?")
    assert a.short_answer == "March 2021"
    assert {c.source for c in a.citations} == {"port.txt", "profile.txt"}
    assert any("March" in c.quote for c in a.citations) and any("2021" in c.quote for c in a.citations)


def test_hyphenated_prefixes_are_one_word():
    from retrieval.search import terms

    assert terms("re-elected") == terms("reelected") and terms("co-operate") == terms("cooperate")


@pytest.mark.slow
def test_a_proper_qualifier_of_the_role_must_be_in_the_evidence(ask):
    a = ask("What is the name of the Norwegian transport minister?")
    assert not a.abstained and "Eva Lund" in (a.short_answer or "") + a.answer
    # the articles name a transport minister, but not a Danish one
    a = ask("What is the name of the Danish transport minister?")
    assert a.abstained, a.answer


@pytest.mark.slow
def test_a_role_written_before_a_name_counts(ask):
    # "the road secretary Ivo Marsh said": the role precedes the name, in lower case
    a = ask("What is the name of the road secretary?")
    assert not a.abstained and "Ivo Marsh" in (a.short_answer or "") + a.answer, a.answer


@pytest.mark.slow
def test_a_count_of_a_subset_needs_a_sentence_counting_that_subset(ask):
    a = ask("How many vessels have shipping companies diverted?")
    assert not a.abstained and "40" in (a.short_answer or ""), a.answer
    # only the total is reported, not how many of them were tankers
    a = ask("How many of the vessels diverted were oil tankers?")
    assert a.abstained, a.answer


@pytest.mark.slow
def test_a_name_no_passage_mentions_means_the_articles_do_not_say(ask):
    a = ask("What did the German mayor say about the harbour strike?")
    assert a.abstained and any("german" in n for n in a.notes), (a.answer, a.notes)
    # a name the articles do use, and another form of one (Norway for Norwegian), passes the check
    for q in ("What did the Norwegian transport minister call the dispute?",
              "What did the transport minister of Norway call the dispute?"):
        a = ask(q)
        assert not any("no retrieved passage" in n for n in a.notes), (q, a.notes)


@pytest.mark.slow
def test_the_speaker_a_question_names_may_be_in_the_sentence_before_the_quote(ask):
    a = ask("According to union leader Tomas Berg, when would the workers go back?")
    assert not a.abstained and "contract is signed" in a.answer, a.answer


@pytest.mark.slow
def test_a_role_question_about_a_named_person_needs_a_sentence_about_them(ask):
    # the sentence after hers names a party leader, but Ana Ortiz's party is not in the articles
    a = ask("Which party does Mayor Ana Ortiz belong to?")
    assert a.abstained, a.answer


@pytest.mark.slow
def test_what_a_named_person_said_must_come_from_near_a_mention_of_them(ask):
    # the mayor's call is in the articles, but not from Ivo Marsh, who is in another article
    a = ask("What did the mayor ask both sides to do?")
    assert not a.abstained and "resume talks" in a.answer, a.answer
    a = ask("What did Ivo Marsh say the mayor asked both sides to do?")
    assert a.abstained, a.answer


@pytest.mark.slow
def test_a_count_of_what_happened_needs_that_happening(ask):
    a = ask("How many vessels were damaged during the strike?")
    assert a.abstained, a.answer


@pytest.mark.slow
def test_what_someone_does_for_a_living_needs_a_sentence_about_their_work(ask):
    a = ask("What does Pia Moss do for a living?")
    assert a.abstained, a.answer


@pytest.mark.slow
@pytest.mark.parametrize("region, city", [("Asian", "Osaka"), ("African", "Lagos"), ("European", "Rotterdam")])
def test_a_described_place_is_the_listed_place_that_fits_the_description(ask, region, city):
    # "Asian" is in no article: it describes the answer, which the article names instead
    a = ask(f"In which {region} city did dockers hold a solidarity rally?")
    assert not a.abstained, a.notes
    assert a.short_answer == city


def test_region_words_are_not_names_to_find():
    from retrieval.answer import _proper_words
    from retrieval.extract import classify

    assert _proper_words(["Middle", "Eastern", "Lebanon"]) == ["lebanon"]
    assert classify("Which Middle Eastern country sent aid?").described == ("Middle", "Eastern")
    assert classify("Which country sent aid?").described == ()


@pytest.mark.slow
def test_the_person_asked_for_is_not_the_one_the_question_names(ask):
    a = ask("Who criticised Berg on Wednesday?")
    assert not a.abstained, a.notes
    assert a.short_answer == "Shipowner Lars Dahl"


@pytest.mark.slow
def test_countries_are_not_people():
    from retrieval.answer import ExtractiveAnswerer
    from retrieval.config import env
    from retrieval.models import get_embeddings

    ex = ExtractiveAnswerer(get_embeddings(env("NEWSDESK_EMBED_MODEL")), keyword=None)
    assert not ex._maybe_person("United States") and not ex._maybe_person("USA")
    assert ex._maybe_person("Tomas Berg") and ex._maybe_person("Jordan Ellis")


@pytest.mark.slow
@pytest.mark.parametrize("question, place", [("In which city did the fishermen march?", "Lisbon"),
                                             ("Which country were the fishermen from?", "Portugal"),
                                             ("Name a city where dockers held solidarity rallies.", "Rotterdam")])
def test_a_city_question_is_answered_with_a_city_and_a_country_question_with_a_country(ask, question, place):
    a = ask(question)
    assert not a.abstained, a.notes
    assert a.short_answer == place


@pytest.mark.slow
def test_the_kind_of_place_asked_for_rules_out_countries_cities_and_people():
    from retrieval.answer import ExtractiveAnswerer
    from retrieval.config import env
    from retrieval.models import get_embeddings

    ex = ExtractiveAnswerer(get_embeddings(env("NEWSDESK_EMBED_MODEL")), keyword=None)
    assert ex._fits_kind("Lisbon", "city") and ex._fits_kind("Madrid", "city")
    assert not ex._fits_kind("Portugal", "city") and not ex._fits_kind("Chile", "city")
    assert not ex._fits_kind("Tomas Berg", "city")
    assert ex._fits_kind("Portugal", "country") and ex._fits_kind("Chile", "country")


@pytest.mark.slow
def test_a_date_question_needs_the_part_of_the_date_it_asks_for(ask):
    # the articles give the year (2021) and the month (March) of Berg's re-election, never the day
    a = ask("On what day and month was Tomas Berg re-elected?")
    assert a.abstained, a.answer
    a = ask("In what year was Tomas Berg re-elected?")
    assert not a.abstained and "2021" in a.short_answer


@pytest.mark.slow
def test_who_said_it_is_the_speaker_not_a_name_inside_the_quote(ask):
    a = ask("Who said the fishermen kept every promise?")
    assert not a.abstained, a.notes
    assert "Rosa Lind" in (a.short_answer or ""), (a.short_answer, a.answer)


@pytest.mark.slow
def test_a_word_capitalised_only_because_it_opens_the_sentence_is_no_name(ask):
    a = ask("Where did the quota office stay closed all weekend?")
    assert a.short_answer != "Meanwhile", a.answer


@pytest.mark.slow
def test_why_answered_by_a_consequence_cites_the_reason_before_it(ask):
    a = ask("Why did the trawlers stay in the harbour on Monday?")
    assert not a.abstained, a.notes
    assert "cut the cod quota" in a.answer and "Accordingly" in a.answer
    assert [c.quote[:12] for c in a.citations] == ["The ministry", "Accordingly,"]
