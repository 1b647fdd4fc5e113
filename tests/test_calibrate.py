"""No-answer threshold calibration: the threshold rule, and a whole run on a tiny SQuAD file and model."""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path

import pytest

from qa_bot.errors import QABotError
from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.spans import ScoreCalibration
from qa_bot.training import calibrate as calibrate_module
from qa_bot.training.calibrate import best_spans, calibrate, held_out_pairs, run
from qa_bot.training.squad_data import SquadExample, iter_examples, load_squad, split_articles
from qa_bot.types import Span
from tests.conftest import write_tiny_reader, write_tiny_squad


def answerable(text: str, logit: float | None, gold: str = "Erbil") -> tuple[SquadExample, Span | None]:
    example = SquadExample("q", "A", "Where?", "ctx", (gold,), 0)
    return example, None if logit is None else Span("p", 0, len(text), text, 0.0, logit)


def negative(logit: float) -> Span:
    return Span("p", 0, 5, "Duhok", 0.0, logit)


def test_threshold_is_the_highest_that_still_answers_ninety_percent():
    logits = [5, 4, 3, 2, 1, 0, -1, -2, -3]
    positives = [answerable("Erbil", x) for x in logits] + [answerable("", None)]  # no span at all is the lowest
    positives[6] = answerable("Duhok", -1)  # a wrong best span
    negatives = [negative(x) for x in (-6, -4, -2, -1, 4)]
    result = calibrate(positives, negatives, min_answered=0.9)
    scaling = ScoreCalibration(result.score_scale, result.score_bias)
    assert result.no_answer_threshold == math.floor(float(scaling(-3)) * 1e4) / 1e4  # 9 of 10 clear it
    assert result.fitted.answered_rate == 0.9
    assert result.fitted.rejected_rate == 0.4  # -6 and -4 fall below
    assert result.fitted.no_answer_precision == round(2 / 3, 4)  # 2 rejected negatives, 1 rejected answerable question
    assert result.exact_match == 0.8


def test_scores_become_probabilities_of_a_right_answer():
    # Right answers spread over high logits, wrong ones (and wrong paragraphs) over low ones, with overlap.
    positives = [answerable("Erbil", x) for x in (6, 5, 4, 3, 2, 1)] + [answerable("Duhok", x) for x in (3, 0, -1)]
    negatives = [negative(x) for x in (-5, -4, -3, -2, -1, 0, 2)]
    result = calibrate(positives, negatives)
    scaling = ScoreCalibration(result.score_scale, result.score_bias)
    scores = [float(scaling(x)) for x in (6, 5, 4, 3, 2, 1, 3, 0, -1, -5, -4, -3, -2, -1, 0, 2)]
    assert result.score_scale > 0 and scaling(4) > 0.8 and scaling(-4) < 0.2
    assert abs(sum(scores) / len(scores) - 6 / 16) < 0.01  # on average as confident as it is right
    assert 0 <= result.calibration_error < 0.2


def test_exact_match_uses_squad_normalisation():
    result = calibrate([answerable("the Erbil.", 2), answerable("Duhok", 1)], [negative(-1)])
    assert result.exact_match == 0.5


def test_calibration_without_negatives_is_a_clear_error():
    with pytest.raises(QABotError, match="wrong-paragraph"):
        calibrate([answerable("Erbil", 0.9)], [])


def test_calibration_of_a_reader_that_is_never_right_is_a_clear_error():
    with pytest.raises(QABotError, match="right and wrong"):
        calibrate([answerable("Duhok", 3)], [negative(-1)])


def oracle_spans(reader, pairs, batch_size=32, progress=False):
    """Reads like a decent reader: the town of the asked part is right (high logit), any other town wrong."""
    spans = []
    for question, context in pairs:
        asked = re.search(r"part (\d)", question).group(1)
        town = re.search(r"Town\d(\d)", context)
        logit = 4.0 if town.group(1) == asked else -2.0
        spans.append(Span("p", town.start(), town.end(), town.group(), 0.0, logit + 0.1 * (len(spans) % 3)))
    return spans


def test_best_spans_reads_every_pair_within_its_context(tmp_path: Path):
    reader = Reader(str(write_tiny_reader(tmp_path / "reader")), Settings(reader_precision="fp32", threads=1))
    pairs = [("Where is the base?", "The base is at Erbil."), ("Who?", "Caggins spoke for the coalition in Baghdad.")]
    spans = best_spans(reader, pairs, batch_size=1)
    assert len(spans) == 2
    for span, (_, context) in zip(spans, pairs):
        assert span.text == context[span.start : span.end] and span.text.strip()


def test_threshold_is_checked_on_other_articles_than_it_is_fitted_on(tmp_path: Path):
    reader_dir = write_tiny_reader(tmp_path / "reader")
    (reader_dir / "training_config.json").write_text(json.dumps({"holdout_fraction": 0.5, "seed": 13}))
    squad = write_tiny_squad(tmp_path)
    _, held_out = split_articles(load_squad(squad), 0.5, 13)

    fit, check = held_out_pairs(squad, reader_dir, limit=0)

    fit_articles = {e.article for e in fit.positives + fit.negatives}
    check_articles = {e.article for e in check.positives + check.negatives}
    assert fit_articles and check_articles and not fit_articles & check_articles
    # crowd-style unanswerables are made from each half's own articles, never from the half it is checked on
    assert fit.crowd and check.crowd and all(not e.answers for e in fit.crowd + check.crowd)
    assert {e.article for e in fit.crowd} <= fit_articles and {e.article for e in check.crowd} <= check_articles
    assert fit_articles | check_articles == {a["title"] for a in held_out}
    assert len(fit.positives) + len(check.positives) == sum(1 for _ in iter_examples(held_out))


def test_run_writes_the_calibration_the_reader_then_uses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    reader_dir = write_tiny_reader(tmp_path / "reader")
    squad = write_tiny_squad(tmp_path)
    with pytest.raises(QABotError, match="training_config.json"):
        run(squad, reader_dir, settings=Settings(reader_precision="fp32", threads=1))
    (reader_dir / "training_config.json").write_text(json.dumps({"holdout_fraction": 0.5, "seed": 13}))
    monkeypatch.setattr(calibrate_module, "best_spans", oracle_spans)

    result, checked = run(
        squad, reader_dir, limit=0, batch_size=3, settings=Settings(reader_precision="fp32", threads=1)
    )

    # 2 held-out articles, one to fit on and one to check on, x 2 paragraphs x 2 questions,
    # each question also paired with its article's other paragraph
    assert result.fitted.answerable == checked.answerable == 4
    assert result.fitted.wrong_paragraph == checked.wrong_paragraph == 4
    assert result.fitted.answered_rate == checked.answered_rate == 1.0
    assert result.fitted.rejected_rate == checked.rejected_rate == 1.0
    written = json.loads((reader_dir / "reader_config.json").read_text())
    assert written["no_answer_threshold"] == result.no_answer_threshold
    assert written["score_calibration"] == {"scale": result.score_scale, "bias": result.score_bias}
    assert written["calibration"]["fitted"]["answerable"] == 4 and written["calibration"]["data"] == "squad.json.gz"
    assert written["check_on_other_articles"]["crowd_unanswerable"] == checked.crowd_unanswerable > 0
    assert written["check_on_other_articles"] == asdict(checked)
    reader = Reader(str(reader_dir), Settings(reader_precision="fp32"))
    assert reader.threshold == result.no_answer_threshold
    assert reader.score_calibration == ScoreCalibration(result.score_scale, result.score_bias)
