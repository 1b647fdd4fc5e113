"""Answer scores shared by evaluation and training: SQuAD exact match and token F1, whole-token containment, and
the calibration error of confidences.

Scored as the official SQuAD v1.1/v2.0 scripts do (normalise, token F1, max over the gold answers); a SQuAD v2.0
unanswerable question has the single gold answer "" (no answer), so only an empty prediction matches it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from qa_bot.citations import normalize_answer

RIGHT_ANSWER_F1 = 0.5  # an answer at least this close to a gold answer counts as right


def _gold_or_empty(gold_answers: Sequence[str]) -> list[str]:
    return [a for a in gold_answers if normalize_answer(a)] or [""]


def exact_match(prediction: str, gold_answers: Sequence[str]) -> float:
    predicted = normalize_answer(prediction)
    return float(max(predicted == normalize_answer(gold) for gold in _gold_or_empty(gold_answers)))


def _token_f1(prediction: str, gold: str) -> float:
    predicted_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    if not predicted_tokens or not gold_tokens:
        return float(predicted_tokens == gold_tokens)
    common = sum((Counter(predicted_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision = common / len(predicted_tokens)
    recall = common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def f1_score(prediction: str, gold_answers: Sequence[str]) -> float:
    return max(_token_f1(prediction, gold) for gold in _gold_or_empty(gold_answers))


def contains_answer(text: str, gold_answers: Sequence[str]) -> bool:
    """True if a gold answer occurs in ``text`` as whole normalised tokens ("1" does not match "1945")."""
    tokens = normalize_answer(text).split()
    for gold in gold_answers:
        gold_tokens = normalize_answer(gold).split()
        width = len(gold_tokens)
        if width and any(tokens[i : i + width] == gold_tokens for i in range(len(tokens) - width + 1)):
            return True
    return False


def expected_calibration_error(scores: np.ndarray, right: np.ndarray, bins: int = 10) -> float:
    """Mean gap between confidence and accuracy over equal-width confidence bins, weighted by their sizes."""
    which = np.minimum((scores * bins).astype(int), bins - 1)
    gaps = [abs(scores[which == b].mean() - right[which == b].mean()) * (which == b).sum() for b in np.unique(which)]
    return float(sum(gaps) / len(scores))
