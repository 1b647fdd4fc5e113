"""A version's SQLite store: articles, sentences and passages, one table per record type."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import astuple, fields
from functools import cache
from pathlib import Path
from typing import overload

import numpy as np

from qa_bot.types import Article, Passage, Sentence

TABLES: dict[str, type] = {"articles": Article, "sentences": Sentence, "passages": Passage}
ROW_COLUMN = "row"  # passages.row = row of the passage in vectors.npy and the FAISS index


def connect_read_only(path: Path) -> sqlite3.Connection:
    # immutable: versions never change, so SQLite needs no locks or journal and keeps working
    # from its open descriptor even after a later sync removes the version directory.
    connection = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    connection.execute("PRAGMA query_only = ON")
    return connection


def column_names(record_type: type) -> list[str]:
    return [f.name for f in fields(record_type)]


def column_list(record_type: type) -> str:
    return ", ".join(f'"{c}"' for c in column_names(record_type))


def create_store(path: Path) -> sqlite3.Connection:
    """An empty store for a new version, filled article by article as the passages are made."""
    connection = sqlite3.connect(path)
    # No journal: a half-written store only ever lives in a .partial directory.
    connection.execute("PRAGMA journal_mode = OFF")
    connection.execute("PRAGMA synchronous = OFF")
    for table, record_type in TABLES.items():
        columns = [f'"{c}" {_column_type(record_type, c)}' for c in column_names(record_type)]
        if record_type is Passage:
            columns.insert(0, f'"{ROW_COLUMN}" INTEGER PRIMARY KEY')
        key = {"articles": ', PRIMARY KEY ("article_id")', "sentences": ', PRIMARY KEY ("article_id", "index")'}
        connection.execute(f"CREATE TABLE {table} ({', '.join(columns)}{key.get(table, '')})")
    connection.execute('CREATE UNIQUE INDEX passages_by_article ON passages ("article_id", "index")')
    connection.execute('CREATE UNIQUE INDEX passages_by_id ON passages ("passage_id")')
    return connection


@cache
def _insert_sql(table: str) -> str:
    """INSERT for one table's records; a passage row is preceded by its row number."""
    record_type = TABLES[table]
    columns = column_list(record_type)
    count = len(column_names(record_type))
    if record_type is Passage:
        columns, count = f'"{ROW_COLUMN}", {columns}', count + 1
    return f"INSERT INTO {table} ({columns}) VALUES ({','.join('?' * count)})"


def store_article(
    store: sqlite3.Connection, article: Article, sentences: list[Sentence], first_row: int, passages: list[Passage]
) -> None:
    """One article's rows; its passages take rows ``first_row``, ``first_row + 1``, ..."""
    store.execute(_insert_sql("articles"), astuple(article))
    store.executemany(_insert_sql("sentences"), map(astuple, sentences))
    store.executemany(
        _insert_sql("passages"), ((row, *astuple(passage)) for row, passage in enumerate(passages, start=first_row))
    )


class StoredTexts(Sequence[str]):
    """The texts of some passage rows, read from the store a slice at a time (as ``encode_blocks`` slices them),
    so the indexer never holds every passage's text."""

    def __init__(self, store: sqlite3.Connection, rows: np.ndarray, block_rows: int) -> None:
        self._store = store
        self._rows = rows
        self._block_rows = block_rows  # texts read at a time when iterated

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, rows: int) -> str: ...
    @overload
    def __getitem__(self, rows: slice) -> list[str]: ...
    def __getitem__(self, rows: int | slice) -> str | list[str]:
        if isinstance(rows, int):
            row = range(len(self))[rows]  # negative indexes and IndexError as a list has them
            return self[row : row + 1][0]
        wanted = [int(row) for row in self._rows[rows]]
        found = dict(
            self._store.execute(
                f'SELECT "{ROW_COLUMN}", text FROM passages WHERE "{ROW_COLUMN}" IN (SELECT value FROM json_each(?))',
                (json.dumps(wanted),),
            )
        )
        return [found[row] for row in wanted]

    def __iter__(self) -> Iterator[str]:
        for begin in range(0, len(self), self._block_rows):
            yield from self[begin : begin + self._block_rows]


def _column_type(record_type: type, column: str) -> str:
    annotation = {f.name: f.type for f in fields(record_type)}[column]
    if "None" in str(annotation):
        return "TEXT"
    return "INTEGER NOT NULL" if annotation in ("int", int) else "TEXT NOT NULL"
