"""Reader spans -> candidate answers citing the sentence(s) that contain them.

Spans arrive scored but unfiltered. Each span is trimmed, placed in its article,
and either starts a new candidate or joins an existing one: the same answer text
found elsewhere adds a citation, while a span overlapping a better span in the
same article is the same answer read twice. Which candidates the user sees is
decided by the answer policy (qa_bot/answer_policy.py), not here.
"""

from __future__ import annotations

import re
import string
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa_bot.types import Answer, Citation, Retrieved, Sentence, Span

EDGE_PUNCTUATION = set(",.;:!?…-–—/\\'\"“”‘’«»()[]{}")  # symbols such as % $ # & stay: they carry meaning
CLOSER_TO_OPENER = {")": "(", "]": "[", "}": "{", "”": "“", "’": "‘", "»": "«", '"': '"', "'": "'"}
INITIALISM = re.compile(r"(?:^|[^A-Za-z.])(?:[A-Za-z]\.){2,}$")  # "U.S." keeps its final period
ARTICLES = re.compile(r"\b(a|an|the)\b")
PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def normalize_answer(text: str) -> str:
    """SQuAD evaluation normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(char for char in text.lower() if char not in string.punctuation)
    return " ".join(ARTICLES.sub(" ", text).split())


def _keeps_last_char(text: str, start: int, end: int) -> bool:
    """A final "." of an initialism, or a closing bracket/quote opened inside the span, belongs to the answer."""
    last, inner = text[end - 1], text[start : end - 1]
    if last == ".":
        return INITIALISM.search(text[start:end]) is not None
    opener = CLOSER_TO_OPENER.get(last)
    if opener is None:
        return False
    if opener == last:
        return inner.count(last) % 2 == 1
    return inner.count(opener) > inner.count(last)


def trim_span(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of ``text[start:end]`` without whitespace and stray punctuation at its edges."""
    while start < end and (text[start].isspace() or text[start] in EDGE_PUNCTUATION):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in EDGE_PUNCTUATION):
        if _keeps_last_char(text, start, end):
            break
        end -= 1
    return start, end


def cited_range(sentences: Sequence[Sentence], answer_start: int, answer_end: int) -> tuple[int, int]:
    """Article range of the sentence containing the answer start, through the one containing its end."""
    starts = [sentence.start for sentence in sentences]
    first = max(0, bisect_right(starts, answer_start) - 1)
    last = max(first, bisect_left(starts, answer_end) - 1)
    return sentences[first].start, sentences[last].end


@dataclass
class _Draft:
    key: str  # normalised text
    text: str
    score: float
    span_logit: float
    retrieved: Retrieved
    citations: list[Citation]
    passage_ids: list[str]  # every passage a span of this answer was read from

    def add_passage(self, passage_id: str) -> None:
        if passage_id not in self.passage_ids:
            self.passage_ids.append(passage_id)

    def candidate(self) -> Candidate:
        answer = Answer(
            text=self.text,
            score=self.score,
            citations=tuple(self.citations),
            retrieved=self.retrieved,
            article_count=len({c.article_id for c in self.citations}),
        )
        return Candidate(answer, self.span_logit, tuple(self.passage_ids))


@dataclass(frozen=True)
class Candidate:
    """One distinct answer the reader found, with every place it was found; the answer policy decides on it."""

    answer: Answer  # text and reader score of its best span, its citations (best first), the passage read from
    span_logit: float  # the best span's logit
    passage_ids: tuple[str, ...]  # the retrieved passages a span of this answer was read from, best span first


def cite_spans(
    spans: Sequence[Span],
    retrieved: dict[str, Retrieved],
    sentences_for: Callable[[str], Sequence[Sentence]],
    article_text_for: Callable[[str], str],
) -> list[Candidate]:
    """Every distinct answer in ``spans``, best first by reader logit, each cited to its sentence(s).

    Spans with the same normalised text are one answer with a citation per place. A span
    overlapping a better span in the same article is that answer read again (e.g. from an
    overlapping passage): it adds no citation, only its passage when the text is the same.
    ``retrieved`` maps passage_id to the retrieved passage each span was read from;
    ``sentences_for(article_id)`` gives the article's sentences in order and
    ``article_text_for(article_id)`` its text (each called at most once per article).
    """
    articles = _Articles(sentences_for, article_text_for)
    drafts: list[_Draft] = []
    for span in sorted(spans, key=lambda s: s.span_logit, reverse=True):
        hit = retrieved[span.passage_id]
        passage = hit.passage
        start, end = trim_span(passage.text, span.start, span.end)
        text = passage.text[start:end]
        key = normalize_answer(text)
        if not key or PARAGRAPH_BREAK.search(text):
            continue  # nothing left, or a span running across paragraphs (e.g. title into body)
        answer_start, answer_end = passage.start + start, passage.start + end
        overlapped = _overlapping(drafts, passage.article_id, answer_start, answer_end)
        if overlapped is not None:
            if overlapped.key == key:
                overlapped.add_passage(passage.passage_id)
            continue
        citation = articles.cite(hit, answer_start, answer_end, text)
        same_text = next((draft for draft in drafts if draft.key == key), None)
        if same_text is None:
            drafts.append(_Draft(key, text, span.score, span.span_logit, hit, [citation], [passage.passage_id]))
        else:
            same_text.citations.append(citation)
            same_text.add_passage(passage.passage_id)
    return [draft.candidate() for draft in drafts]


def _overlapping(drafts: list[_Draft], article_id: str, answer_start: int, answer_end: int) -> _Draft | None:
    """The answer already cited at a place overlapping ``answer_start:answer_end`` of this article, if any."""
    return next(
        (
            draft
            for draft in drafts
            for c in draft.citations
            if c.article_id == article_id and c.answer_start < answer_end and answer_start < c.answer_end
        ),
        None,
    )


class _Articles:
    """Citations into the articles' own text; each article's sentences and text are fetched once."""

    def __init__(self, sentences_for: Callable[[str], Sequence[Sentence]], text_for: Callable[[str], str]) -> None:
        self._sentences_for = sentences_for
        self._text_for = text_for
        self._sentences: dict[str, Sequence[Sentence]] = {}
        self._texts: dict[str, str] = {}

    def cite(self, hit: Retrieved, answer_start: int, answer_end: int, text: str) -> Citation:
        article_id = hit.passage.article_id
        if article_id not in self._sentences:
            self._sentences[article_id] = self._sentences_for(article_id)
            self._texts[article_id] = self._text_for(article_id)
        sentence_start, sentence_end = cited_range(self._sentences[article_id], answer_start, answer_end)
        return Citation(
            article_id=article_id,
            title=hit.article.title,
            source=hit.article.source,
            url=hit.article.url,
            date=hit.article.date,
            passage_id=hit.passage.passage_id,
            sentence=self._texts[article_id][sentence_start:sentence_end],
            sentence_start=sentence_start,
            sentence_end=sentence_end,
            answer_start=answer_start,
            answer_end=answer_end,
            text=text,
        )
