"""Fitting the answer policy: cached reads, threshold and margin choices against the precision target."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_bot.answer_policy import FEATURES, AnswerPolicy
from qa_bot.citations import Candidate
from qa_bot.training import fit_answer_policy as fitting
from qa_bot.types import Answer, Citation


def read(qid: str, gold: tuple[str, ...], absent: bool = False) -> fitting.Read:
    return fitting.Read(qid, f"What is {qid}?", gold, "Article", absent, [], [])


def question(
    qid: str, gold: tuple[str, ...], texts: list[str], confidences: list[float]
) -> tuple[fitting.Question, np.ndarray]:
    candidates = []
    for rank, text in enumerate(texts):
        citation = Citation("a", "T", "S", None, None, "a:0", text, 0, len(text), 0, len(text), text)
        candidates.append(Candidate(Answer(text, 0.5, (citation,)), 10.0 - rank, ("a:0",)))
    right = np.array([text in gold for text in texts])
    features = np.zeros((len(texts), len(FEATURES)))
    return fitting.Question(read(qid, gold), candidates, [], features, right), np.array(confidences)


def test_reads_are_cached_under_their_key(tmp_path: Path):
    path = tmp_path / "reads.json.gz"
    reads = [
        fitting.Read("q1", "Who?", ("Ann",), "A", False, [("a:0", 0.03, 0, 0.5, None)], [("a:0", 0, 3, 0.9, 4.2)]),
        read("q2", ("Bob",), absent=True),
    ]
    fitting.save_reads(path, "key-1", reads)
    assert fitting.load_reads(path, "key-1") == reads
    assert fitting.load_reads(path, "key-2") == []  # another reader or index reads again
    path.write_bytes(b"damaged")
    assert fitting.load_reads(path, "key-1") == []


def test_question_sample_is_deterministic_and_adds_absent_article_twins():
    articles = [
        {
            "title": f"T{a}",
            "paragraphs": [
                {
                    "context": "x y",
                    "qas": [{"id": f"{a}-{q}", "question": "?", "answers": [{"text": "x", "answer_start": 0}]}],
                }
                for q in range(10)
            ],
        }
        for a in range(3)
    ]
    first = fitting.sample_questions(articles, 20, 0.25, seed=13)
    assert first == fitting.sample_questions(articles, 20, 0.25, seed=13)
    assert sum(not absent for _, absent in first) == 20 and 1 <= sum(absent for _, absent in first) <= 10
    assert fitting.sample_questions(articles, 25, 0.25, seed=13)[: len(first)] == first  # reads carry over


def test_threshold_is_the_lowest_that_meets_the_precision_target_while_enough_are_answered():
    pairs = [question(f"q{i}", ("right",), ["right" if i < 8 else "wrong"], [0.9 - 0.05 * i]) for i in range(10)]
    questions, confidences = [p[0] for p in pairs], [p[1] for p in pairs]
    policy = AnswerPolicy(answer_threshold=0.0)
    # 8 of 10 right: 80% shown right when all are answered; the two wrong have the lowest confidences
    assert fitting.choose_threshold(policy, questions, confidences, precision=0.8, min_answered=0.5) == 0.45
    assert fitting.choose_threshold(policy, questions, confidences, precision=1.0, min_answered=0.5) == 0.55
    # 100% precision would answer only 80%: the answered floor wins
    assert fitting.choose_threshold(policy, questions, confidences, precision=1.0, min_answered=0.9) == 0.5


def test_margin_is_the_widest_that_keeps_the_shown_answers_precise():
    pairs = [
        question("q1", ("x",), ["x", "y"], [0.9, 0.845]),  # a wrong alternative 0.055 below
        question("q2", ("x", "y"), ["x", "y"], [0.9, 0.595]),  # a right one 0.305 below
        question("q3", ("x",), ["x", "y"], [0.9, 0.1]),
    ]
    questions, confidences = [p[0] for p in pairs], [p[1] for p in pairs]
    policy = AnswerPolicy(answer_threshold=0.5)
    # up to 0.05 only the answers show (3 of 3 right); from 0.06 q1's wrong "y" (3 of 4); from 0.31 q2's "y" (4 of 5)
    assert fitting.choose_margin(policy, questions, confidences, precision=0.8) == pytest.approx(0.5)
    assert fitting.choose_margin(policy, questions, confidences, precision=0.9) == pytest.approx(0.05)
    wrong_answers = [question(f"w{i}", ("z",), ["x", "y"], [0.9, 0.8]) for i in range(2)]
    questions, confidences = [p[0] for p in wrong_answers], [p[1] for p in wrong_answers]
    assert fitting.choose_margin(policy, questions, confidences, precision=0.9) is None
