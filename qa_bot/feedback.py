"""Thumbs up/down on answers, kept in SQLite and exported as JSONL for evaluation.

One row per rated answer: voting again on the same answer replaces the vote
instead of adding a row, so the export holds each answer's final verdict.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from qa_bot.errors import QABotError

Vote = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    answer_id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answers_json TEXT NOT NULL,
    vote TEXT NOT NULL CHECK (vote IN ('up', 'down')),
    comment TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
)
"""


def default_feedback_path(index_dir: Path) -> Path:
    """Feedback lives next to the index folder, so rebuilding the index never deletes it."""
    return Path(index_dir).resolve().parent / "feedback.sqlite"


@dataclass(frozen=True)
class FeedbackEntry:
    answer_id: str  # one answer shown in the chat (stable across re-votes)
    question: str
    answers: list[dict]  # Response.to_json()["answers"]: answer texts with their citations
    vote: Vote
    comment: str | None
    created_at: str  # ISO 8601, UTC
    updated_at: str


class FeedbackStore:
    """Thread-safe: every call opens its own short-lived connection."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as connection:
                connection.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise QABotError(
                f"Cannot open the feedback database {self.path}: {error}; check the folder exists and is writable"
            ) from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:  # commits on success, rolls back on error
                yield connection
        finally:
            connection.close()

    def record(self, answer_id: str, question: str, answers: list[dict], vote: Vote) -> None:
        """Store or replace the vote on one answer; an earlier comment on it is kept."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        now = _now()
        with self._connect() as connection:
            connection.execute(
                """
                INSERT INTO feedback (answer_id, question, answers_json, vote, comment, created_at, updated_at)
                VALUES (?, ?, ?, ?, NULL, ?, ?)
                ON CONFLICT (answer_id) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at
                """,
                (answer_id, question, json.dumps(answers, ensure_ascii=False), vote, now, now),
            )

    def add_comment(self, answer_id: str, comment: str) -> bool:
        """Attach a free-text comment to an answer already voted on; False if there is no such vote."""
        with self._connect() as connection:
            cursor = connection.execute(
                "UPDATE feedback SET comment = ?, updated_at = ? WHERE answer_id = ?",
                (comment.strip() or None, _now(), answer_id),
            )
        return cursor.rowcount == 1

    def withdraw(self, answer_id: str) -> None:
        """Forget the vote on an answer (the user clicked their thumb again to undo it)."""
        with self._connect() as connection:
            connection.execute("DELETE FROM feedback WHERE answer_id = ?", (answer_id,))

    def entries(self) -> list[FeedbackEntry]:
        """All votes, oldest first."""
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT answer_id, question, answers_json, vote, comment, created_at, updated_at"
                " FROM feedback ORDER BY rowid"
            ).fetchall()
        return [
            FeedbackEntry(
                answer_id=answer_id,
                question=question,
                answers=json.loads(answers_json),
                vote=vote,
                comment=comment,
                created_at=created_at,
                updated_at=updated_at,
            )
            for answer_id, question, answers_json, vote, comment, created_at, updated_at in rows
        ]

    def export(self, out: Path) -> int:
        """Write every vote as one JSON object per line; returns how many were written."""
        entries = self.entries()
        out = Path(out)
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            with out.open("w", encoding="utf-8") as stream:
                for entry in entries:
                    stream.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
        except OSError as error:
            raise QABotError(f"Cannot write the feedback export {out}: {error}") from error
        return len(entries)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
