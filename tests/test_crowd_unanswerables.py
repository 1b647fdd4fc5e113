"""Crowd-style unanswerables: each rule makes a question the paragraph no longer answers, in the crowd's shapes."""

from __future__ import annotations

import json
import random
from pathlib import Path

from qa_bot.squad import SquadExample, iter_examples, load_squad_file
from qa_bot.training.crowd_unanswerables import (
    crowd_unanswerables,
    excluding_the_answer,
    negated,
    with_impossible_condition,
    write_dev,
)
from tests.conftest import write_tiny_squad


def test_negation_goes_before_the_main_verb():
    assert negated("When did the war end?") == "When did the war not end?"
    assert negated("In what year was the Order of the Garter established?") == (
        "In what year was the Order of the Garter not established?"
    )
    assert negated("What is the Tibetan name for the area?") == "What is not the Tibetan name for the area?"
    assert negated("In what century did the term Enlightenment emerge?") == (
        "In what century did the term Enlightenment not emerge?"
    )
    assert negated("What did he never do?") is None  # already negative


def test_an_impossible_condition_is_a_year_outside_the_paragraphs_years():
    context = "The bridge opened in 1901 and was rebuilt in 1950."
    rng = random.Random(3)
    for _ in range(20):
        edited = with_impossible_condition("Who designed the bridge?", context, rng)
        year = int(edited.removeprefix("Who designed the bridge in ").removesuffix("?"))
        assert year < 1901 or year > 1950
    assert with_impossible_condition("When did the bridge open?", context, rng) is None
    assert with_impossible_condition("Who designed the bridge?", "No years here.", rng) is None


def test_mutual_exclusion_rules_out_an_answer_only_when_the_paragraph_names_nothing_beside_it():
    single = SquadExample("q", "A", "Who built the bridge?", "The bridge was built by Smith in a year.", ("Smith",), 22)
    listed = SquadExample("q", "A", "Who built the bridge?", "It was built by Smith, Jones and Lee.", ("Smith",), 16)

    assert excluding_the_answer(single) == "Who built the bridge other than Smith?"
    assert excluding_the_answer(listed) is None


def test_the_made_questions_are_no_answer_and_about_paragraphs_of_the_articles(tmp_path: Path):
    articles = load_squad_file(write_tiny_squad(tmp_path))
    contexts = {e.context for e in iter_examples(articles)}
    originals = {e.question for e in iter_examples(articles)}

    made = crowd_unanswerables(articles, 40, seed=1)

    assert made
    assert all(e.answer_start == -1 and e.answers == () and e.context in contexts for e in made)
    assert all("-crowd-" in e.qid for e in made)
    edited = [e for e in made if not e.qid.endswith("other_neutral")]
    assert all(e.question not in originals for e in edited)


def test_the_dev_file_holds_every_question_and_the_unanswerables_for_eval(tmp_path: Path):
    articles = load_squad_file(write_tiny_squad(tmp_path))
    path = tmp_path / "dev.json"

    made = write_dev(articles, 20, seed=1, path=path)

    written = list(iter_examples(load_squad_file(path)))
    unanswerable = [e for e in written if e.answer_start == -1]
    assert len(unanswerable) == made > 0
    about = {e.context for e in unanswerable}
    expected = {e.qid for e in iter_examples(articles) if e.context in about}
    assert {e.qid for e in written if e.answer_start >= 0} == expected
    assert json.loads(path.read_text())["version"] == "crowd-style-unanswerables"
