import pytest

from retrieval.extract import AGE, DATE, DURATION, ENTITY, NUMBER, OTHER, PERSON, PLACE, candidates, classify


@pytest.mark.parametrize("question,qtype", [
    ("How old is the mayor?", AGE),
    ("How long did they have to leave?", DURATION),
    ("How many people died?", NUMBER),
    ("When did the strike begin?", DATE),
    ("Where did the rally take place?", PLACE),
    ("Who signed the bill?", PERSON),
    ("Why did the talks fail?", OTHER),
    # the name of a person, a thing or a place
    ("What is the name of the mayor's husband?", PERSON),
    ("What's the name of the official who resigned?", PERSON),
    ("What is the name of the country's currency?", ENTITY),
    ("What is the name of the company that built the bridge?", ENTITY),
    ("Name a city where the fans celebrated.", PLACE),
    ("What is the name of the town?", PLACE),
])
def test_classify(question, qtype):
    assert classify(question).qtype == qtype


def test_number_candidates_skip_years_and_ages():
    found = [c.text for c in candidates("In 2018, the 35-year-old saw 13 people killed.", NUMBER)]
    assert any(t.startswith("13") for t in found)
    assert not any("2018" in t for t in found)
    assert not any(t.startswith("35") for t in found)


def test_duration_and_age_and_date():
    s = "The mayor, 47, gave staff 48 hours to leave on Friday, Jan. 4."
    assert [c.text for c in candidates(s, DURATION)] == ["48 hours"]
    assert [c.text for c in candidates(s, AGE)] == ["47"]
    dates = [c.text for c in candidates(s, DATE)]
    assert any("Friday" in d for d in dates) and any("Jan. 4" in d for d in dates)


def test_candidate_offsets_slice_the_sentence():
    s = "Officials in Lagos said Governor Ade Bello, 52, met the union on Monday."
    for qtype in (PERSON, PLACE, AGE, DATE):
        for c in candidates(s, qtype):
            assert s[c.start:c.end] == c.text


def test_an_age_after_a_name_is_not_a_count():
    found = [c.text for c in candidates("Guaidó, 35, the leader of the assembly, said 300 families had fled.", NUMBER)]
    assert "35" not in found and any("300" in f for f in found)


def test_kind_of_questions_narrow_to_their_noun():
    assert classify("What kind of meeting did he call for?").focus == "meeting"
    # the head noun is unknown when an adjective follows "of": no focus rather than a wrong one
    assert classify("What kind of hired security staff arrived?").focus is None


def test_partitive_count_questions_keep_the_subset():
    assert classify("How many of the people killed were members of the security forces?").subset == \
        "members of the security forces"
    assert classify("How many people were killed?").subset == ""


def test_a_leading_when_clause_is_not_a_when_question():
    assert classify("When he told them to leave, what did the mayor say the city had?").qtype == OTHER
    assert classify("When did the strike begin?").qtype == DATE


def test_count_questions_keep_what_happened_to_the_counted():
    assert classify("How many people were injured in the unrest?").counted == "injured"
    assert classify("How many vessels have shipping companies diverted?").counted == ""


def test_for_a_living_asks_for_a_profession():
    assert classify("What does the mayor do for a living?").focus == "profession"
    assert classify("What did the mayor do on Monday?").focus is None


def test_a_list_of_places_offers_each_place():
    found = [c.text for c in candidates("Rallies were held in Spain and Lebanon.", PLACE)]
    assert "Spain" in found and "Lebanon" in found


def test_a_sentence_opening_adverb_is_not_part_of_a_name():
    found = [c.text for c in candidates("Accordingly the United States recalled its envoy.", PERSON)]
    assert found == ["United States"]


def test_the_kind_of_place_asked_for():
    assert classify("In which city was she born?").kind == "city"
    assert classify("Name a country that sent aid.").kind == "country"
    assert classify("Where was she born?").kind == ""


def test_the_part_of_a_date_asked_for():
    from retrieval.extract import has_grain

    assert classify("On what day and month did he die?").grain == "day and month"
    assert classify("In what year did he die?").grain == "year"
    assert classify("In what month and year was he elected?").grain == ""  # two sentences may answer
    assert classify("When did he die?").grain == ""
    assert not has_grain("in 2013", "day and month") and has_grain("March 5", "day and month")
    assert has_grain("on Friday", "day") and not has_grain("in March", "year")


def test_a_role_word_ending_a_name_is_part_of_the_name():
    assert classify("Which European Union official said it?").focus is None
    assert classify("Which Labour Party leader spoke?").focus is None
    assert classify("Which political party does he lead?").focus == "party"
    assert classify("What is the name of the Brazilian president?").focus == "president"
