"""No-answer threshold calibration: the threshold rule, and a whole run on a tiny SQuAD file and model."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from qa_bot.errors import QABotError
from qa_bot.reader import Reader
from qa_bot.settings import Settings
from qa_bot.training.calibrate import calibrate, run
from qa_bot.training.squad_data import SquadExample
from qa_bot.types import Span
from tests.conftest import write_tiny_reader


def answerable(text: str, score: float | None, gold: str = "Erbil") -> tuple[SquadExample, Span | None]:
    example = SquadExample("q", "A", "Where?", "ctx", (gold,), 0)
    return example, None if score is None else Span("p", 0, len(text), text, score, 0.0)


def negative(score: float) -> Span:
    return Span("p", 0, 5, "Duhok", score, 0.0)


def test_threshold_is_the_highest_that_still_answers_ninety_percent():
    scores = [0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55]
    positives = [answerable("Erbil", s) for s in scores] + [answerable("", None)]  # no span at all counts as 0
    negatives = [negative(s) for s in (0.1, 0.3, 0.5, 0.6, 0.9)]
    result = calibrate(positives, negatives, min_answered=0.9)
    assert result.no_answer_threshold == 0.55  # 9 of 10 answerable questions clear it, a higher one loses one more
    assert result.answered_rate == 0.9
    assert result.rejected_rate == result.no_answer_recall == 0.6  # 0.1, 0.3, 0.5 fall below
    assert result.no_answer_precision == 0.75  # 3 rejected negatives, 1 rejected answerable question
    assert result.exact_match == 0.9


def test_exact_match_uses_squad_normalisation():
    result = calibrate([answerable("the Erbil.", 0.9), answerable("Duhok", 0.8)], [negative(0.1)])
    assert result.exact_match == 0.5


def test_calibration_without_negatives_is_a_clear_error():
    with pytest.raises(QABotError, match="wrong-paragraph"):
        calibrate([answerable("Erbil", 0.9)], [])


def squad_file(folder: Path) -> Path:
    articles = []
    for a in range(4):
        paragraphs = []
        for p in range(2):
            context = f"Article {a} paragraph {p}: the base at Town{a}{p} hosts {a + p + 2} brigades of trainers."
            answer = f"Town{a}{p}"
            paragraphs.append(
                {
                    "context": context,
                    "qas": [
                        {
                            "id": f"{a}-{p}-{q}",
                            "question": f"Where is base {q} of article {a}, part {p}?",
                            "answers": [{"text": answer, "answer_start": context.index(answer)}],
                        }
                        for q in range(2)
                    ],
                }
            )
        articles.append({"title": f"Article {a}", "paragraphs": paragraphs})
    path = folder / "squad.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump({"data": articles}, handle)
    return path


def test_run_writes_the_threshold_the_reader_then_uses(tmp_path: Path):
    reader_dir = write_tiny_reader(tmp_path / "reader")
    squad = squad_file(tmp_path)
    with pytest.raises(QABotError, match="training_config.json"):
        run(squad, reader_dir, settings=Settings(reader_precision="fp32", threads=1))
    (reader_dir / "training_config.json").write_text(json.dumps({"holdout_fraction": 0.5, "seed": 13}))

    result = run(squad, reader_dir, limit=0, batch_size=3, settings=Settings(reader_precision="fp32", threads=1))

    assert result.answerable == 8  # 2 held-out articles x 2 paragraphs x 2 questions
    assert result.wrong_paragraph == 8  # each paired with the article's other paragraph
    assert result.answered_rate >= 0.9
    written = json.loads((reader_dir / "reader_config.json").read_text())
    assert written["no_answer_threshold"] == result.no_answer_threshold
    assert written["calibration"]["answerable"] == 8 and written["calibration"]["data"] == "squad.json.gz"
    assert Reader(str(reader_dir), Settings(reader_precision="fp32")).threshold == result.no_answer_threshold
