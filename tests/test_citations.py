"""Spans become cited candidate answers: article offsets, cited sentences, trimming and merging."""

from __future__ import annotations

import math

import pytest

from qa_bot.citations import cite_spans, normalize_answer, trim_span
from qa_bot.types import ArticleInfo, Passage, Retrieved, Sentence, Span

BASES = [
    "The Coalition has consolidated its presence in a few large bases.",
    "They are Erbil and Al-Assad Air Base, as well as Camp Taji, some 20 miles north of Baghdad.",
    "Col. Myles B. Caggins III is the spokesman.",
    "He spoke to Kurdistan 24 on Monday.",
    "Training of Iraqi forces has been suspended.",
]
OTHER = ["The camp Taji lies north of Baghdad.", "It hosts coalition trainers."]


def make_article(article_id: str, sentence_texts: list[str], separators: list[str]):
    text, sentences = "", []
    for index, (sentence, separator) in enumerate(zip(sentence_texts, separators + [""])):
        sentences.append(Sentence(article_id, index, len(text), len(text) + len(sentence), sentence))
        text += sentence + separator
    return text, sentences


BASES_TEXT, BASES_SENTENCES = make_article("bases", BASES, [" ", "\n\n", " ", "\n"])
OTHER_TEXT, OTHER_SENTENCES = make_article("other", OTHER, [" "])
TEXTS = {"bases": BASES_TEXT, "other": OTHER_TEXT}
SENTENCES = {"bases": BASES_SENTENCES, "other": OTHER_SENTENCES}


def make_passage(article_id: str, index: int, first: int, last: int) -> Passage:
    sentences = SENTENCES[article_id]
    start, end = sentences[first].start, sentences[last].end
    return Passage(f"{article_id}:{index}", article_id, index, start, end, TEXTS[article_id][start:end], first, last)


PASSAGES = [make_passage("bases", 0, 0, 1), make_passage("bases", 1, 2, 4), make_passage("other", 0, 0, 1)]
RETRIEVED = {
    p.passage_id: Retrieved(
        p, ArticleInfo(p.article_id, f"Title {p.article_id}", "Kurdistan 24", f"{p.article_id}.txt"), 0.1, rank
    )
    for rank, p in enumerate(PASSAGES)
}
BY_ID = {p.passage_id: p for p in PASSAGES}


def span(passage_id: str, quote: str, score: float) -> Span:
    """A span scored by an uncalibrated reader: score = sigmoid(span logit)."""
    start = BY_ID[passage_id].text.index(quote)
    return Span(passage_id, start, start + len(quote), quote, score, math.log(score / (1 - score)))


def answers(spans: list[Span], retrieved: dict[str, Retrieved] = RETRIEVED):
    return [c.answer for c in cite_spans(spans, retrieved, SENTENCES.__getitem__, TEXTS.__getitem__)]


def test_citation_offsets_point_into_the_article_and_cite_the_containing_sentence():
    [answer] = answers([span("bases:1", "Kurdistan 24", 0.9)])
    [citation] = answer.citations
    assert answer.text == "Kurdistan 24"
    assert BASES_TEXT[citation.answer_start : citation.answer_end] == "Kurdistan 24"
    assert citation.sentence == BASES[3] == BASES_TEXT[citation.sentence_start : citation.sentence_end]
    assert (citation.article_id, citation.passage_id, citation.title) == ("bases", "bases:1", "Title bases")
    assert answer.retrieved is RETRIEVED["bases:1"]


def test_span_crossing_a_sentence_boundary_cites_both_sentences():
    [answer] = answers([span("bases:1", "the spokesman. He spoke to Kurdistan 24", 0.8)])
    [citation] = answer.citations
    assert citation.sentence == BASES[2] + " " + BASES[3]
    assert (citation.sentence_start, citation.sentence_end) == (BASES_SENTENCES[2].start, BASES_SENTENCES[3].end)


@pytest.mark.parametrize(
    ("quote", "expected"),
    [
        (" Camp Taji, ", "Camp Taji"),
        ("“Camp Taji”.", "Camp Taji"),
        ("(AAAB)", "AAAB"),
        ("Al-Assad Air Base (AAAB).", "Al-Assad Air Base (AAAB)"),
        ("the U.S.", "the U.S."),
        ("20 miles.", "20 miles"),
        ("5% ", "5%"),
        ("the film “Jaws”", "the film “Jaws”"),
        (" ,; ", ""),
    ],
)
def test_trim_removes_stray_edge_punctuation_only(quote: str, expected: str):
    text = f"x{quote}y"
    start, end = trim_span(text, 1, 1 + len(quote))
    assert text[start:end] == expected


