from retrieval.rewrite import names, rewrite


def test_no_history_is_unchanged():
    assert rewrite("How old is he?", []) == "How old is he?"


def test_pronoun_takes_the_previous_short_answer():
    history = [["Who is the head of the opposition?", "Juan Guaido", "Juan Guaido"]]
    assert rewrite("How old is he?", history) == "How old is Juan Guaido?"


def test_possessive_pronoun():
    history = [["Who leads the army?", "Defense Minister Vladimir Padrino pledged loyalty."]]
    out = rewrite("What did his ministry say?", history)
    assert "Vladimir Padrino's ministry" in out


def test_question_without_pronoun_is_unchanged():
    history = [["Who is Pompeo?", "The Secretary of State."]]
    assert rewrite("Where is Caracas?", history) == "Where is Caracas?"


def test_ellipsis_reuses_the_previous_question():
    history = [["Did Canada back Guaido?", "Yes."]]
    assert rewrite("What about Mexico?", history) == "Did Canada back Mexico?"


def test_names_skip_leading_function_words():
    assert names("The Secretary of State Mike Pompeo spoke in Caracas.") == ["Secretary of State Mike Pompeo", "Caracas"]
