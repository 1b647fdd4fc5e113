from qa_bot.followup import Turn, resolve_followup


def test_person_pronoun_replaced_by_previous_who_answer():
    history = [Turn("Who is the Coalition spokesman?", "Col. Myles B. Caggins III")]
    resolved = resolve_followup("Which bases did he say host Coalition troops?", history)
    assert resolved.reader_question == "Which bases did Col. Myles B. Caggins III say host Coalition troops?"
    assert "spokesman" in resolved.retrieval_query and "caggins" in resolved.retrieval_query
    assert resolved.used_history


def test_possessive_pronoun_becomes_possessive_name():
    history = [Turn("Who led the operation?", "Peshmerga Commandos")]
    resolved = resolve_followup("What was their target?", history)
    assert resolved.reader_question == "What was Peshmerga Commandos's target?"


def test_place_reference_expands_retrieval_query_only():
    history = [Turn("Where did the operation take place?", "near Makhmour")]
    resolved = resolve_followup("Who requested an air strike there?", history)
    assert resolved.reader_question == "Who requested an air strike there?"
    assert "makhmour" in resolved.retrieval_query


def test_self_contained_question_is_untouched():
    history = [Turn("Who is the Coalition spokesman?", "Caggins")]
    question = "Which country provided the jets for the airstrike?"
    resolved = resolve_followup(question, history)
    assert (resolved.reader_question, resolved.retrieval_query, resolved.used_history) == (question, question, False)


def test_no_history_means_no_change():
    resolved = resolve_followup("What did he say?", None)
    assert resolved.reader_question == resolved.retrieval_query == "What did he say?"
