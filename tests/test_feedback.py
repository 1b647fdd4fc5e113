"""Feedback votes survive in SQLite and come back out as JSONL, one line per rated answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa_bot.errors import QABotError
from qa_bot.feedback import FeedbackStore, default_feedback_path

ANSWERS = [
    {
        "text": "Camp Taji",
        "score": 0.91,
        "citations": [
            {
                "article_id": "abc",
                "title": "Coalition Spokesman: We continue to work with the Peshmerga",
                "source": "Kurdistan 24",
                "url": None,
                "sentence": "… as well as Camp Taji, some 20 miles north of Baghdad.",
                "sentence_start": 10,
                "sentence_end": 64,
                "answer_start": 26,
                "answer_end": 35,
            }
        ],
    }
]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_votes_and_comments_round_trip_through_export(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.record("answer-1", "Which bases does the Coalition use?", ANSWERS, "up")
    store.record("answer-2", "Who is <b>Caggins</b>? 🤔", [], "down")
    assert store.add_comment("answer-2", "  It should say he is the spokesman.  ")

    out = tmp_path / "exports" / "feedback.jsonl"
    assert store.export(out) == 2
    first, second = read_jsonl(out)

    assert first["answer_id"] == "answer-1"
    assert first["question"] == "Which bases does the Coalition use?"
    assert first["vote"] == "up"
    assert first["answers"] == ANSWERS
    assert first["comment"] is None
    assert first["created_at"].endswith("+00:00")
    assert second["question"] == "Who is <b>Caggins</b>? 🤔"
    assert (second["vote"], second["comment"]) == ("down", "It should say he is the spokesman.")


def test_changing_a_vote_replaces_it_and_keeps_the_comment(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    store.record("answer-1", "q", ANSWERS, "up")
    store.add_comment("answer-1", "close, but incomplete")
    store.record("answer-1", "q", ANSWERS, "down")

    # A second store on the same file (another process) sees the same single row.
    [entry] = FeedbackStore(path).entries()
    assert (entry.vote, entry.comment) == ("down", "close, but incomplete")


def test_withdrawn_vote_is_not_exported(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    store.record("answer-1", "q1", ANSWERS, "up")
    store.record("answer-2", "q2", ANSWERS, "down")
    store.withdraw("answer-1")

    out = tmp_path / "feedback.jsonl"
    assert store.export(out) == 1
    assert [entry["answer_id"] for entry in read_jsonl(out)] == ["answer-2"]


def test_comment_without_a_vote_is_not_stored(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    assert not store.add_comment("never-voted", "hello")
    assert store.entries() == []


def test_unknown_vote_is_refused(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    with pytest.raises(ValueError):
        store.record("answer-1", "q", [], "meh")  # type: ignore[arg-type]


def test_unwritable_location_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(QABotError, match="Cannot open the feedback database"):
        FeedbackStore(blocker / "feedback.sqlite")


def test_default_path_sits_beside_the_index_folder(tmp_path: Path) -> None:
    assert default_feedback_path(tmp_path / "index") == tmp_path.resolve() / "feedback.sqlite"
