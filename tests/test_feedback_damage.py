"""A damaged feedback.sqlite never takes the chat down: it is moved aside (kept, never deleted) with a one-line
notice and a fresh store takes its place, whether it was damaged before the server started or while it runs."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from qa_bot.feedback import FeedbackStore

GARBAGE = b"this was a feedback database once\n" * 200
ANSWERS = [{"text": "Camp Taji", "score": 0.9, "role": "answer", "citations": []}]


def set_aside(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.damaged-*"))


def notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "qa_bot.feedback" and r.levelno >= logging.WARNING]


def test_a_store_damaged_before_the_start_is_moved_aside_and_a_fresh_one_started(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "feedback.sqlite"
    path.write_bytes(GARBAGE)

    store = FeedbackStore(path)
    store.record("reply:0", "Which bases?", ANSWERS, "up")

    [aside] = set_aside(path)
    assert aside.read_bytes() == GARBAGE  # kept as it was, for whoever wants to salvage it
    assert [entry.answer_id for entry in store.entries()] == ["reply:0"]
    [notice] = notices(caplog)
    assert "\n" not in notice and str(path) in notice and str(aside) in notice and "fresh" in notice


def test_a_store_damaged_while_running_keeps_taking_votes(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    store.record("reply:0", "Which bases?", ANSWERS, "up")
    path.write_bytes(GARBAGE)  # e.g. another program wrote over it

    store.record("reply:1", "Who is the spokesman?", ANSWERS, "down")
    assert store.add_comment("reply:1", "wrong person")
    store.withdraw("reply:0")

    assert [(e.answer_id, e.comment) for e in store.entries()] == [("reply:1", "wrong person")]
    assert [p.read_bytes() for p in set_aside(path)] == [GARBAGE]
    assert len(notices(caplog)) == 1


def test_a_store_with_corrupt_pages_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    for number in range(200):  # several pages
        store.record(f"reply:{number}", "q" * 200, ANSWERS, "up")
    data = bytearray(path.read_bytes())
    page = 4096
    data[page : 3 * page] = b"\xff" * (2 * page)  # the table's pages, header intact
    path.write_bytes(bytes(data))
    with pytest.raises(sqlite3.DatabaseError):  # what any other reader of the file now gets
        sqlite3.connect(path).execute("SELECT count(*) FROM feedback").fetchall()

    assert store.entries() == []  # a fresh store: the damaged one is kept aside, not read half-way
    [aside] = set_aside(path)
    assert aside.read_bytes() == bytes(data)
    store.record("reply:new", "q", ANSWERS, "down")
    assert [e.answer_id for e in FeedbackStore(path).entries()] == ["reply:new"]


def test_a_vote_on_a_damaged_store_is_answered_in_the_chat(tmp_path: Path) -> None:
    from qa_bot.settings import Settings
    from qa_bot.ui import ChatTurn, _Handlers

    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    handlers = _Handlers(bot=None, corpus_dir=tmp_path / "corpus", feedback=store, settings=Settings())  # type: ignore[arg-type]
    turns = [ChatTurn(reply_id="r1", question="Which bases?", answer="Camp Taji", cards=[ANSWERS])]
    path.write_bytes(GARBAGE)

    saved = handlers.vote("r1:0:up", turns)
    assert 'title="r1:0"' in saved and "Thanks, your vote is saved." in saved
    assert [e.answer_id for e in store.entries()] == ["r1:0"]


def test_a_vote_the_store_cannot_take_is_a_warning_and_the_chat_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa_bot.settings import Settings
    from qa_bot.ui import ChatTurn, _Handlers

    path = tmp_path / "feedback.sqlite"
    store = FeedbackStore(path)
    handlers = _Handlers(bot=None, corpus_dir=tmp_path / "corpus", feedback=store, settings=Settings())  # type: ignore[arg-type]
    turns = [ChatTurn(reply_id="r1", question="Which bases?", answer="Camp Taji", cards=[ANSWERS])]
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # another program holds the file
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *args, **kwargs: connect(*args, **{**kwargs, "timeout": 0.1}))
    try:
        with pytest.warns(UserWarning, match="cannot save to the feedback database .* locked"):
            saved = handlers.vote("r1:0:up", turns)
    finally:
        locker.rollback()
        locker.close()
    assert "Your vote could not be saved." in saved and "Thanks" not in saved
