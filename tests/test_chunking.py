"""Sentences and passages: offsets always point at the right text, budgets hold, nothing is lost."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoTokenizer

from qa_bot.chunking import build_passages, split_sentences
from qa_bot.ingest import article_id_for
from qa_bot.settings import bundled_embedder
from qa_bot.types import Article, Passage, Sentence

HYPOTHESIS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(bundled_embedder())


def make_article(text: str, title: str = "") -> Article:
    return Article(article_id=article_id_for(text), title=title, text=text, source="test", path="test.txt")


def token_count(tokenizer, text: str) -> int:
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def texts(sentences: list[Sentence]) -> list[str]:
    return [sentence.text for sentence in sentences]


def assert_sentence_invariants(article: Article, sentences: list[Sentence]) -> None:
    previous_end = 0
    for index, sentence in enumerate(sentences):
        assert sentence.index == index and sentence.article_id == article.article_id
        assert article.text[sentence.start : sentence.end] == sentence.text
        assert sentence.text and sentence.text == sentence.text.strip()
        assert sentence.start >= previous_end
        assert not article.text[previous_end : sentence.start].strip(), "text between sentences was lost"
        previous_end = sentence.end
    assert not article.text[previous_end:].strip(), "text after the last sentence was lost"


def test_sentences_respect_abbreviations():
    article = make_article("Dr. Smith went to Washington. He arrived at 5 p.m. on Monday. The U.S. Army left.")
    assert texts(split_sentences(article)) == [
        "Dr. Smith went to Washington.",
        "He arrived at 5 p.m. on Monday.",
        "The U.S. Army left.",
    ]


def test_title_line_and_blank_lines_are_boundaries():
    text = "Coalition spokesman speaks\nHe said the work goes on. It will.\n\nSection without a full stop\n\nLast one"
    article = make_article(text, title="Coalition spokesman speaks")
    assert texts(split_sentences(article)) == [
        "Coalition spokesman speaks",
        "He said the work goes on.",
        "It will.",
        "Section without a full stop",
        "Last one",
    ]


def test_markdown_title_line_is_a_boundary():
    article = make_article("# Big News\nsomething happened today", title="Big News")
    assert texts(split_sentences(article)) == ["# Big News", "something happened today"]


def test_first_line_that_is_not_the_title_flows_into_the_sentence():
    article = make_article("A sentence wrapped\nover two lines.", title="Other title")
    assert texts(split_sentences(article)) == ["A sentence wrapped\nover two lines."]


def test_seed_article_sentences(tokenizer):
    from pathlib import Path

    from qa_bot.ingest import parse_file

    path = Path(__file__).resolve().parents[1] / "corpus" / "kurdistan24-coalition-spokesman-peshmerga.txt"
    [article] = parse_file(path, path.name, 10**7)
    sentences = split_sentences(article)
    assert_sentence_invariants(article, sentences)
    assert sentences[0].text == article.title
    assert any(s.text.startswith("Col. Myles B. Caggins III, Spokesman") for s in sentences)


@HYPOTHESIS
@given(
    text=st.text(
        alphabet=st.one_of(
            st.sampled_from(list("ab .!?\n\n\t\r\u00a0\u2028\u200b“”—éü中😀\x00\x1f")),
            st.characters(codec="utf-8"),
        ),
        max_size=300,
    ),
    title_from_first_line=st.booleans(),
)
def test_sentence_offsets_hold_for_any_text(text, title_from_first_line):
    first_line = next((line.strip() for line in text.split("\n") if line.strip()), "")
    article = make_article(text, title=first_line if title_from_first_line else "")
    sentences = split_sentences(article)
    assert_sentence_invariants(article, sentences)
    for sentence in sentences:
        assert not re.search(r"\n[^\S\n]*\n", sentence.text), "a sentence crossed a blank line"


WORDS = [
    "the",
    "council",
    "approved",
    "a",
    "new",
    "budget",
    "for",
    "Zürich",
    "schools",
    "in",
    "2024",
    "after",
    "long",
    "debate",
    "unbelievably",
    "reconstruction",
    "ministers",
    "said",
    "Peshmerga",
    "—",
    "(AP)",
]


@st.composite
def articles(draw) -> Article:
    sentences = []
    for _ in range(draw(st.integers(1, 12))):
        words = draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=draw(st.sampled_from([6, 12, 60]))))
        sentences.append(" ".join(words).capitalize() + draw(st.sampled_from([".", "!", "?"])))
    separators = draw(st.lists(st.sampled_from([" ", "  ", "\n", "\n\n"]), min_size=len(sentences)))
    text = "".join(sentence + separator for sentence, separator in zip(sentences, separators))
    return make_article(text)


def assert_passage_invariants(article, sentences, passages: list[Passage], tokenizer, budget: int) -> None:
    lengths = [token_count(tokenizer, s.text) for s in sentences]
    covered: set[int] = set()
    for index, passage in enumerate(passages):
        assert passage.index == index and passage.passage_id == f"{article.article_id}:{index}"
        assert passage.article_id == article.article_id
        assert article.text[passage.start : passage.end] == passage.text
        assert token_count(tokenizer, passage.text) <= budget
        first, last = passage.first_sentence, passage.last_sentence
        covered.update(range(first, last + 1))
        if first == last and lengths[first] > budget:  # a piece of a cut sentence
            assert sentences[first].start <= passage.start < passage.end <= sentences[first].end
            continue
        assert passage.start == sentences[first].start and passage.end == sentences[last].end
        if last + 1 < len(sentences) and lengths[last + 1] <= budget:
            assert sum(lengths[first : last + 2]) > budget, "the passage had room for the next sentence"
    assert covered == set(range(len(sentences)))
    whole = [p for p in passages if not (p.first_sentence == p.last_sentence and lengths[p.first_sentence] > budget)]
    for previous, current in pairwise(whole):
        if current.first_sentence > previous.last_sentence + 1:  # a cut sentence lies between them
            continue
        can_share = (
            previous.last_sentence > previous.first_sentence
            and lengths[previous.last_sentence] + lengths[previous.last_sentence + 1] <= budget
        )
        assert current.first_sentence == (previous.last_sentence if can_share else previous.last_sentence + 1)


@HYPOTHESIS
@given(article=articles(), budget=st.sampled_from([8, 16, 40, 200]))
def test_passage_invariants(tokenizer, article, budget):
    sentences = split_sentences(article)
    passages = build_passages(article, sentences, tokenizer, budget)
    assert_passage_invariants(article, sentences, passages, tokenizer, budget)


def test_consecutive_passages_share_exactly_one_sentence(tokenizer):
    sentences_text = [f"Sentence number {word} is here." for word in ["one", "two", "three", "four", "five", "six"]]
    article = make_article(" ".join(sentences_text))
    sentences = split_sentences(article)
    per_sentence = token_count(tokenizer, sentences_text[0])
    passages = build_passages(article, sentences, tokenizer, budget=3 * per_sentence)
    assert [(p.first_sentence, p.last_sentence) for p in passages] == [(0, 2), (2, 4), (4, 5)]
    assert passages[1].text == " ".join(sentences_text[2:5])


def test_long_sentence_is_cut_into_its_own_pieces_without_losing_tokens(tokenizer):
    long_sentence = "Unbelievably " + " ".join(["long reconstruction budget unbelievably"] * 30) + "."
    article = make_article(f"Short intro. {long_sentence} Short outro.")
    sentences = split_sentences(article)
    assert texts(sentences) == ["Short intro.", long_sentence, "Short outro."]
    budget = 40
    passages = build_passages(article, sentences, tokenizer, budget)
    pieces = [p for p in passages if p.first_sentence == p.last_sentence == 1]
    assert len(pieces) >= 3
    assert [(p.first_sentence, p.last_sentence) for p in passages if p not in pieces] == [(0, 0), (2, 2)]
    piece_tokens = [tokenizer.tokenize(p.text) for p in pieces]
    assert all(0 < len(tokens) <= budget for tokens in piece_tokens)
    assert [token for tokens in piece_tokens for token in tokens] == tokenizer.tokenize(long_sentence)
    assert all(re.fullmatch(r"\s+", article.text[a.end : b.start]) for a, b in pairwise(pieces))


def test_no_sentences_no_passages(tokenizer):
    assert build_passages(make_article("  \n "), [], tokenizer, 200) == []
