"""Sentences with character offsets, and passages of whole sentences that fit the reader's token budget."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

# blingfire over pysbd: an order of magnitude faster, and it splits abbreviation-heavy paragraphs right far more
# often (compared on generated SQuAD-like paragraphs when the splitter was chosen).
import blingfire

from qa_bot.types import Article, Passage, Sentence

if TYPE_CHECKING:  # importing transformers takes seconds; only the caller's tokenizer is needed here
    from transformers import PreTrainedTokenizerFast

_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")  # a blank (or whitespace-only) line


def split_sentences(article: Article) -> list[Sentence]:
    """Sentences of ``article.text`` in order, stripped, with ``text == article.text[start:end]``."""
    spans: list[tuple[int, int]] = []
    for block_start, block_end in _blocks(article):
        block = article.text[block_start:block_end]
        if not block.strip():
            continue
        # blingfire only places the boundaries: each sentence runs to the next boundary, so text it
        # would drop (stray control characters, say) still belongs to a sentence.
        ends = [end for _, end in blingfire.text_to_sentences_and_offsets(block)[1]]
        start = 0
        for end in [*ends[:-1], len(block)]:
            if end <= start:
                continue
            sentence_start, sentence_end = _stripped(block, start, end)
            if sentence_start < sentence_end:
                spans.append((block_start + sentence_start, block_start + sentence_end))
            start = end
    return [
        Sentence(article_id=article.article_id, index=index, start=start, end=end, text=article.text[start:end])
        for index, (start, end) in enumerate(spans)
    ]


def build_passages(
    article: Article, sentences: list[Sentence], tokenizer: PreTrainedTokenizerFast, budget: int
) -> list[Passage]:
    """Runs of whole sentences within ``budget`` tokens; consecutive runs share one sentence.

    The shared sentence is the previous run's last one, kept only when the run had more than one
    sentence and the shared sentence still fits with the next one. A sentence longer than the
    budget is cut at token (preferably word) boundaries into passages of its own.
    """
    if not sentences:
        return []
    encoding = tokenizer(
        [sentence.text for sentence in sentences],
        add_special_tokens=False,
        return_offsets_mapping=True,
        verbose=False,  # long sentences are cut below; the "longer than the model" warning is noise here
    )
    lengths = [len(ids) for ids in encoding["input_ids"]]
    spans: list[tuple[int, int, int, int]] = []  # (start, end, first_sentence, last_sentence) into article.text
    first = 0
    while first < len(sentences):
        if lengths[first] > budget:
            sentence = sentences[first]
            for start, end in _cut(encoding["offset_mapping"][first], encoding.word_ids(first), budget):
                spans.append((sentence.start + start, sentence.start + end, sentence.index, sentence.index))
            first += 1
            continue
        last, total = first, lengths[first]
        while last + 1 < len(sentences) and total + lengths[last + 1] <= budget:
            last += 1
            total += lengths[last]
        spans.append((sentences[first].start, sentences[last].end, sentences[first].index, sentences[last].index))
        shares_last = last > first and last + 1 < len(sentences) and lengths[last] + lengths[last + 1] <= budget
        first = last if shares_last else last + 1
    return [
        Passage(
            passage_id=f"{article.article_id}:{index}",
            article_id=article.article_id,
            index=index,
            start=start,
            end=end,
            text=article.text[start:end],
            first_sentence=first_sentence,
            last_sentence=last_sentence,
        )
        for index, (start, end, first_sentence, last_sentence) in enumerate(spans)
    ]


def _blocks(article: Article) -> Iterator[tuple[int, int]]:
    """Spans no sentence may cross: the title line, then the paragraphs between blank lines."""
    text = article.text
    position = len(text) - len(text.lstrip())
    first_line_end = text.find("\n", position)
    if first_line_end != -1 and _is_title_line(text[position:first_line_end], article.title):
        yield position, first_line_end
        position = first_line_end
    for paragraph_break in _PARAGRAPH_BREAK.finditer(text, position):
        yield position, paragraph_break.start()
        position = paragraph_break.end()
    yield position, len(text)


def _is_title_line(line: str, title: str) -> bool:
    stripped = line.strip()
    return bool(title) and (stripped == title or stripped.lstrip("#").strip() == title)


def _stripped(text: str, start: int, end: int) -> tuple[int, int]:
    """``start``/``end`` moved inwards past whitespace."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _cut(offsets: list[tuple[int, int]], word_ids: list[int | None], budget: int) -> list[tuple[int, int]]:
    """Char spans of at most ``budget`` tokens, near-equal in size, cut where a new word starts if possible."""
    piece_count = -(-len(offsets) // budget)
    target = -(-len(offsets) // piece_count)  # balanced pieces: no one-token tail
    pieces: list[tuple[int, int]] = []
    first = 0
    while first < len(offsets):
        stop = min(first + target, len(offsets))
        if stop < len(offsets):
            stop = next((cut for cut in range(stop, first, -1) if word_ids[cut] != word_ids[cut - 1]), stop)
        pieces.append((offsets[first][0], offsets[stop - 1][1]))
        first = stop
    return pieces
