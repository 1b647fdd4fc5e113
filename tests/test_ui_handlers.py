"""The chat's event handlers without a browser: votes and comments from any reply, and a kept conversation."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa_bot.feedback import FeedbackStore
from qa_bot.settings import Settings
from qa_bot.ui import ChatTurn, _Handlers, _stored

ANSWERS = [{"text": "Camp Taji", "score": 0.9, "role": "answer", "article_count": 1, "citations": []}]


@pytest.fixture
def handlers(tmp_path: Path) -> _Handlers:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    return _Handlers(bot=None, corpus_dir=tmp_path / "corpus", feedback=store, settings=Settings())  # type: ignore[arg-type]


TURNS = [
    ChatTurn(reply_id="r1", question="Which bases?", answer="Camp Taji", cards=[ANSWERS]),
    ChatTurn(reply_id="r2", question="Who painted the canteen?", answer=None, cards=[[]]),  # a no-answer
]


def test_a_no_answer_takes_a_vote_and_a_reason_with_a_comment(handlers: _Handlers) -> None:
    assert "Thanks, your vote is saved." in handlers.act("vote|r2:0:down", TURNS)[0]
    saved = handlers.act("comment|r2:0|should have answered|The canteen article says Holt", TURNS)[0]
    assert 'title="r2:0"' in saved and "Thanks, your comment was saved." in saved
    [entry] = handlers.feedback.entries()
    assert (entry.answer_id, entry.question, entry.answers, entry.vote) == (
        "r2:0",
        "Who painted the canteen?",
        [],
        "down",
    )
    assert entry.comment == "should have answered: The canteen article says Holt"


def test_a_comment_needs_a_vote_and_some_text(handlers: _Handlers) -> None:
    assert "Vote on the answer first" in handlers.send_comment("r1:0|wrong answer|")
    handlers.vote("r1:0:up", TURNS)
    assert "Choose a reason or write a comment first." in handlers.send_comment("r1:0||  ")
    assert "saved" in handlers.send_comment("r1:0||Right bases")
    assert [e.comment for e in handlers.feedback.entries()] == ["Right bases"]
    assert "withdrawn" in handlers.vote("r1:0:none", TURNS) and handlers.feedback.entries() == []


@pytest.mark.parametrize("target", ["r9:0:up", "r1:5:up", "r1:0:maybe", "r1", ""])
def test_a_vote_for_no_known_card_is_ignored(handlers: _Handlers, target: str) -> None:
    assert handlers.vote(target, TURNS) == "" and handlers.feedback.entries() == []


def test_the_kept_conversation_comes_back_and_a_damaged_one_starts_afresh(handlers: _Handlers) -> None:
    chat = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    restored_chat, restored_turns, _ = handlers.restore(_stored(chat, TURNS[:1]))
    assert restored_chat == chat and restored_turns == TURNS[:1]
    for damaged in (None, {}, {"chat": [], "turns": [{"reply_id": "r1"}]}, "junk"):
        assert handlers.restore(damaged) == ([], [], None)  # type: ignore[arg-type]
