"""Hard examples: the reader's confident mistakes on training articles become training data, labelled right."""

from __future__ import annotations

from pathlib import Path

from qa_bot.reader import Reader, ReadResult
from qa_bot.settings import Settings
from qa_bot.training.hard_examples import mine, mistakes
from qa_bot.training.squad_data import SquadExample, load_squad, read_examples, write_examples
from qa_bot.types import Span
from tests.conftest import write_tiny_reader, write_tiny_squad

QUESTION = SquadExample("q1", "Bases", "Which bases host Coalition troops?", "Own paragraph.", ("Camp Taji",), 0)


def read(text: str, score: float) -> ReadResult:
    return ReadResult(spans=[Span("p:0", 0, len(text), text, score, 1.0)])


def test_confident_reads_of_other_paragraphs_become_no_answer_examples():
    contexts = [QUESTION.context, "Attacks on Iraqi bases that host Coalition troops.", "Bases elsewhere."]
    reads = [read("Camp Taji", 0.9), read("Iraqi bases", 0.8), read("Bases", 0.1)]

    [negative] = mistakes(0.5, QUESTION, contexts, reads)

    assert negative.context == contexts[1]  # the 0.1 read stays under the threshold: not a mistake
    assert (negative.answers, negative.answer_start, negative.question) == ((), -1, QUESTION.question)
    assert negative.qid == "q1-hard1"


def test_a_confident_wrong_read_of_its_own_paragraph_keeps_the_gold_label():
    assert mistakes(0.5, QUESTION, [QUESTION.context], [read("Erbil", 0.9)]) == [QUESTION]
    assert mistakes(0.5, QUESTION, [QUESTION.context], [read("Camp Taji", 0.9)]) == []  # right: nothing to learn
    assert mistakes(0.5, QUESTION, [QUESTION.context], [read("Erbil", 0.2)]) == []  # already refused


def test_mined_negatives_share_the_question_words_but_never_hold_its_answer(tmp_path: Path):
    articles = load_squad(write_tiny_squad(tmp_path))
    # threshold 0: every read of the random reader counts as confident, so every candidate is mined
    reader = Reader(str(write_tiny_reader(tmp_path / "reader", no_answer_threshold=0.0)), Settings(threads=1))

    mined = mine(reader, articles, questions=16, depth=2, seed=3)
    found = mined.examples

    assert mined.rates()["similar_paragraph_answered"] == 100.0
    negatives = [e for e in found if e.answer_start < 0]
    assert len(negatives) == 16  # each question has one other paragraph in its article
    contexts = {p["context"]: a["title"] for a in articles for p in a["paragraphs"]}
    for negative in negatives:
        town = "Town" + negative.qid[0] + negative.qid[2]  # qid "a-p-q": the gold answer is Town{a}{p}
        assert town not in negative.context
        assert contexts[negative.context] == negative.article  # same article, same topic
    assert nothing_mined_at(tmp_path, articles) == []

    path = tmp_path / "hard.jsonl"
    write_examples(found, path)
    assert read_examples(path) == found


def nothing_mined_at(tmp_path: Path, articles: list[dict]) -> list[SquadExample]:
    """A threshold above every score: the reader refuses everything, so it makes no confident mistake."""
    reader = Reader(str(write_tiny_reader(tmp_path / "strict", no_answer_threshold=1.01)), Settings(threads=1))
    return mine(reader, articles, questions=16, depth=2, seed=3).examples
