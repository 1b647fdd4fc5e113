"""Span decoding on hand-built logits: which spans are valid, how they are scored and merged."""

from __future__ import annotations

import numpy as np
import pytest

from qa_bot.spans import UNCALIBRATED, ScoreCalibration, TokenSpan, decode_spans, to_passage_spans
from qa_bot.types import Passage

TOKENS = 12
CONTEXT = slice(5, 11)  # [CLS] q q q [SEP] c c c c c c [SEP]


def feature(start_peaks: dict[int, float], end_peaks: dict[int, float], cls: float = 0.0) -> tuple[np.ndarray, ...]:
    start = np.full(TOKENS, -5.0)
    end = np.full(TOKENS, -5.0)
    start[0] = end[0] = cls / 2
    for position, value in start_peaks.items():
        start[position] = value
    for position, value in end_peaks.items():
        end[position] = value
    return start, end


def decode(
    features: list[tuple[np.ndarray, ...]],
    max_answer_tokens: int = 30,
    per_feature: int = 3,
    calibration: ScoreCalibration = UNCALIBRATED,
) -> list[TokenSpan]:
    start = np.stack([f[0] for f in features])
    end = np.stack([f[1] for f in features])
    mask = np.zeros((len(features), TOKENS), dtype=bool)
    mask[:, CONTEXT] = True
    return decode_spans(start, end, mask, max_answer_tokens, per_feature, calibration)


def test_best_span_and_its_score_relative_to_no_answer():
    best = decode([feature({6: 4.0}, {8: 3.0}, cls=1.0)])[0]
    assert (best.feature, best.start_token, best.end_token) == (0, 6, 8)
    assert best.span_logit == pytest.approx(4.0 + 3.0 - 1.0)
    assert best.score == pytest.approx(1 / (1 + np.exp(-6.0)))


def test_calibrated_scores_rescale_without_reordering():
    features = [feature({6: 4.0}, {8: 3.0}, cls=1.0), feature({7: 2.0}, {7: 1.0})]
    calibration = ScoreCalibration(scale=0.3, bias=-1.8)
    plain, calibrated = decode(features), decode(features, calibration=calibration)
    assert [(s.feature, s.start_token, s.end_token) for s in calibrated] == [
        (s.feature, s.start_token, s.end_token) for s in plain
    ]
    assert calibrated[0].score == pytest.approx(1 / (1 + np.exp(-(0.3 * 6.0 - 1.8))))  # 0.5: a coin flip


def test_spans_outside_the_context_are_rejected():
    spans = decode([feature({2: 9.0, 7: 1.0}, {3: 9.0, 7: 1.0})])
    assert spans[0].start_token == spans[0].end_token == 7
    assert all(CONTEXT.start <= s.start_token <= s.end_token < CONTEXT.stop for s in spans)


def test_end_before_start_is_rejected():
    spans = decode([feature({9: 6.0, 6: 1.0}, {6: 6.0, 9: 1.0})])
    assert all(s.start_token <= s.end_token for s in spans)
    assert (spans[0].start_token, spans[0].end_token) in {(6, 6), (6, 9), (9, 9)}


def test_max_answer_length_is_respected():
    spans = decode([feature({5: 6.0}, {10: 6.0})], max_answer_tokens=3)
    assert spans
    assert all(s.end_token - s.start_token + 1 <= 3 for s in spans)
    assert not any(s.start_token == 5 and s.end_token == 10 for s in spans)


def test_no_answer_stronger_than_every_span_scores_below_half():
    spans = decode([feature({7: 2.0}, {8: 2.0}, cls=10.0)])
    assert spans[0].score < 0.5
    assert spans[0].span_logit == pytest.approx(-6.0)


def test_scores_are_comparable_across_features():
    # Feature 1 has larger raw logits but an even larger no-answer score: feature 0's span must rank first.
    confident = feature({6: 3.0}, {7: 3.0}, cls=0.0)
    raw_high_but_unsure = feature({6: 8.0}, {7: 8.0}, cls=20.0)
    shifted = tuple(logits + 5.0 for logits in confident)  # same beliefs, different scale offset
    spans = decode([confident, raw_high_but_unsure, shifted], per_feature=1)
    assert [s.feature for s in spans][:2] in ([0, 2], [2, 0])
    assert spans[0].span_logit == pytest.approx(spans[1].span_logit)
    assert spans[-1].feature == 1 and spans[-1].score < 0.5


def test_spans_kept_per_feature_do_not_overlap():
    spans = decode([feature({6: 5.0, 7: 4.5, 9: 3.0}, {7: 5.0, 8: 4.5, 9: 3.0})], per_feature=3)
    assert len(spans) == 3
    ranges = [set(range(s.start_token, s.end_token + 1)) for s in spans]
    assert all(not (a & b) for i, a in enumerate(ranges) for b in ranges[i + 1 :])


def test_feature_without_context_gives_no_span():
    start, end = feature({6: 5.0}, {7: 5.0})
    assert decode_spans(start[None], end[None], np.zeros((1, TOKENS), dtype=bool), 30) == []


def test_strided_windows_of_one_passage_merge_to_the_best_duplicate():
    text = "Troops are based in Erbil and Camp Taji."
    passage = Passage("a:0", "a", 0, 100, 100 + len(text), text, 0, 0)
    erbil = (text.index("Erbil"), text.index("Erbil") + len("Erbil"))
    taji = (text.index("Camp Taji"), text.index("Camp Taji") + len("Camp Taji"))
    offsets = np.zeros((2, 4, 2), dtype=np.int64)
    # Window 0 tokens 1..2 = Erbil, Camp Taji; window 1 sees the same text at tokens 2..3.
    offsets[0, 1], offsets[0, 2] = erbil, taji
    offsets[1, 2], offsets[1, 3] = erbil, taji
    token_spans = [
        TokenSpan(0, 1, 1, 1.0, 0.73),
        TokenSpan(1, 2, 2, 3.0, 0.95),  # the same Erbil, seen better by window 1
        TokenSpan(0, 2, 2, 2.0, 0.88),
        TokenSpan(1, 2, 3, 0.5, 0.62),  # "Erbil and Camp Taji" overlaps both better spans
    ]
    spans = to_passage_spans(token_spans, offsets, [0, 0], [passage])
    assert [(s.text, s.score) for s in spans] == [("Erbil", 0.95), ("Camp Taji", 0.88)]
    assert all(s.text == passage.text[s.start : s.end] and s.passage_id == "a:0" for s in spans)
