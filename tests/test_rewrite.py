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


def test_connective_before_a_whole_question_is_not_an_ellipsis():
    history = [["What did Mayor Ana Ortiz promise the dockworkers?", "A new contract."]]
    assert rewrite("And when did she promise it?", history) == "When did Mayor Ana Ortiz promise it?"
    # a real ellipsis still borrows the previous question
    assert rewrite("And Rotterdam?", [["How many ships docked in Hamburg?", "Forty."]]) == \
        "How many ships docked in Rotterdam?"


def test_same_pronoun_keeps_its_referent_across_turns():
    history = [["Which union leader called the strike?", "Tomas Berg."],
               ["What did he demand from the port authority?", "A Swiss-made crane."]]
    # "he" still means Tomas Berg, not a capitalised word from the last answer
    assert rewrite("Which committee does he chair?", history) == "Which committee does Tomas Berg chair?"


def test_sentence_initial_word_of_an_answer_is_not_a_name():
    history = [["How did Senator Olga Ruiz describe the port authority?", "As the most corrupt body in the region."]]
    assert rewrite("And how did she describe the mayor?", history) in (
        "How did Olga Ruiz describe the mayor?", "How did Senator Olga Ruiz describe the mayor?")


def test_bodies_and_abbreviations_are_not_people():
    history = [["What did Ruiz tell the National Assembly about the E.U.?", "That the EU owed the port money."]]
    assert rewrite("What else did she say?", history) == "What else did Ruiz say?"
