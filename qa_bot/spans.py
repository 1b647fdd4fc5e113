"""Span decoding from reader logits: pure numpy, no model code.

A reader feature is one (question, passage window) pair. Every span is scored
against that feature's own no-answer score (the CLS token at index 0), which is
what the reader was trained for with wrong-paragraph negatives, so scores are
comparable across passages and windows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa_bot.types import Passage, Span

NO_ANSWER_INDEX = 0  # the CLS token: question first, then context


@dataclass(frozen=True)
class TokenSpan:
    """A span in token positions of one feature."""

    feature: int
    start_token: int
    end_token: int  # inclusive
    span_logit: float
    score: float


@dataclass(frozen=True)
class ScoreCalibration:
    """Platt scaling of span logits: score = sigmoid(scale * logit + bias).

    Fitted by ``qa_bot.training.calibrate`` so that a score is the probability that
    the span is a right answer; the identity (1, 0) is the uncalibrated margin.
    """

    scale: float = 1.0
    bias: float = 0.0

    def __call__(self, logit: np.ndarray | float) -> np.ndarray | float:
        return sigmoid(self.scale * np.asarray(logit) + self.bias)


UNCALIBRATED = ScoreCalibration()


def sigmoid(x: np.ndarray | float) -> np.ndarray | float:
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x)))  # the tanh form cannot overflow


def decode_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    max_answer_tokens: int,
    per_feature: int = 3,
    calibration: ScoreCalibration = UNCALIBRATED,
) -> list[TokenSpan]:
    """The best ``per_feature`` non-overlapping valid spans of each feature, best first overall.

    All arrays are (features, tokens). A valid span starts and ends inside the
    context, with start <= end and at most ``max_answer_tokens`` tokens.
    """
    start_logits = np.asarray(start_logits, dtype=np.float64)
    end_logits = np.asarray(end_logits, dtype=np.float64)
    context_mask = np.asarray(context_mask, dtype=bool)
    n_features, n_tokens = start_logits.shape
    positions = np.arange(n_tokens)
    # band[s, e]: e - s in [0, max_answer_tokens)
    length = positions[None, :] - positions[:, None]
    band = (length >= 0) & (length < max_answer_tokens)
    valid = band[None] & context_mask[:, :, None] & context_mask[:, None, :]
    no_answer = start_logits[:, NO_ANSWER_INDEX] + end_logits[:, NO_ANSWER_INDEX]
    span_logits = start_logits[:, :, None] + end_logits[:, None, :] - no_answer[:, None, None]
    candidates = np.where(valid, span_logits, -np.inf)

    spans = []
    for feature in range(n_features):
        scores = candidates[feature]
        for _ in range(per_feature):
            start, end = np.unravel_index(np.argmax(scores), scores.shape)
            if not np.isfinite(scores[start, end]):
                break
            logit = float(scores[start, end])
            spans.append(TokenSpan(feature, int(start), int(end), logit, float(calibration(logit))))
            # drop every span overlapping the chosen one: s <= end and e >= start
            scores[(positions[:, None] <= end) & (positions[None, :] >= start)] = -np.inf
    spans.sort(key=lambda span: span.span_logit, reverse=True)
    return spans


def to_passage_spans(
    token_spans: Sequence[TokenSpan],
    offsets: np.ndarray,
    feature_passages: Sequence[int],
    passages: Sequence[Passage],
) -> list[Span]:
    """Map token spans to character spans of their passages, best first.

    ``offsets`` is the (features, tokens, 2) offset mapping into the passage
    text and ``feature_passages[f]`` the index in ``passages`` of feature f.
    Strided windows of one passage see the same text twice, so of overlapping
    spans within a passage only the best is kept.
    """
    kept: dict[int, list[Span]] = {}
    for token_span in sorted(token_spans, key=lambda span: span.span_logit, reverse=True):
        passage_index = feature_passages[token_span.feature]
        passage = passages[passage_index]
        start = int(offsets[token_span.feature, token_span.start_token, 0])
        end = int(offsets[token_span.feature, token_span.end_token, 1])
        same_passage = kept.setdefault(passage_index, [])
        if any(start < other.end and other.start < end for other in same_passage):
            continue
        same_passage.append(
            Span(
                passage_id=passage.passage_id,
                start=start,
                end=end,
                text=passage.text[start:end],
                score=token_span.score,
                span_logit=token_span.span_logit,
            )
        )
    return sorted((span for spans in kept.values() for span in spans), key=lambda span: span.span_logit, reverse=True)
