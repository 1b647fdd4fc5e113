"""The Articles tab: the table of indexed articles (sorted, searched), an article's view, removal and sync reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa_bot.render.markup import (
    APP_TITLE,
    _text,
    _title,
    meta_line,
    render_article,
)

if TYPE_CHECKING:
    from qa_bot.index import SyncReport

# ---------------------------------------------------------------- articles tab


@dataclass(frozen=True)
class ArticleRow:
    """One indexed article as the Articles tab lists it."""

    article_id: str
    title: str
    source: str
    path: str  # relative to the corpus; "file.jsonl#3" for the fourth record of a JSON Lines file
    passages: int
    date: str | None  # the article's own date, when its file gave one
    file_date: str | None = None  # the file's last change (YYYY-MM-DD), shown when the article has no date
    changed: float = 0.0  # the file's last change (POSIX time): orders articles of one day, newest first

    @property
    def shown_date(self) -> str:
        return self.date or self.file_date or ""


def sort_articles(rows: Sequence[ArticleRow]) -> list[ArticleRow]:
    """Newest first (the article's date, else its file's; files of one day by their time), undated last;
    then by title."""
    by_title = sorted(rows, key=lambda row: (row.title.casefold(), row.path))
    return sorted(by_title, key=lambda row: (row.shown_date != "", row.shown_date, row.changed), reverse=True)


def filter_articles(rows: Sequence[ArticleRow], query: str) -> list[ArticleRow]:
    """Rows whose title, source, date or file name contain every word of ``query`` (any case)."""
    words = query.casefold().split()
    return [
        row
        for row in rows
        if all(word in f"{row.title} {row.source} {row.shown_date} {row.path}".casefold() for word in words)
    ]


def _date_cell(row: ArticleRow) -> str:
    if row.date:
        return _text(row.date)
    if row.file_date:
        return f'<span class="qa-file-date" title="the article has no date; this is when its file last changed">{_text(row.file_date)} (file)</span>'
    return "—"


_ARTICLE_COLUMNS = (("Title", ""), ("Source", ""), ("Date", ""), ("Passages", ' class="qa-num"'))


def render_article_table(rows: Sequence[ArticleRow], query: str = "") -> str:
    if not rows:
        return '<div class="qa-note">No articles indexed yet; add some above.</div>'
    shown = filter_articles(sort_articles(rows), query)
    if not shown:
        return f'<div class="qa-note">No article matches “{_text(query.strip())}”.</div>'
    body = "".join(
        f'<tr><td class="qa-title">{_title(row.title)}</td><td>{_text(row.source)}</td>'
        f'<td class="qa-date">{_date_cell(row)}</td><td class="qa-num">{row.passages}</td></tr>'
        for row in shown
    )
    count = f"{len(shown)} of {len(rows)} articles" if len(shown) < len(rows) else f"{len(rows)} articles"
    heads = "".join(
        f'<th{extra}><button type="button" class="qa-sort" value="{column}" title="Sort by {name.lower()}">'
        f"{name}</button></th>"
        for column, (name, extra) in enumerate(_ARTICLE_COLUMNS)
    )
    return (
        f'<div class="qa-note">{count}, newest first (click a column to sort)</div>'
        f'<table class="qa-articles"><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table>'
    )


def render_article_view(row: ArticleRow, text: str) -> str:
    return (
        f'<section class="qa-card">{meta_line(row.title, row.source, row.date, None)}'
        f'<div class="qa-article-text qa-article-full">{render_article(text)}</div></section>'
    )


def render_remove_prompt(row: ArticleRow, file_name: str, articles_in_file: int) -> str:
    others = f" It holds {articles_in_file} articles; all of them are removed." if articles_in_file > 1 else ""
    return (
        f'<div class="qa-status qa-confirm">Remove “{_text(row.title)}” from the corpus? '
        f"Its file <code>{_text(file_name)}</code> moves to the corpus trash; Undo brings it back."
        f"{_text(others)}</div>"
    )


def render_index_report(report: SyncReport | None, notes: Sequence[str], problems: Sequence[str]) -> str:
    """What an upload or removal did: ``notes`` about files, then the index sync, then problems."""
    lines = [_text(note) for note in notes]
    if report is not None:
        lines.append(
            f"Index updated: {report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged; {report.passages} passages in total."
        )
    problems = [*problems, *(report.problems if report is not None else [])]
    items = "".join(f"<li>{_text(problem)}</li>" for problem in problems)
    problem_list = f"<div>Not indexed:</div><ul>{items}</ul>" if problems else ""
    return '<div class="qa-status">' + "<br>".join(lines) + problem_list + "</div>"


def _some(paths: Sequence[str], shown: int = 5) -> str:
    more = f" and {len(paths) - shown} more" if len(paths) > shown else ""
    return ", ".join(_text(path) for path in paths[:shown]) + more


def render_drift(unindexed: Sequence[str], gone: Sequence[str]) -> str:
    """Where the corpus folder and the index disagree (a sync failed or was cut short), and how to fix it."""
    if not unindexed and not gone:
        return ""
    lines = [f"In the folder but not yet indexed: {_some(unindexed)}."] if unindexed else []
    if gone:
        lines.append(f"Still indexed although their file has left the folder: {_some(gone)}.")
    return '<div class="qa-status qa-drift">' + "<br>".join(lines) + "<br>Press “Sync now” to index the folder.</div>"


def render_header(articles: int, passages: int) -> str:
    return (
        f'<div id="qa-header"><h1>{APP_TITLE}</h1>'
        f"<p>Answers quoted from {articles} indexed article{'s' if articles != 1 else ''} ({passages} passages), "
        "each with the sentence it comes from.</p></div>"
    )