def test_trimmed_answer_offsets_follow_the_trim():
    [answer] = answers([span("bases:0", " Camp Taji, ", 0.9)])
    citation = answer.citations[0]
    assert answer.text == "Camp Taji"
    assert BASES_TEXT[citation.answer_start : citation.answer_end] == "Camp Taji"


def test_a_span_running_across_a_paragraph_break_is_not_an_answer():
    across = span("bases:1", "Col. Myles B. Caggins III is the spokesman. He", 0.99)
    assert answers([across]) != []  # one space between sentences: a cross-sentence answer is still allowed
    text = BASES_TEXT
    paragraph_span_start = text.index("Baghdad.")
    passage = make_passage("bases", 3, 1, 2)
    retrieved = {passage.passage_id: Retrieved(passage, RETRIEVED["bases:0"].article, 0.1, 0)}
    local_start = paragraph_span_start - passage.start
    local_end = text.index("Col. Myles") + len("Col. Myles") - passage.start
    over_break = Span(passage.passage_id, local_start, local_end, passage.text[local_start:local_end], 0.99, 0.0)
    assert answers([over_break], retrieved) == []


def test_multi_answer_list_gives_distinct_answers_best_first():
    spans = [
        span("bases:0", "Camp Taji", 0.7),
        span("bases:0", "Erbil", 0.9),
        span("bases:0", "Al-Assad Air Base", 0.8),
        span("bases:0", "Erbil and Al-Assad Air Base, as well as Camp Taji", 0.65),  # weaker than its parts
    ]
    result = answers(spans)
    assert [a.text for a in result] == ["Erbil", "Al-Assad Air Base", "Camp Taji"]
    assert [a.score for a in result] == [0.9, 0.8, 0.7]
    assert all(a.citations[0].sentence == BASES[1] for a in result)


def test_span_inside_a_better_longer_span_merges_into_it():
    longer = span("bases:0", "Erbil and Al-Assad Air Base", 0.9)
    result = answers([span("bases:0", "Al-Assad Air Base", 0.7), longer, span("bases:0", "Camp Taji", 0.6)])
    assert [(a.text, len(a.citations)) for a in result] == [("Erbil and Al-Assad Air Base", 1), ("Camp Taji", 1)]


def test_same_answer_from_two_articles_is_one_answer_with_two_citations():
    [answer] = answers([span("other:0", "The camp Taji", 0.6), span("bases:0", "Camp Taji,", 0.8)])
    assert (answer.text, answer.score) == ("Camp Taji", 0.8)
    assert [c.article_id for c in answer.citations] == ["bases", "other"]
    assert OTHER_TEXT[answer.citations[1].answer_start : answer.citations[1].answer_end] == "The camp Taji"
    assert answer.citations[1].sentence == OTHER[0]
    assert answer.article_count == 2


def test_each_citation_carries_the_surface_form_it_cites():
    [answer] = answers([span("bases:0", "Camp Taji", 0.8), span("other:0", "The camp Taji", 0.6)])
    assert [c.text for c in answer.citations] == ["Camp Taji", "The camp Taji"]
    for citation in answer.citations:
        assert TEXTS[citation.article_id][citation.answer_start : citation.answer_end] == citation.text


def test_same_place_read_from_two_overlapping_passages_is_cited_once():
    overlapping = make_passage("bases", 2, 1, 2)  # shares sentence 1 with bases:0
    retrieved = RETRIEVED | {overlapping.passage_id: Retrieved(overlapping, RETRIEVED["bases:0"].article, 0.05, 3)}
    start = overlapping.text.index("Erbil")
    spans = [span("bases:0", "Erbil", 0.9), Span("bases:2", start, start + 5, "Erbil", 0.85, 0.0)]
    [candidate] = cite_spans(spans, retrieved, SENTENCES.__getitem__, TEXTS.__getitem__)
    assert len(candidate.answer.citations) == 1
    assert candidate.passage_ids == ("bases:0", "bases:2")  # both reads agree: evidence for the answer policy


def test_candidates_come_best_first_by_reader_logit_whatever_their_score():
    spans = [span("bases:0", "Erbil", 0.2), span("bases:0", "Camp Taji", 0.9), span("bases:1", "Monday", 0.01)]
    assert [a.text for a in answers(spans)] == ["Camp Taji", "Erbil", "Monday"]


def test_article_lookups_happen_once_per_article():
    calls = []

    def sentences_for(article_id: str) -> list[Sentence]:
        calls.append(article_id)
        return SENTENCES[article_id]

    spans = [span("bases:0", "Erbil", 0.9), span("bases:1", "Monday", 0.8), span("other:0", "trainers", 0.7)]
    cite_spans(spans, RETRIEVED, sentences_for, TEXTS.__getitem__)
    assert calls == ["bases", "other"]


def test_squad_normalisation():
    assert normalize_answer("The  Al-Assad Air Base!") == normalize_answer("al-assad air base") == "alassad air base"
