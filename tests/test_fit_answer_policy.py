"""Fitting the answer policy: cached reads, threshold and margin choices against the precision target, with
questions that have no right answer counted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_bot.answer_policy import FEATURES, AnswerPolicy
from qa_bot.citations import Candidate
from qa_bot.squad import iter_examples, load_squad_file
from qa_bot.training import fit_answer_policy as fitting
from qa_bot.training import policy_reads
from qa_bot.types import Answer, Citation
from tests.conftest import write_tiny_squad


def read(qid: str, gold: tuple[str, ...], absent: bool = False) -> policy_reads.Read:
    return policy_reads.Read(qid, f"What is {qid}?", gold, "Article", absent, [], [])


def question(
    qid: str, gold: tuple[str, ...], texts: list[str], confidences: list[float], absent: bool = False
) -> tuple[fitting.Question, np.ndarray]:
    """A question whose candidates ``texts`` have these out-of-fold confidences; ``gold=()`` is a crowd-style
    unanswerable one."""
    candidates = []
    for rank, text in enumerate(texts):
        citation = Citation("a", "T", "S", None, None, "a:0", text, 0, len(text), 0, len(text), text)
        candidates.append(Candidate(Answer(text, 0.5, (citation,)), 10.0 - rank, ("a:0",)))
    right = np.array([not absent and text in gold for text in texts])
    features = np.zeros((len(texts), len(FEATURES)))
    return fitting.Question(read(qid, gold, absent), candidates, [], features, right), np.array(confidences)


def unzip(pairs: list[tuple[fitting.Question, np.ndarray]]) -> tuple[list[fitting.Question], list[np.ndarray]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def test_reads_are_cached_under_their_key(tmp_path: Path):
    path = tmp_path / "reads.json.gz"
    reads = [
        policy_reads.Read("q1", "Who?", ("Ann",), "A", False, [("a:0", 0.03, 0, 0.5, None)], [("a:0", 0, 3, 0.9, 4.2)]),
        read("q2", ("Bob",), absent=True),
    ]
    policy_reads.save_reads(path, "key-1", reads)
    assert policy_reads.load_reads(path, "key-1") == reads
    assert policy_reads.load_reads(path, "key-2") == []  # another reader or index reads again
    path.write_bytes(b"damaged")
    assert policy_reads.load_reads(path, "key-1") == []


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
    first = policy_reads.sample_questions(articles, 20, 0.25, 0.0, seed=13)
    assert first == policy_reads.sample_questions(articles, 20, 0.25, 0.0, seed=13)
    assert sum(not absent for _, absent in first) == 20 and 1 <= sum(absent for _, absent in first) <= 10
    assert policy_reads.sample_questions(articles, 25, 0.25, 0.0, seed=13)[: len(first)] == first  # reads carry over


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


def test_crowd_unanswerables_are_made_from_each_halfs_own_articles_only(tmp_path: Path):
    articles = load_squad_file(write_tiny_squad(tmp_path))
    halves = policy_reads.half_questions(articles, 13, {"fit": 0, "check": 0}, 0.25, unanswerable_share=1.0)
    assert set(halves) == {"fit", "check"}
    titles = {name: {a["title"] for a in part} for name, (part, _) in halves.items()}
    assert not titles["fit"] & titles["check"]  # split by article
    for name, (part, sampled) in halves.items():
        contexts = {e.context for e in iter_examples(part)}
        crowd = [e for e, absent in sampled if not absent and not e.answers]
        assert crowd and all("-crowd-" in e.qid and e.answer_start == -1 for e in crowd)
        assert all(e.article in titles[name] and e.context in contexts for e in crowd), name
        # a question of another paragraph is answered by that paragraph once the whole article is searched
        assert not any(e.qid.endswith("other_neutral") for e in crowd)
        assert sum(bool(e.answers) for e, absent in sampled if not absent) == 8


def test_an_answer_shown_to_an_unanswerable_question_is_wrong_and_reported():
    questions, confidences = unzip(
        [
            question("a1", ("right",), ["right"], [0.9]),
            question("a2", ("right",), ["right"], [0.9]),
            question("u1-crowd-negation", (), ["plausible"], [0.8]),
            question("u2-crowd-antonym", (), ["refused"], [0.1]),
            question("a1", ("right",), ["right"], [0.9], absent=True),
        ]
    )
    assert [q.read.answerable for q in questions] == [True, True, False, False, False]
    shown = fitting.simulate(AnswerPolicy(answer_threshold=0.5), questions, confidences)
    half = fitting.Half("check", [{"title": "Article"}], None, [q.read for q in questions])
    report = fitting.half_report(half, questions, shown)
    assert report["shown_right"] == 100.0  # the answerable questions, as qa-bot eval scores them
    assert report["shown_right_with_unanswerables"] == 50.0  # two right, the crowd one and the absent one wrong
    assert (report["questions"], report["unanswerable_questions"], report["absent_article_questions"]) == (2, 2, 1)
    assert (report["unanswerable_answered"], report["absent_article_answered"], report["answered"]) == (0.5, 1.0, 100)


def test_the_threshold_rises_above_unanswerable_questions_that_would_break_the_precision_target():
    answerable = [question(f"q{i}", ("right",), ["right"], [0.9 - 0.05 * i]) for i in range(10)]
    questions, confidences = unzip(answerable)
    policy = AnswerPolicy(answer_threshold=0.0)
    assert fitting.choose_threshold(policy, questions, confidences, precision=1.0, min_answered=0.5) == 0.45
    crowd = [question(f"u{i}-crowd-entity_swap", (), ["plausible"], [c]) for i, c in enumerate((0.62, 0.57))]
    questions, confidences = unzip(answerable + crowd)
    # every answerable answer shown is right, but 0.62 and 0.57 would show two wrong ones: 0.65 is the lowest clear
    assert fitting.choose_threshold(policy, questions, confidences, precision=1.0, min_answered=0.5) == 0.65
    # shown right: 10 of 12 at 0.45, 9 of 11 at 0.5, 8 of 10 at 0.55, 7 of 8 at 0.6
    assert fitting.choose_threshold(policy, questions, confidences, precision=0.85, min_answered=0.5) == 0.6
    # answering 80% of the answerable questions wins over the precision target (the unanswerables do not count)
    assert fitting.choose_threshold(policy, questions, confidences, precision=1.0, min_answered=0.8) == 0.55
