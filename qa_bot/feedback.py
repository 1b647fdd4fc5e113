"""Thumbs up/down on answers, kept in SQLite and exported as JSONL for evaluation.

One row per rated answer: voting again on the same answer replaces the vote
instead of adding a row, so the export holds each answer's final verdict.
A damaged database file (at start or while the server runs) is moved aside, never deleted,
with a one-line notice, and a fresh one is started: votes must never take the chat down.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

from qa_bot.errors import QABotError

logger = logging.getLogger(__name__)

Vote = Literal["up", "down"]
T = TypeVar("T")

_DAMAGE = {"SQLITE_NOTADB", "SQLITE_CORRUPT"}  # the file is not (or no longer) a usable database
_SIDECARS = ("-journal", "-wal", "-shm")  # moved with the database: a hot journal belongs to its own file

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
        self._recovery = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._attempt(lambda connection: None)
        except (OSError, sqlite3.Error) as error:
            raise QABotError(
                f"Cannot open the feedback database {self.path}: {error}; check the folder exists and is writable"
            ) from error

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            with connection:  # commits on success, rolls back on error
                connection.execute(_SCHEMA)
                yield connection
        finally:
            connection.close()

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """``operation`` in one transaction; a failure that is not damage (a locked or read-only file) is one line."""
        try:
            return self._attempt(operation)
        except (OSError, sqlite3.Error) as error:
            raise QABotError(f"cannot save to the feedback database {self.path} ({error}); try again later") from error

    def _attempt(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """``operation`` in one transaction; a damaged file is set aside and the operation runs on a fresh one."""
        try:
            with self._connect() as connection:
                return operation(connection)
        except sqlite3.DatabaseError as error:
            if getattr(error, "sqlite_errorname", None) not in _DAMAGE:
                raise
            self._set_aside(error)
        with self._connect() as connection:
            return operation(connection)

    def _set_aside(self, error: sqlite3.DatabaseError) -> None:
        with self._recovery:  # another thread may have replaced it already
            if self._usable():
                return
            aside = self.path.with_name(f"{self.path.name}.damaged-{datetime.now(UTC):%Y-%m-%dT%H-%M-%S.%fZ}")
            os.replace(self.path, aside)
            for sidecar in _SIDECARS:
                if Path(f"{self.path}{sidecar}").exists():
                    os.replace(f"{self.path}{sidecar}", f"{aside}{sidecar}")
        logger.warning(
            "the feedback database %s was damaged (%s); it was moved to %s and a fresh one started",
            self.path,
            error,
            aside,
        )

    def _usable(self) -> bool:
        try:
            with self._connect() as connection:
                return connection.execute("PRAGMA quick_check").fetchone() == ("ok",)
        except sqlite3.DatabaseError:
            return False

    def record(self, answer_id: str, question: str, answers: list[dict], vote: Vote) -> None:
        """Store or replace the vote on one answer; an earlier comment on it is kept."""
        if vote not in ("up", "down"):
            raise ValueError(f"vote must be 'up' or 'down', not {vote!r}")
        now = _now()
        self._run(
            lambda connection: connection.execute(
                """
                INSERT INTO feedback (answer_id, question, answers_json, vote, comment, created_at, updated_at)
                VALUES (?, ?, ?, ?, NULL, ?, ?)
                ON CONFLICT (answer_id) DO UPDATE SET vote = excluded.vote, updated_at = excluded.updated_at
                """,
                (answer_id, question, json.dumps(answers, ensure_ascii=False), vote, now, now),
            )
        )

    def add_comment(self, answer_id: str, comment: str) -> bool:
        """Attach a free-text comment to an answer already voted on; False if there is no such vote."""
        cursor = self._run(
            lambda connection: connection.execute(
                "UPDATE feedback SET comment = ?, updated_at = ? WHERE answer_id = ?",
                (comment.strip() or None, _now(), answer_id),
            )
        )
        return cursor.rowcount == 1

    def withdraw(self, answer_id: str) -> None:
        """Forget the vote on an answer (the user clicked their thumb again to undo it)."""
        self._run(lambda connection: connection.execute("DELETE FROM feedback WHERE answer_id = ?", (answer_id,)))

    def entries(self) -> list[FeedbackEntry]:
        """All votes, oldest first."""
        rows = self._run(
            lambda connection: connection.execute(
                "SELECT answer_id, question, answers_json, vote, comment, created_at, updated_at"
                " FROM feedback ORDER BY rowid"
            ).fetchall()
        )
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
