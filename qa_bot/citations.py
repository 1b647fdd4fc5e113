"""Reader spans -> answers citing the sentence(s) that contain them.

Spans arrive scored but unfiltered. Each kept span is trimmed, placed in its
article, and either starts a new answer or joins an existing one: the same
answer text found elsewhere adds a citation, while a span overlapping a better
span in the same article is the same answer read twice and is dropped.
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
    retrieved: Retrieved
    citations: list[Citation]
    list_item: bool  # under the threshold, kept for sharing a sentence with a better answer

    def cites_sentence_of(self, other: _Draft) -> bool:
        first = self.citations[0]
        return any(
            c.article_id == first.article_id and c.sentence_start == first.sentence_start for c in other.citations
        )


def _list_items_after_their_answer(drafts: list[_Draft]) -> list[_Draft]:
    """Best first, except that a list item follows the answer whose sentence it shares, as the sentence lists them."""
    items = [d for d in drafts if d.list_item]
    ordered: list[_Draft] = []
    for draft in drafts:
        if not draft.list_item:
            ordered.append(draft)
            ordered.extend(item for item in items if item not in ordered and item.cites_sentence_of(draft))
    return ordered + [item for item in items if item not in ordered]


def build_answers(
    spans: Sequence[Span],
    retrieved: dict[str, Retrieved],
    sentences_for: Callable[[str], Sequence[Sentence]],
    article_text_for: Callable[[str], str],
    threshold: float,
    max_answers: int = 5,
) -> list[Answer]:
    """Cited answers, best first, from spans scoring at least ``threshold``.

    A span under the threshold still counts when it lies in a sentence that already gave an
    answer and the reader prefers it to "no answer" in its passage (span logit > 0): list
    answers ("Erbil and Al-Assad Air Bases ... as well as Camp Taji") sit in one sentence,
    and the reader scores the later items lower. Such a list item is shown right after the
    answer from its sentence, so that answers elsewhere do not push it out of ``max_answers``.
    ``retrieved`` maps passage_id to the retrieved passage each span was read from;
    ``sentences_for(article_id)`` gives the article's sentences in order and
    ``article_text_for(article_id)`` its text (each called at most once per article).
    """
    sentences: dict[str, Sequence[Sentence]] = {}
    texts: dict[str, str] = {}
    drafts: list[_Draft] = []
    answered_sentences: set[tuple[str, int]] = set()
    for span in sorted(spans, key=lambda s: s.score, reverse=True):
        list_item = span.score < threshold
        if list_item and span.span_logit <= 0:
            break
        hit = retrieved[span.passage_id]
        passage = hit.passage
        start, end = trim_span(passage.text, span.start, span.end)
        text = passage.text[start:end]
        key = normalize_answer(text)
        if not key or PARAGRAPH_BREAK.search(text):
            continue  # nothing left, or a span running across paragraphs (e.g. title into body)
        article_id = passage.article_id
        answer_start, answer_end = passage.start + start, passage.start + end
        if any(
            c.article_id == article_id and c.answer_start < answer_end and answer_start < c.answer_end
            for draft in drafts
            for c in draft.citations
        ):
            continue  # a better span already answers from this place
        if article_id not in sentences:
            sentences[article_id] = sentences_for(article_id)
            texts[article_id] = article_text_for(article_id)
        sentence_start, sentence_end = cited_range(sentences[article_id], answer_start, answer_end)
        if list_item and (article_id, sentence_start) not in answered_sentences:
            continue
        answered_sentences.add((article_id, sentence_start))
        citation = Citation(
            article_id=article_id,
            title=hit.article.title,
            source=hit.article.source,
            url=hit.article.url,
            date=hit.article.date,
            passage_id=passage.passage_id,
            sentence=texts[article_id][sentence_start:sentence_end],
            sentence_start=sentence_start,
            sentence_end=sentence_end,
            answer_start=answer_start,
            answer_end=answer_end,
            text=text,
        )
        same_text = next((draft for draft in drafts if draft.key == key), None)
        if same_text is None:
            drafts.append(_Draft(key, text, span.score, hit, [citation], list_item))
        else:
            same_text.citations.append(citation)
    return [
        Answer(
            text=d.text,
            score=d.score,
            citations=tuple(d.citations),
            retrieved=d.retrieved,
            article_count=len({c.article_id for c in d.citations}),
        )
        for d in _list_items_after_their_answer(drafts)[:max_answers]
    ]
