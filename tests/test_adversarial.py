"""The robustness data generator (distractor sentences, unanswerable edits) and the robustness scores."""

from __future__ import annotations

import random

import pytest

from qa_bot.citations import normalize_answer
from qa_bot.training.adversarial import (
    AnswerPools,
    answer_kind,
    distractor,
    echo,
    echo_phrase,
    mine_pools,
    to_statement,
    unanswerable,
)
from qa_bot.training.robustness import (
    DEV_ECHO_FRAMES,
    echo_examples_for_dev,
    form_of,
    robustness_examples,
    score_robustness,
    to_squad,
)
from qa_bot.training.squad_data import SquadExample, iter_examples

CONTEXT = (
    "The treaty was signed in Paris in 1763. It ended the Seven Years' War between Britain and France. "
    "Britain gained Canada from France, while Spain received Louisiana."
)


def example(question: str, answer: str, qid: str = "q1", context: str = CONTEXT) -> SquadExample:
    return SquadExample(qid, "Treaty", question, context, (answer,), context.index(answer))


def other(question: str, context: str, answer: str, qid: str) -> SquadExample:
    return SquadExample(qid, "Other", question, context, (answer,), context.index(answer))


def training_examples() -> list[SquadExample]:
    return [
        example("Who wrote the report?", "Britain", "t1"),
        example("Who won the war?", "France", "t2"),
        other("Who led the army?", "The army was led by Napoleon Bonaparte.", "Napoleon Bonaparte", "t3"),
        other("Who founded the city?", "The city was founded by Romulus.", "Romulus", "t4"),
        other("When did it fall?", "It fell in 1453.", "1453", "t5"),
        other("Where did he live?", "He lived in Vienna.", "Vienna", "t6"),
        other("Where is the port?", "The port is in Lisbon.", "Lisbon", "t7"),
        other("What did they build?", "They built a bridge.", "a bridge", "t8"),
    ]


@pytest.fixture
def pools() -> AnswerPools:
    return mine_pools(training_examples())


@pytest.mark.parametrize(
    ("question", "fake", "statement"),
    [
        ("Who wrote Hamlet?", "Marlowe", "Marlowe wrote Hamlet."),
        ("When did the French sign the treaty?", "1700", "The French signed the treaty in 1700."),
        ("Where was Beyonce born?", "Vienna", "Beyonce was born in Vienna."),
        ("What is the capital of France?", "Lyon", "The capital of France is Lyon."),
        ("How many brigades did the coalition train?", "12", "The coalition trained 12 brigades."),
        ("Which bases host Coalition troops?", "Camp Alpha", "Camp Alpha host Coalition troops."),
        ("In what year did Spain receive Louisiana?", "1800", "Spain received Louisiana in 1800."),
        ("What has the city become?", "a port", "The city has become a port."),
    ],
)
def test_questions_become_statements_filled_by_the_fake_answer(question: str, fake: str, statement: str):
    assert to_statement(question, fake) == statement


def test_a_question_no_rule_fits_gives_no_statement():
    assert to_statement("How did the war end?", "quickly") is None
    assert to_statement("Why?", "because") is None


def test_question_kind_folds_what_year_into_when():
    assert answer_kind("What year did the war end?") == "when"
    assert answer_kind("Which city hosted the games?") == "where"
    assert answer_kind("What colour is the flag?") == "what"


def test_distractor_keeps_the_real_answer_at_its_offsets_and_does_not_contain_it(pools: AnswerPools):
    made = 0
    for seed in range(30):
        original = example("Who gained Canada from France?", "Britain")
        adversarial = distractor(original, pools, random.Random(seed))
        if adversarial is None:
            continue
        made += 1
        start = adversarial.answer_start
        assert adversarial.context[start : start + len("Britain")] == "Britain"
        assert len(adversarial.context) > len(CONTEXT) + 10
        # the added sentence never mentions the real answer
        assert normalize_answer(adversarial.context).split().count("britain") == 2
        assert adversarial.answers == ("Britain",) and adversarial.qid.endswith("-adv")
    assert made >= 10


def test_unanswerable_swaps_a_word_the_paragraph_uses_for_one_it_does_not(pools: AnswerPools):
    original = example("Who received Louisiana in 1763?", "Spain")
    kinds = set()
    for seed in range(40):
        made = unanswerable(original, pools, random.Random(seed))
        assert made is not None
        edited, kind = made
        kinds.add(kind)
        assert edited.answer_start == -1 and edited.answers == ()
        assert edited.question != original.question and edited.context == CONTEXT
        removed = set(original.question.rstrip("?").split()) - set(edited.question.rstrip("?").split())
        added = set(edited.question.rstrip("?").split()) - set(original.question.rstrip("?").split())
        assert all(word in CONTEXT for word in removed) and not any(word in CONTEXT for word in added)
    assert kinds == {"name", "number"}


