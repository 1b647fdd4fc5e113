"""Property test over ingest -> chunking -> citation offsets, fed hostile files.

Random unicode (control characters included), huge lines and text written in several
encodings inside one file: ingest either refuses the file with an IngestError or returns
articles whose every downstream offset points at the right characters.
"""

from __future__ import annotations

import json
import tempfile
from functools import lru_cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_bot.chunking import build_passages, split_sentences
from qa_bot.citations import cited_range, trim_span
from qa_bot.ingest import IngestError, article_id_for, parse_file
from qa_bot.settings import bundled_embedder

MAX_BYTES = 4 * 1024 * 1024
PROPERTIES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1", "cp1251", "shift_jis", "gb18030"]
SPECIAL = ["\n", "\n\n", "\r\n", "\r", "\t", "\x00", "\x07", "\x0c", "\x1b", "\u2028", "\ufeff", "\u200b", "\ufffd"]
PUNCTUATION = [". ", "Dr. ", "U.S. ", "?! ", "…", " (", ") ", '"', "—", "# "]
HUGE_WORDS = ["alpha", "Ωμέγα", "数据", "x", "a.b"]

pieces = st.one_of(
    st.text(max_size=120),  # any code point but surrogates, control characters included
    st.text(alphabet="abc XYZ.,\n", max_size=200),
    st.sampled_from(SPECIAL + PUNCTUATION),
    st.builds(lambda word, n: (word + " ") * n, st.sampled_from(HUGE_WORDS), st.integers(200, 4000)),  # a huge line
    st.builds(lambda word, n: word * n, st.sampled_from(HUGE_WORDS), st.integers(200, 2000)),  # one giant "word"
)
texts = st.lists(pieces, max_size=10).map("".join)
# Each part of a file in its own encoding: what a careless concatenation of articles produces.
mixed_encoding_bytes = st.lists(st.tuples(texts, st.sampled_from(ENCODINGS)), min_size=1, max_size=3).map(
    lambda parts: b"".join(text.encode(encoding, errors="replace") for text, encoding in parts)
)
jsonl_lines = st.lists(
    st.one_of(
        st.builds(lambda title, text: json.dumps({"title": title, "text": text}), texts, texts),
        st.builds(lambda title, text: json.dumps({"title": title, "text": text}, ensure_ascii=False), texts, texts),
        texts,  # not JSON at all
    ),
    min_size=1,
    max_size=5,
).map(lambda lines: "\n".join(line.replace("\n", " ") for line in lines))
jsonl_bytes = st.tuples(jsonl_lines, st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16"])).map(
    lambda pair: pair[0].encode(pair[1], errors="replace")
)


@lru_cache(maxsize=1)
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(bundled_embedder())  # the reader's BERT-uncased vocabulary, bundled


def ingest(content: bytes, suffix: str) -> list:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"article{suffix}"
        path.write_bytes(content)
        try:
            return parse_file(path, path.name, MAX_BYTES, notices=[])
        except IngestError as error:
            assert "\n" not in str(error)
            return []


def check_offsets(article, budget: int, data: st.DataObject) -> None:
    text = article.text
    assert text.strip() and article.article_id == article_id_for(text)
    text.encode("utf-8")  # storable in SQLite and printable: no lone surrogates
    assert len(article.title) <= 200 and "\n" not in article.title

    sentences = split_sentences(article)
    previous_end = 0
    for index, sentence in enumerate(sentences):
        assert sentence.index == index and sentence.text == text[sentence.start : sentence.end]
        assert previous_end <= sentence.start < sentence.end <= len(text)
        assert not text[previous_end : sentence.start].strip(), "text between sentences was lost"
        previous_end = sentence.end
    assert not text[previous_end:].strip(), "text after the last sentence was lost"

    passages = build_passages(article, sentences, tokenizer(), budget)
    for passage in passages:
        assert passage.text == text[passage.start : passage.end] and passage.text
        assert sentences[passage.first_sentence].start <= passage.start < passage.end
        assert passage.end <= sentences[passage.last_sentence].end
    for sentence in sentences:  # every sentence is in a passage, or cut into pieces covering its words
        covering = [p for p in passages if p.start < sentence.end and sentence.start < p.end]
        assert covering, f"sentence {sentence.index} is in no passage"
        for position, char in enumerate(sentence.text, start=sentence.start):
            if char.isalnum():
                assert any(p.start <= position < p.end for p in covering), f"{char!r} at {position} lost"

    if not passages:
        return
    passage = data.draw(st.sampled_from(passages))
    start = data.draw(st.integers(0, len(passage.text)))
    end = data.draw(st.integers(start, len(passage.text)))
    trimmed_start, trimmed_end = trim_span(passage.text, start, end)
    assert start <= trimmed_start <= trimmed_end <= end
    if trimmed_start == trimmed_end:
        return
    answer_start, answer_end = passage.start + trimmed_start, passage.start + trimmed_end
    sentence_start, sentence_end = cited_range(sentences, answer_start, answer_end)
    assert 0 <= sentence_start <= answer_start < answer_end <= sentence_end <= len(text)
    assert any(s.start == sentence_start for s in sentences) and any(s.end == sentence_end for s in sentences)


@PROPERTIES
@given(
    content=mixed_encoding_bytes,
    suffix=st.sampled_from([".txt", ".md", ".html"]),
    budget=st.integers(8, 64),
    data=st.data(),
)
def test_pages_in_mixed_encodings_keep_every_offset_valid(content: bytes, suffix: str, budget: int, data) -> None:
    for article in ingest(content, suffix):
        check_offsets(article, budget, data)


@PROPERTIES
@given(content=jsonl_bytes, budget=st.integers(8, 64), data=st.data())
def test_jsonl_records_keep_every_offset_valid(content: bytes, budget: int, data) -> None:
    for article in ingest(content, ".jsonl"):
        check_offsets(article, budget, data)
