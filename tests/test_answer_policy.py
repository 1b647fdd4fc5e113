"""The answer policy decides what users see: one answer, its list items, close alternatives, nothing doubtful."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa_bot.answer_policy import (
    BELOW_THRESHOLD,
    BEYOND_ALTERNATIVES,
    FEATURES,
    NOT_A_LIST_ITEM,
    OUTSIDE_MARGIN,
    AnswerPolicy,
    ConfidenceModel,
    asks_for_several,
    candidate_features,
    list_items,
    load_policy,
    question_overlap,
    shape_match,
)
from qa_bot.citations import cite_spans
from qa_bot.settings import ACCURATE_READER, BUNDLED_READER
from qa_bot.types import ArticleInfo, Passage, Retrieved, Sentence, Span

BASES_SENTENCE = (
    "The second way that the Coalition has dealt with the threat from rogue militias is by consolidating its"
    " presence in a few large bases: Erbil and Al-Assad Air Bases, in the Kurdistan Region and Anbar Province,"
    " as well as Camp Taji, some 20 miles north of Baghdad."
)
LEADERS_SENTENCE = "The government of Iraq, the leaders, have strongly condemned attacks on Iraqi bases."
ARTICLE = "Coalition bases\n\n" + LEADERS_SENTENCE + " " + BASES_SENTENCE
SENTENCES = [
    Sentence("a", 0, 0, len("Coalition bases"), "Coalition bases"),
    Sentence("a", 1, 17, 17 + len(LEADERS_SENTENCE), LEADERS_SENTENCE),
    Sentence("a", 2, 18 + len(LEADERS_SENTENCE), len(ARTICLE), BASES_SENTENCE),
]
PASSAGE = Passage("a:0", "a", 0, 17, len(ARTICLE), ARTICLE[17:], 1, 2)
RETRIEVED = [Retrieved(PASSAGE, ArticleInfo("a", "Coalition bases", "Kurdistan 24", "a.txt"), 0.03, 0)]


def span(quote: str, logit: float, occurrence: int = 0) -> Span:
    start = -1
    for _ in range(occurrence + 1):
        start = PASSAGE.text.index(quote, start + 1)
    return Span("a:0", start, start + len(quote), quote, 1 / (1 + math.exp(-logit)), logit)


def candidates(spans: list[Span]):
    by_id = {r.passage.passage_id: r for r in RETRIEVED}
    return cite_spans(spans, by_id, lambda _: SENTENCES, lambda _: ARTICLE)


# The reader's spans for "Which bases host Coalition troops?" on the seed article (logits as the bundled reader
# scores them): the place names between the bases rank above Camp Taji.
SEED_SPANS = [
    span("Erbil and Al-Assad Air Bases", 9.0),
    span("The government of Iraq", 8.0),
    span("Kurdistan Region and Anbar Province", 7.5),
    span("Iraq", 7.0, occurrence=1),
    span("Camp Taji", 2.4),
    span("Baghdad", 1.0),
]


@pytest.mark.parametrize(
    "question",
    [
        "Which bases host Coalition troops?",
        "What countries border Iraq?",
        "Name the bases that host Coalition troops.",
        "In which cities did the protests take place?",
        "Who were the founders of the band?",
        "What are the two largest air bases?",
        "What three rivers meet in the city?",
    ],
)
def test_questions_asking_for_several_things(question: str):
    assert asks_for_several(question)


@pytest.mark.parametrize(
    "question",
    [
        "Which base hosts Coalition troops?",
        "Who is the Coalition spokesman?",
        "How many brigades got new uniforms?",
        "What is the capital of Iraq?",
        "Which country carried out the airstrike?",
        "What was the status of the talks?",
        "When did the operation end?",
    ],
)
def test_questions_asking_for_one_thing(question: str):
    assert not asks_for_several(question)


def test_a_list_keeps_only_the_items_of_the_enumeration_not_the_places_between_them():
    found = candidates(SEED_SPANS)
    primary, others = found[0].answer, [c.answer for c in found[1:]]
    assert [answer.text for answer, _ in list_items(primary, others)] == ["Camp Taji"]


def test_a_list_is_found_from_any_of_its_items_in_sentence_order():
    found = candidates([span("Camp Taji", 9.0), span("Erbil and Al-Assad Air Bases", 3.0), span("Baghdad", 2.0)])
    items = list_items(found[0].answer, [c.answer for c in found[1:]])
    assert [answer.text for answer, _ in items] == ["Erbil and Al-Assad Air Bases"]


def test_items_split_inside_a_segment_and_of_another_shape_are_not_list_items():
    found = candidates([span("Erbil", 9.0), span("Al-Assad Air Bases", 5.0), span("20 miles", 4.0)])
    items = list_items(found[0].answer, [c.answer for c in found[1:]])
    assert [answer.text for answer, _ in items] == ["Al-Assad Air Bases"]


def test_list_question_shows_the_answer_and_its_items_each_cited_and_withholds_the_rest():
    policy = AnswerPolicy(answer_threshold=0.5)
    shown = policy.decide("Which bases host Coalition troops?", candidates(SEED_SPANS), RETRIEVED)
    assert [(a.text, a.role) for a in shown.answers] == [
        ("Erbil and Al-Assad Air Bases", "answer"),
        ("Camp Taji", "list_item"),
    ]
    taji = shown.answers[1]
    [citation] = taji.citations
    assert ARTICLE[citation.answer_start : citation.answer_end] == citation.text == "Camp Taji"
    assert citation.sentence == BASES_SENTENCE and taji.score == shown.answers[0].score
    assert "Kurdistan Region and Anbar Province" in [a.text for a in shown.withheld]
    assert all(a.role == "alternative" for a in shown.withheld)


def test_a_question_for_one_thing_gets_no_list_items():
    policy = AnswerPolicy(answer_threshold=0.5)
    shown = policy.decide("Which base is the largest?", candidates(SEED_SPANS), RETRIEVED)
    assert [a.text for a in shown.answers] == ["Erbil and Al-Assad Air Bases"]


def test_alternatives_only_within_the_margin_of_the_answer():
    found = candidates(SEED_SPANS)
    question = "Who condemned the attacks?"
    assert [a.text for a in AnswerPolicy(0.5).decide(question, found, RETRIEVED).answers] == [found[0].answer.text]
    shown = AnswerPolicy(0.5, alternative_margin=0.01).decide(question, found, RETRIEVED).answers
    # sigmoid(9) - sigmoid(8) = 0.0002: within 0.01; sigmoid(7.5) is 0.0004 below: also within; max 2 shown
    assert [(a.text, a.role) for a in shown] == [
        ("Erbil and Al-Assad Air Bases", "answer"),
        ("The government of Iraq", "alternative"),
        ("Kurdistan Region and Anbar Province", "alternative"),
    ]


def test_nothing_is_shown_below_the_threshold_and_the_candidates_are_withheld():
    shown = AnswerPolicy(answer_threshold=0.9999).decide("Which bases?", candidates(SEED_SPANS), RETRIEVED)
    assert shown.answers == [] and shown.withheld[0].text == "Erbil and Al-Assad Air Bases"


def test_reranking_by_the_confidence_model_changes_which_answer_is_shown():
    found = candidates(SEED_SPANS)
    # a model that only likes short answers that do not repeat the question
    coef = tuple(-3.0 if name in ("answer_words", "question_overlap") else 0.0 for name in FEATURES)
    model = ConfidenceModel((0.0,) * len(FEATURES), (1.0,) * len(FEATURES), coef, 3.0)
    question = "Which country is the government of?"
    reader_order = AnswerPolicy(0.0, model=model).decide(question, found, RETRIEVED)
    reranked = AnswerPolicy(0.0, model=model, rerank=True).decide(question, found, RETRIEVED)
    assert reader_order.answers[0].text == "Erbil and Al-Assad Air Bases"
    assert reranked.answers[0].text == "Iraq"  # the first one-word answer not in the question
    assert 0.0 <= reranked.answers[0].score <= 1.0


def test_agreeing_articles_are_one_answer_and_a_feature():
    other_passage = Passage("b:0", "b", 0, 0, 21, "Camp Taji is a base.", 0, 0)
    retrieved = RETRIEVED + [Retrieved(other_passage, ArticleInfo("b", "B", "S", "b.txt"), 0.02, 1)]
    spans = [span("Camp Taji", 3.0), Span("b:0", 0, 9, "Camp Taji", 0.9, 2.0)]
    texts = {"a": ARTICLE, "b": other_passage.text}
    sentences = {"a": SENTENCES, "b": [Sentence("b", 0, 0, 20, other_passage.text[:20])]}
    [found] = cite_spans(spans, {r.passage.passage_id: r for r in retrieved}, sentences.get, texts.get)
    assert found.answer.article_count == 2 and found.passage_ids == ("a:0", "b:0")
    features = dict(zip(FEATURES, candidate_features("Which bases?", [found], retrieved)[0]))
    assert features["extra_articles"] == 1 and features["passages"] == pytest.approx(math.log(2))


def test_question_overlap_and_shape():
    assert question_overlap("Which bases host Coalition troops?", "Coalition troops") == 1.0
    assert question_overlap("Which bases host Coalition troops?", "Camp Taji") == 0.0
    assert shape_match("How many brigades got uniforms?", "13") == 1.0
    assert shape_match("How many brigades got uniforms?", "Peshmerga") == -1.0
    assert shape_match("Who is the spokesman?", "Col. Myles B. Caggins III") == 1.0
    assert shape_match("What did the airstrike destroy?", "an ISIS cave") == 0.0


# ---------------------------------------------------------------- the policy file


def write_policy(reader_dir: Path, fitted_for: Path | None = None, **changes) -> Path:
    """A policy file in ``reader_dir``, fitted for ``fitted_for`` (by default that reader)."""
    from qa_bot.answer_policy import reader_fingerprint

    record = {
        "reader_fingerprint": reader_fingerprint(fitted_for or reader_dir),
        "answer_threshold": 0.42,
        "rerank": True,
        "alternative_margin": 0.05,
        "model": {
            "features": list(FEATURES),
            "mean": [0.0] * len(FEATURES),
            "scale": [1.0] * len(FEATURES),
            "coef": [0.5] + [0.0] * (len(FEATURES) - 1),
            "intercept": -1.0,
        },
    } | changes
    path = reader_dir / "answer_policy.json"
    path.write_text(json.dumps(record))
    return path


@pytest.fixture()
def reader_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "reader"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    (folder / "reader_config.json").write_text('{"no_answer_threshold": 0.3}')
    return folder


def adapter_folder(parent: Path, name: str, weights: bytes) -> Path:
    """A LoRA reader folder as train_reader saves it: adapter weights and config, no model.safetensors."""
    folder = parent / name
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(weights)
    (folder / "adapter_config.json").write_text('{"base_model_name_or_path": "all-mpnet-base-v2", "r": 16}')
    return folder


def test_a_policy_fitted_for_this_reader_is_used(reader_dir: Path):
    write_policy(reader_dir)
    policy, problem = load_policy(reader_dir, 0.3)  # the policy beside the reader, by default
    assert problem is None and policy.source == "fitted"
    assert (policy.answer_threshold, policy.rerank, policy.alternative_margin) == (0.42, True, 0.05)
    found = candidates(SEED_SPANS)
    top = policy.decide("Which bases host Coalition troops?", found, RETRIEVED).answers[0]
    assert top.score == pytest.approx(1 / (1 + math.exp(-(0.5 * 9.0 - 1.0))))


def test_an_adapter_reader_is_recognised_by_its_own_adapter_weights(tmp_path: Path):
    accurate = adapter_folder(tmp_path, "accurate", b"adapter A")
    other = adapter_folder(tmp_path, "other", b"adapter B")
    write_policy(accurate)
    write_policy(other, fitted_for=accurate)
    policy, problem = load_policy(accurate, 0.3)
    assert problem is None and policy.source == "fitted"
    policy, problem = load_policy(other, 0.3)  # fitted for another adapter
    assert policy.source == "fallback" and "another reader" in problem
    (accurate / "reader_config.json").write_text('{"no_answer_threshold": 0.6}')  # recalibrated: refit
    assert load_policy(accurate, 0.3)[0].source == "fallback"


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.unlink(),
        lambda path: path.write_text("{not json"),
        lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"reader_fingerprint": "other"})),
        lambda path: path.write_text(json.dumps(json.loads(path.read_text()) | {"model": {"features": ["x"]}})),
        lambda path: path.write_text(
            json.dumps({k: v for k, v in json.loads(path.read_text()).items() if k != "rerank"})
        ),
    ],
    ids=["missing", "not-json", "another-reader", "other-features", "incomplete"],
)
def test_a_missing_or_unusable_policy_falls_back_to_the_reader_scores_with_one_line(reader_dir: Path, damage):
    damage(write_policy(reader_dir))
    policy, problem = load_policy(reader_dir, 0.3)
    assert policy == AnswerPolicy(answer_threshold=0.3) and policy.source == "fallback"
    assert problem and "\n" not in problem and "reader" in problem
    shown = policy.decide("Which bases host Coalition troops?", candidates(SEED_SPANS), RETRIEVED)
    assert [a.text for a in shown.answers] == ["Erbil and Al-Assad Air Bases", "Camp Taji"]
    assert shown.answers[0].score == pytest.approx(1 / (1 + math.exp(-9.0)))  # the reader's own score


def test_a_policy_file_elsewhere_can_be_named(reader_dir: Path, tmp_path: Path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    path = write_policy(elsewhere, fitted_for=reader_dir)
    assert load_policy(reader_dir, 0.3, path)[0].source == "fitted"
    assert load_policy(reader_dir, 0.3)[0].source == "fallback"  # nothing beside the reader


@pytest.mark.release
@pytest.mark.parametrize("reader", [BUNDLED_READER, ACCURATE_READER], ids=["fast", "accurate"])
def test_each_shipped_reader_has_a_policy_fitted_for_it(reader: Path):
    policy, problem = load_policy(reader, 0.3)
    assert problem is None, problem
    assert 0.0 < policy.answer_threshold < 1.0 and policy.model is not None
    unseen = policy.report["checked_on_unseen_articles"]
    assert unseen["questions"] >= 150 and unseen["shown_confidence_ECE"] < 0.1


def test_every_withheld_candidate_says_why():
    found = candidates(SEED_SPANS)
    listed = AnswerPolicy(0.5).decide("Which bases host Coalition troops?", found, RETRIEVED)
    reasons = {a.text: a.withheld_because for a in listed.withheld}
    assert reasons["Kurdistan Region and Anbar Province"] == NOT_A_LIST_ITEM  # between the bases, not one of them
    assert reasons["The government of Iraq"] == OUTSIDE_MARGIN  # another sentence, and no margin fitted
    assert len(listed.withheld) == len(found) - 2  # every other candidate, not only the first few
    assert all(a.withheld_because == "" for a in listed.answers)
    crowded_policy = AnswerPolicy(0.5, alternative_margin=0.01, max_alternatives=1)
    crowded = crowded_policy.decide("Who condemned it?", found, RETRIEVED)
    assert {a.text: a.withheld_because for a in crowded.withheld}["Kurdistan Region and Anbar Province"] == (
        BEYOND_ALTERNATIVES
    )
    nothing = AnswerPolicy(0.9999).decide("Which bases?", found, RETRIEVED)
    assert {a.withheld_because for a in nothing.withheld} == {BELOW_THRESHOLD}


FIRST_REPORT = "Twelve passengers were injured in the fire."
UPDATE = "Nineteen passengers were injured in the fire, Chief Holt said later."


def _two_reports(spans: list[tuple[str, str, float]]) -> list:
    """Candidates from two articles reporting the same fire: (article id, quote, logit) per span."""
    texts = {"old": FIRST_REPORT, "new": UPDATE}
    passages = {key: Passage(f"{key}:0", key, 0, 0, len(text), text, 0, 0) for key, text in texts.items()}
    retrieved = {
        f"{key}:0": Retrieved(p, ArticleInfo(key, f"Report {key}", "S", f"{key}.txt"), 0.03, rank)
        for rank, (key, p) in enumerate(passages.items())
    }
    sentences = {key: [Sentence(key, 0, 0, len(text), text)] for key, text in texts.items()}
    found = [
        Span(f"{key}:0", start, start + len(quote), quote, 1 / (1 + math.exp(-logit)), logit)
        for key, quote, logit in spans
        for start in [texts[key].index(quote)]
    ]
    return cite_spans(found, retrieved, sentences.get, texts.get), list(retrieved.values())


def test_articles_that_contradict_each_other_are_shown_side_by_side():
    found, retrieved = _two_reports([("new", "Nineteen", 3.0), ("old", "Twelve", 1.0), ("old", "the fire", 0.5)])
    shown = AnswerPolicy(0.5).decide("How many passengers were injured?", found, retrieved)
    assert shown.articles_differ
    assert [(a.text, a.role) for a in shown.answers] == [("Nineteen", "answer"), ("Twelve", "alternative")]
    assert [a.text for a in shown.withheld] == ["the fire"]  # another shape: not a rival answer


def test_a_weak_answer_from_another_article_or_a_rival_in_the_same_article_is_no_disagreement():
    weak, retrieved = _two_reports([("new", "Nineteen", 3.0), ("old", "Twelve", -3.0)])
    assert not AnswerPolicy(0.5).decide("How many passengers were injured?", weak, retrieved).articles_differ
    same, retrieved = _two_reports([("new", "Nineteen", 3.0), ("new", "Chief Holt", 2.9)])
    shown = AnswerPolicy(0.5).decide("How many passengers were injured?", same, retrieved)
    assert not shown.articles_differ and [a.text for a in shown.answers] == ["Nineteen"]


def test_articles_differ_by_how_firmly_each_article_answers_not_by_the_rank_based_confidence():
    found, retrieved = _two_reports([("new", "Nineteen", 3.0), ("old", "Twelve", 2.0)])
    # a confidence model that all but dismisses any candidate below the first, as rank features do
    coef = tuple(-8.0 if name == "reader_rank" else 0.0 for name in FEATURES)
    model = ConfidenceModel((0.0,) * len(FEATURES), (1.0,) * len(FEATURES), coef, 2.0)
    shown = AnswerPolicy(0.5, model=model).decide("How many passengers were injured?", found, retrieved)
    nineteen, twelve = shown.answers
    assert twelve.score < 0.1 * nineteen.score  # shown with its own (low) confidence, not hidden
    assert shown.articles_differ and twelve.role == "alternative"