def test_dev_set_round_trips_through_squad_json_with_every_form(pools: AnswerPools):
    questions = [
        example("Who gained Canada from France?", "Britain"),
        example("Who received Louisiana?", "Spain", "q2"),
    ]
    made = robustness_examples(questions, training_examples(), seed=3)
    forms = {form_of(e.qid) for e in made}
    assert ("q1", "clean") in forms and ("q1", "adv") in forms and ("q2", "unans") in forms
    articles = to_squad(made)["data"]
    assert [e.qid for e in iter_examples(articles)] == [e.qid for e in made]


def test_worst_case_takes_each_question_at_its_worse_distractor_and_the_mix_is_half_unanswerable():
    examples = [
        example("Who gained Canada?", "Britain", "a"),
        example("Who gained Canada?", "Britain", "a-adv1"),
        example("Who gained Canada?", "Britain", "a-adv2"),
        example("Who received Louisiana?", "Spain", "b"),
        SquadExample("b-unans-name", "Treaty", "Who received Florida?", CONTEXT, (), -1),
        example("Who lost Canada?", "France", "c"),
    ]
    best = [("Britain", 0.9), ("Britain", 0.9), ("France", 0.8), ("Spain", 0.9), ("Spain", 0.2), ("Britain", 0.7)]
    scores = score_robustness(examples, best, threshold=0.5)
    assert scores["clean_F1"] == pytest.approx(200 / 3, abs=0.01)
    assert scores["clean_answered"] == 100.0  # a wrong answer is still an answer
    assert scores["adversarial_worst_F1"] == 0.0 and scores["adversarial_mean_F1"] == 50.0
    assert scores["unanswerable_refused"] == 100.0
    assert scores["mix_questions"] == 2 and scores["mix_F1"] == 100.0


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("Which bases host Coalition troops?", "the bases that host Coalition troops"),
        ("Who founded the city?", "those who founded the city"),
        ("Who presents the show?", "the one who presents the show"),  # agreement with a singular verb
        ("Who form the majority of the residents?", "those who form the majority of the residents"),
        ("What caused the fire?", "what caused the fire"),
        ("How many brigades trained in Erbil?", None),  # the count is the answer: nothing to echo around
        ("When did the war end?", None),  # not a subject question: no relative clause repeats it
        ("What tree leaves did Androsthenes describe?", None),  # "leaves" read as the verb: refused
        ("Which court case featured a decision?", None),
    ],
)
def test_subject_questions_become_noun_phrases_that_repeat_their_words(question: str, phrase: str | None):
    assert echo_phrase(question) == phrase


def test_a_question_echo_keeps_the_real_answer_in_its_own_paragraph_and_none_in_a_wrong_one(pools: AnswerPools):
    own = example("Who gained Canada from France?", "Britain")
    wrong = SquadExample("q1-neg", "Treaty", own.question, "The war was fought on three continents.", (), -1)
    for seed in range(10):
        echoed = echo(own, pools, random.Random(seed))
        start = echoed.answer_start
        assert echoed.context[start : start + len("Britain")] == "Britain" and echoed.qid == "q1-echo"
        assert "those who gained Canada from France" in echoed.context
        assert normalize_answer(echoed.context).split().count("britain") == 2  # the echo names someone else
        negative = echo(wrong, pools, random.Random(seed), DEV_ECHO_FRAMES)
        assert negative.answer_start == -1 and negative.qid == "q1-neg-echo"
        sentence = negative.context.replace(wrong.context, "").strip()
        assert any(frame in sentence for frame in DEV_ECHO_FRAMES)


def test_no_echo_is_made_when_training_answered_no_question_with_a_name():
    nameless = AnswerPools(by_type={"what": ["a treaty"]}, names={}, name_types={})
    own = example("Who gained Canada from France?", "Britain")
    assert all(echo(own, nameless, random.Random(seed)) is None for seed in range(10))


def test_echo_dev_set_scores_echo_f1_and_refusals_of_echoing_wrong_paragraphs(pools: AnswerPools):
    articles = [
        {
            "title": "Treaty",
            "paragraphs": [
                {
                    "context": CONTEXT,
                    "qas": [
                        {
                            "id": "q1",
                            "question": "Who gained Canada from France?",
                            "answers": [{"text": "Britain", "answer_start": CONTEXT.index("Britain")}],
                        }
                    ],
                },
                {"context": "The war was fought on three continents.", "qas": []},
            ],
        }
    ]
    made = echo_examples_for_dev(list(iter_examples(articles)), articles, training_examples(), seed=5)
    assert [form_of(e.qid) for e in made] == [("q1", "clean"), ("q1", "echo"), ("q1", "neg-echo")]
    scores = score_robustness(made, [("Britain", 0.9), ("Britain", 0.8), ("Romulus", 0.7)], threshold=0.5)
    assert scores["echo_F1"] == 100.0 and scores["echo_wrong_paragraph_refused"] == 0.0
    scores = score_robustness(made, [("Britain", 0.9), ("Romulus", 0.8), ("Romulus", 0.2)], threshold=0.5)
    assert scores["echo_F1"] == 0.0 and scores["echo_wrong_paragraph_refused"] == 100.0
