"""(question, passage) windows as the reader reads them and as its trainer learns them.

The question comes first, then the passage, in windows of ``max_length`` tokens overlapping by
``doc_stride``; the no-answer label is the first (CLS) token. Reader and trainer both encode through
here, so what is trained is what is read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Window:
    """One (question, passage window) feature."""

    sample_index: int  # which (question, passage) pair it came from
    input_ids: list[int]
    token_type_ids: list[int] | None  # None for models without segment embeddings (MPNet, RoBERTa)
    offsets: list[tuple[int, int]]  # character offsets into the passage text
    context_mask: list[bool]  # True on the passage's tokens


def encode_windows(
    tokenizer, questions: Sequence[str], passages: Sequence[str], max_length: int, doc_stride: int
) -> list[Window]:
    encoding = tokenizer(
        list(questions),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    has_types = "token_type_ids" in encoding
    return [
        Window(
            sample_index=sample,
            input_ids=encoding["input_ids"][index],
            token_type_ids=encoding["token_type_ids"][index] if has_types else None,
            offsets=[tuple(offset) for offset in encoding["offset_mapping"][index]],
            context_mask=[segment == 1 for segment in encoding.sequence_ids(index)],
        )
        for index, sample in enumerate(encoding["overflow_to_sample_mapping"])
    ]


def answer_labels(window: Window, answer_start: int, answer_end: int) -> tuple[int, int]:
    """Start and end token of the answer's characters in this window, or (0, 0) when it is not wholly inside."""
    context = [i for i, inside in enumerate(window.context_mask) if inside]
    if answer_start < 0 or not context:
        return 0, 0
    offsets = window.offsets
    if not (offsets[context[0]][0] <= answer_start and offsets[context[-1]][1] >= answer_end):
        return 0, 0
    start = next(i for i in context if offsets[i][1] > answer_start)
    end = next(i for i in reversed(context) if offsets[i][0] < answer_end)
    return start, end
