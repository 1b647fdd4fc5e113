"""Page rendering: pure functions from typed records (Response, Answer, article rows) to HTML and plain text.

Safety: every piece of user or article text reaches the page through ``html.escape``
and the chat renders HTML without Markdown, so a question or article containing
``<script>``, ``<img onerror=...>`` or ``[links](...)`` shows as plain text. Gradio's
sanitiser still runs over this HTML; it drops ``data-*`` and ``aria-*`` attributes,
so buttons carry what the page script needs in ``value`` and ``title``.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qa_bot.types import Answer, Citation, Response, Retrieved

if TYPE_CHECKING:
    from qa_bot.index import SyncReport

CLOSEST_PASSAGES = 3  # passages shown when there is no answer
ARTICLE_WINDOW_CHARS = 40_000  # longer articles are shown as this much text around the cited sentence
QUESTION_BUBBLE_CHARS = 1_000  # a longer question is shown cut in the user's own bubble
APP_TITLE = "Article Q&A"

# Confidence in words, highest band first: the one place these thresholds live.
CONFIDENCE_WORDS = ((0.70, "likely"), (0.45, "possible"), (0.0, "unsure"))

ArticleText = Callable[[str], str | None]  # article_id -> full text, None if no longer indexed


def confidence_word(score: float) -> str:
    return next(word for floor, word in CONFIDENCE_WORDS if score >= floor)


def confidence_label(score: float) -> str:
    """'likely 87%', 'unsure 41%': the band's word, then the calibrated probability."""
    return f"{confidence_word(score)} {score:.0%}"


def _text(value: str) -> str:
    """Escaped text with line breaks kept; no raw newlines, so Gradio's dedent cannot alter it."""
    return html.escape(value).replace("\r\n", "\n").replace("\n", "<br>")


_HYPHENATED = re.compile(r"(?<!\S)(\S{1,30}-\S{1,30})(?!\S)")


def _title(value: str) -> str:
    """Escaped title text in which a hyphenated word ("Al-Assad") is never split at its hyphen."""
    return _HYPHENATED.sub(r'<span class="qa-nobreak">\1</span>', _text(value))


def _attribute(value: str) -> str:
    """Escaped attribute value; newlines as character references so they survive the page unchanged."""
    return html.escape(value, quote=True).replace("\n", "&#10;")


# ---------------------------------------------------------------- article text with marks


def highlight(
    text: str,
    offset: int,
    sentence: tuple[int, int] | None = None,
    answers: Sequence[tuple[int, int]] = (),
) -> str:
    """Escape ``text`` (which starts at article offset ``offset``), marking the cited sentence and the answers.

    ``sentence`` and ``answers`` are article offsets; parts outside ``text`` are ignored.
    """
    cuts = {0, len(text)}
    for start, end in [r for r in (sentence, *answers) if r is not None]:
        cuts.update(min(max(position - offset, 0), len(text)) for position in (start, end))
    pieces = []
    for start, end in itertools.pairwise(sorted(cuts)):
        piece = _text(text[start:end])
        if any(a_start <= start + offset and end + offset <= a_end for a_start, a_end in answers):
            piece = f'<mark class="qa-answer">{piece}</mark>'
        if sentence and sentence[0] <= start + offset and end + offset <= sentence[1]:
            piece = f'<span class="qa-cited">{piece}</span>'
        pieces.append(piece)
    return "".join(pieces)


def render_article(text: str, sentence: tuple[int, int] | None = None, answers: Sequence[tuple[int, int]] = ()) -> str:
    """The article body with the cited sentence marked; a long article is cut to a window around it."""
    start, end = 0, len(text)
    prefix = suffix = ""
    if len(text) > ARTICLE_WINDOW_CHARS:
        centre = sentence[0] if sentence else 0
        start = max(0, centre - ARTICLE_WINDOW_CHARS // 2)
        end = min(len(text), start + ARTICLE_WINDOW_CHARS)
        prefix = "… " if start > 0 else ""
        suffix = " …" if end < len(text) else ""
    return prefix + highlight(text[start:end], start, sentence, answers) + suffix


def _web_url(url: str | None) -> str | None:
    """The URL if it is a web address; anything else (javascript:, file:) is never linked nor copied."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def _link(url: str | None) -> str:
    if not _web_url(url):
        return ""
    return f'<a href="{_attribute(url)}" target="_blank" rel="noopener noreferrer">open original</a>'


def meta_line(title: str, source: str, date: str | None, url: str | None) -> str:
    parts = [f'<strong class="qa-title">{_title(title)}</strong>', _text(source)]
    if date:
        parts.append(_text(date))
    if link := _link(url):
        parts.append(link)
    return '<div class="qa-meta">' + " · ".join(parts) + "</div>"


def _score(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _scores_table(retrieved: Retrieved, reader_score: float | None) -> str:
    cells = [
        ("Rank", str(retrieved.rank + 1)),
        ("Dense (cosine)", _score(retrieved.dense_score, 3)),
        ("BM25", _score(retrieved.bm25_score, 2)),
        ("Fused (RRF)", _score(retrieved.score, 4)),
        ("Reader", _score(reader_score, 3)),
    ]
    head = "".join(f"<th>{name}</th>" for name, _ in cells)
    body = "".join(f"<td>{value}</td>" for _, value in cells)
    return f'<table class="qa-scores"><tr>{head}</tr><tr>{body}</tr></table>'


def _support_panel(
    retrieved: Retrieved,
    article_text: str | None,
    reader_score: float | None,
    sentence: tuple[int, int] | None = None,
    answers: Sequence[tuple[int, int]] = (),
    summary: str = "Source passage and scores",
) -> str:
    passage = retrieved.passage
    whole_article = ""
    if article_text is not None:  # None: the article left the index since this answer was read
        marked = render_article(article_text, sentence or (passage.start, passage.end), answers)
        whole_article = (
            '<details class="qa-article"><summary>Read the whole article at this point</summary>'
            f'<div class="qa-article-text">{marked}</div></details>'
        )
    return (
        f'<details class="qa-support"><summary>{summary}</summary>'
        f'<div class="qa-passage">{highlight(passage.text, passage.start, sentence, answers)}</div>'
        f"{_scores_table(retrieved, reader_score)}{whole_article}</details>"
    )


# ---------------------------------------------------------------- answer cards


@dataclass(frozen=True)
class AnswerCard:
    """One card of a reply: the primary answer with its list items, or one alternative."""

    index: int  # position among the reply's cards; with the reply id it names the card for votes
    answers: tuple[Answer, ...]  # the headline answer first, then its list items

    @property
    def headline(self) -> Answer:
        return self.answers[0]

    @property
    def is_primary(self) -> bool:
        return self.index == 0


def answer_cards(response: Response) -> list[AnswerCard]:
    """Group what the response shows into cards: a list item joins the card of the answer before it."""
    groups: list[list[Answer]] = []
    for answer in response.answers:
        if answer.role == "list_item" and groups:
            groups[-1].append(answer)
        else:
            groups.append([answer])
    return [AnswerCard(index, tuple(group)) for index, group in enumerate(groups)]


@dataclass(frozen=True)
class _Quote:
    """One cited sentence with every answer of a card found in it."""

    citation: Citation
    answer: Answer  # the first answer citing it (its passage and score feed the support view)
    spans: tuple[tuple[int, int], ...]


def _quotes(card: AnswerCard) -> list[_Quote]:
    """The card's citations, one per distinct sentence, in order; list items from one sentence share it."""
    quotes: dict[tuple[str, int, int], _Quote] = {}
    for answer in card.answers:
        for citation in answer.citations:
            key = (citation.article_id, citation.sentence_start, citation.sentence_end)
            span = (citation.answer_start, citation.answer_end)
            found = quotes.get(key)
            quotes[key] = (
                _Quote(found.citation, found.answer, (*found.spans, span))
                if found
                else _Quote(citation, answer, (span,))
            )
    return list(quotes.values())


def _quote_block(quote: _Quote, response: Response, article_text: ArticleText) -> str:
    citation = quote.citation
    sentence = (citation.sentence_start, citation.sentence_end)
    retrieved = next(
        (r for r in response.retrieved if r.passage.passage_id == citation.passage_id), quote.answer.retrieved
    )
    block = (
        f'<blockquote class="qa-quote">{highlight(citation.sentence, citation.sentence_start, None, quote.spans)}'
        f"</blockquote>{meta_line(citation.title, citation.source, citation.date, citation.url)}"
    )
    if retrieved is not None:
        text = article_text(citation.article_id)
        block += _support_panel(retrieved, text, quote.answer.score, sentence, quote.spans)
    return f'<div class="qa-citation">{block}</div>'


def _card_title(card: AnswerCard) -> str:
    if len(card.answers) == 1:
        return f'<div class="qa-answer-text">{_title(card.headline.text)}</div>'
    items = "".join(f'<li><span class="qa-answer-text">{_title(a.text)}</span></li>' for a in card.answers)
    return f'<ul class="qa-items">{items}</ul>'


def _agreement(card: AnswerCard) -> str:
    articles = max(answer.article_count for answer in card.answers)
    return f'<span class="qa-agree">found in {articles} articles</span>' if articles > 1 else ""


# Thumb icons drawn inline, so they show without an emoji font (Lucide's "thumbs-up", ISC licence).
_THUMB_UP = (
    '<svg class="qa-icon" viewBox="0 0 24 24" width="16" height="16"><path d="M7 10v12"/><path d="M15 5.88 14 10h5.83'
    "a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2"
    'a3.13 3.13 0 0 1 3 3.88Z"/></svg>'
)
_THUMB_DOWN = _THUMB_UP.replace('class="qa-icon"', 'class="qa-icon qa-flip"')


def _card_actions(card: AnswerCard, question: str, reply_id: str) -> str:
    target = f"{reply_id}:{card.index}"
    return (
        '<div class="qa-actions">'
        f'<button type="button" class="qa-copy" value="{_attribute(card_plain_text(question, card))}"'
        ' title="Copy this answer and its sources as plain text">Copy</button>'
        '<span class="qa-rate">Helpful?'
        f'<button type="button" class="qa-vote" value="{_attribute(target)}:up" title="Good answer">{_THUMB_UP}</button>'
        f'<button type="button" class="qa-vote" value="{_attribute(target)}:down" title="Wrong answer">{_THUMB_DOWN}</button>'
        "</span>"
        '<span class="qa-thanks" hidden>Thanks for your feedback!</span>'
        "</div>"
    )


def render_card(card: AnswerCard, response: Response, article_text: ArticleText, reply_id: str, question: str) -> str:
    kind = "qa-primary" if card.is_primary else "qa-alternative"
    quotes = "".join(_quote_block(quote, response, article_text) for quote in _quotes(card))
    return (
        f'<section class="qa-card {kind}"><div class="qa-card-head">{_card_title(card)}'
        f'<span class="qa-confidence qa-{confidence_word(card.headline.score)}"'
        ' title="calibrated probability that this answer is right">'
        f"{confidence_label(card.headline.score)}</span></div>"
        f"{_agreement(card)}{quotes}{_card_actions(card, question, reply_id)}</section>"
    )


def card_plain_text(question: str, card: AnswerCard) -> str:
    """What the card's Copy button copies: the question, the answer(s) with source numbers, then the sources."""
    sources: dict[tuple[str, int], Citation] = {}  # insertion order gives the source numbers
    answers = []
    for answer in card.answers:
        refs = []
        for citation in answer.citations:
            key = (citation.article_id, citation.sentence_start)
            sources.setdefault(key, citation)
            refs.append(f"[{list(sources).index(key) + 1}]")
        answers.append(f"{answer.text} {''.join(refs)}".strip())
    lines = [f"Q: {question}", f"A: {'; '.join(answers)} ({confidence_label(card.headline.score)})"]
    for number, citation in enumerate(sources.values(), start=1):
        where = ", ".join(
            part for part in (citation.title, citation.source, citation.date, _web_url(citation.url)) if part
        )
        lines.append(f"[{number}] “{' '.join(citation.sentence.split())}” ({where})")
    return "\n".join(lines)


# ---------------------------------------------------------------- replies


def _no_answer(response: Response, article_text: ArticleText) -> str:
    parts = ['<div class="qa-nothing">I couldn\'t find this in the articles.</div>']
    closest = response.retrieved[:CLOSEST_PASSAGES]
    if closest:
        parts.append('<div class="qa-note">The closest passages I looked at:</div>')
    for retrieved in closest:
        passage, article = retrieved.passage, retrieved.article
        snippet = passage.text if len(passage.text) <= 220 else passage.text[:220].rsplit(" ", 1)[0] + " …"
        parts.append(
            '<section class="qa-card qa-closest">'
            f'<div class="qa-passage">{_text(snippet)}</div>'
            f"{meta_line(article.title, article.source, article.date, article.url)}"
            f"{_support_panel(retrieved, article_text(passage.article_id), None, summary='Full passage and scores')}"
            "</section>"
        )
    return "".join(parts)


def _read_as(response: Response) -> str:
    """How the question was read, when that differs from what was asked (shortened, or a follow-up resolved)."""
    used = response.resolved_question
    if not used or used == response.question:
        return ""
    return f'<div class="qa-note qa-read-as">Read as: “{_text(used)}”</div>'


def render_response(response: Response, article_text: ArticleText, reply_id: str) -> str:
    """The assistant's chat message for one Response; ``article_text`` gives an article's full text or None.

    The first card is the answer (with its list items); alternatives are collapsed under
    "Other possible answers". ``reply_id`` names this reply's cards for the vote buttons.
    """
    parts = [_read_as(response)]
    parts.extend(f'<div class="qa-note">{_text(notice)}</div>' for notice in response.notices)
    cards = answer_cards(response)
    if not cards:
        parts.append(_no_answer(response, article_text))
    else:
        primary, *alternatives = (render_card(c, response, article_text, reply_id, response.question) for c in cards)
        parts.append(primary)
        if alternatives:
            parts.append(
                f'<details class="qa-others"><summary>Other possible answers ({len(alternatives)})</summary>'
                f'<div class="qa-others-list">{"".join(alternatives)}</div></details>'
            )
    return '<div class="qa-reply">' + "".join(parts) + "</div>"


def render_question(question: str) -> str:
    shown = question if len(question) <= QUESTION_BUBBLE_CHARS else question[:QUESTION_BUBBLE_CHARS] + " …"
    return f'<div class="qa-question">{_text(shown)}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-reply"><div class="qa-error">{_text(message)}</div></div>'


def render_vote_thanks(answer: str, vote: str) -> str:
    verdict = "helpful" if vote == "up" else "wrong"
    return (
        f'<div class="qa-thanks-line">Thanks! Your rating of “{_text(answer)}” as {verdict} is saved. '
        "What was right or wrong? (optional)</div>"
    )


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

    @property
    def shown_date(self) -> str:
        return self.date or self.file_date or ""


def sort_articles(rows: Sequence[ArticleRow]) -> list[ArticleRow]:
    """Newest first (the article's date, else its file's), undated last; then by title."""
    by_title = sorted(rows, key=lambda row: (row.title.casefold(), row.path))
    return sorted(by_title, key=lambda row: (row.shown_date != "", row.shown_date), reverse=True)


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
    return (
        f'<div class="qa-note">{count}, newest first</div>'
        '<table class="qa-articles"><thead><tr><th>Title</th><th>Source</th><th>Date</th>'
        f'<th class="qa-num">Passages</th></tr></thead><tbody>{body}</tbody></table>'
    )


def render_article_view(row: ArticleRow, text: str) -> str:
    return (
        f'<section class="qa-card">{meta_line(row.title, row.source, row.date, None)}'
        f'<div class="qa-article-text qa-article-full">{render_article(text)}</div></section>'
    )


def render_remove_prompt(row: ArticleRow, file_name: str, articles_in_file: int, trash: str) -> str:
    others = f" It holds {articles_in_file} articles; all of them are removed." if articles_in_file > 1 else ""
    return (
        f'<div class="qa-status qa-confirm">Remove “{_text(row.title)}” from the corpus? '
        f"Its file <code>{_text(file_name)}</code> moves to <code>{_text(trash)}</code>, "
        f"where you can restore it by moving it back.{_text(others)}</div>"
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


# ---------------------------------------------------------------- page style and script

# Words wrap only between words (no hyphenation, no mid-word breaks); a token longer than the whole line
# (a URL, a hash) may still break so it cannot push the layout sideways.
CSS = """
#qa-header { padding: 4px 2px 10px; border-bottom: 1px solid var(--border-color-primary); margin-bottom: 6px; }
#qa-header h1 { font-size: 1.45rem; margin: 0; font-weight: 650; letter-spacing: -0.01em; }
#qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: 0.92rem; }
#qa-chat .message, .qa-reply, .qa-reply *, .qa-question, table.qa-articles td {
  word-break: normal !important; overflow-wrap: break-word !important; hyphens: none !important; }
.qa-reply { display: flex; flex-direction: column; gap: 10px; line-height: 1.5; }
.qa-note { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px;
           background: var(--background-fill-primary); }
.qa-primary { border-left: 4px solid var(--color-accent); }
.qa-card-head { display: flex; justify-content: space-between; align-items: flex-start; gap: 10px; }
.qa-card-head > :first-child { flex: 1 1 auto; min-width: 0; }
.qa-answer-text { font-size: 1.12rem; font-weight: 650; }
.qa-alternative .qa-answer-text { font-size: 1rem; font-weight: 600; }
ul.qa-items { margin: 0; padding-left: 1.2em; }
ul.qa-items li { margin: 0 0 2px; }
.qa-confidence { flex: none; font-size: 0.8rem; white-space: nowrap; padding: 1px 8px; border-radius: 999px;
                 background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.qa-likely { background: #dcfce7; color: #166534; }
.qa-possible { background: #fef3c7; color: #92400e; }
.qa-agree { display: inline-block; margin-top: 4px; font-size: 0.82rem; font-weight: 600; color: var(--color-accent); }
.qa-quote { margin: 8px 0 6px; padding: 6px 12px; border-left: 3px solid var(--border-color-accent);
            background: var(--background-fill-secondary); border-radius: 0 6px 6px 0; }
.qa-meta { font-size: 0.84rem; color: var(--body-text-color-subdued); }
.qa-meta a { color: var(--link-text-color); }
mark.qa-answer { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; font-weight: 600; }
.qa-cited { background: rgba(99, 102, 241, 0.12); border-radius: 3px; }
details.qa-support, details.qa-article { margin-top: 6px; }
details > summary { cursor: pointer; font-size: 0.86rem; color: var(--link-text-color); user-select: none; }
details.qa-others > summary { font-size: 0.92rem; font-weight: 600; padding: 4px 0; }
.qa-others-list { display: flex; flex-direction: column; gap: 8px; margin-top: 6px; }
.qa-passage, .qa-article-text { white-space: pre-wrap; font-size: 0.9rem; padding: 10px 12px; margin-top: 6px;
           border-radius: 8px; background: var(--background-fill-secondary); }
.qa-article-text { max-height: 340px; overflow-y: auto; }
.qa-article-text.qa-article-full { max-height: 560px; }
table.qa-scores { margin-top: 8px; font-size: 0.82rem; border-collapse: collapse; }
table.qa-scores th, table.qa-scores td { padding: 2px 12px 2px 0; text-align: left; border: none; }
table.qa-scores th { color: var(--body-text-color-subdued); font-weight: 500; }
.qa-actions { display: flex; flex-wrap: wrap; align-items: center; gap: 6px 12px; margin-top: 10px;
              padding-top: 8px; border-top: 1px solid var(--border-color-primary); font-size: 0.85rem;
              color: var(--body-text-color-subdued); }
.qa-actions button { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 2px 10px;
                     background: var(--background-fill-primary); cursor: pointer; font-size: 0.85rem; }
.qa-actions button:hover { border-color: var(--color-accent); }
.qa-actions button.qa-pressed { background: var(--color-accent-soft); border-color: var(--color-accent); }
.qa-rate { display: inline-flex; align-items: center; gap: 6px; }
.qa-icon { display: block; fill: none; stroke: currentColor; stroke-width: 2; stroke-linecap: round; stroke-linejoin: round; }
.qa-flip { transform: scaleY(-1); }
.qa-thanks { color: var(--color-accent); font-weight: 600; }
.qa-nothing { font-weight: 600; }
.qa-error { color: var(--error-text-color); }
.qa-status { padding: 10px 12px; border-radius: 8px; background: var(--background-fill-secondary); }
.qa-status ul { margin: 6px 0 0 18px; }
.qa-question { white-space: pre-wrap; }
#qa-chat button.example { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 8px 14px;
                          background: var(--background-fill-primary); }
#qa-chat button.example:hover { border-color: var(--color-accent); }
table.qa-articles { width: 100%; border-collapse: collapse; font-size: 0.92rem; border: none !important; }
table.qa-articles th { text-align: left; font-weight: 600; color: var(--body-text-color-subdued); padding: 6px 8px; }
table.qa-articles td { padding: 7px 8px; vertical-align: top; }
table.qa-articles th, table.qa-articles td { border: none !important;
                       border-bottom: 1px solid var(--border-color-primary) !important; }
table.qa-articles .qa-num { text-align: right; }
.qa-file-date { color: var(--body-text-color-subdued); }
.qa-nobreak { white-space: nowrap; }
#qa-comment-row { gap: 6px; }
#qa-chat .message-row.bot-row .message.bot { border: none; background: transparent; padding: 0; }
#qa-ask-row { flex-wrap: nowrap; }
#qa-ask-row button { flex: none; }
@media (max-width: 640px) {
  #qa-header { padding: 0 2px 2px; margin-bottom: 0; border-bottom: none; }
  #qa-header h1 { font-size: 1.1rem; }
  #qa-header p { display: none; }
  #qa-chat { height: calc(100svh - 210px) !important; min-height: 220px !important; }
  #qa-chat .bubble-wrap { padding-left: 0; padding-right: 0; }
  #qa-chat .message-row.bot-row, #qa-chat .message-row.bot-row .message.bot { max-width: 100% !important; margin-left: 0; }
  #qa-ask-row { gap: 6px; }
  #qa-ask-row button { min-width: 0 !important; padding: 0 14px; }
  #qa-new-chat { display: none; }  /* the chat's own clear button does the same */
  #qa-question { padding: 6px 8px; }
  .qa-card { padding: 10px 10px; }
  .qa-quote { padding: 4px 8px; }
  table.qa-articles th:nth-child(2), table.qa-articles td:nth-child(2) { display: none; }
}
"""

# - The page frame's style (outside the app's content, where Gradio's css option cannot reach).
# - Opening a "whole article" panel scrolls its text box to the cited sentence.
# - A new reply opens at its top (Gradio's own autoscroll is off): the chat scrolls so the question and
#   the start of the answer are in view; a new question scrolls to the bottom, where it appears.
# - Copy and vote buttons live inside chat messages, whose HTML keeps no event handlers, so one
#   listener handles them: Copy puts the button's plain text on the clipboard; a vote goes to the
#   server through a hidden textbox and button.
HEAD = """
<style>
/* Gradio scopes the css option inside the app's content, so the page frame is styled here. */
.gradio-container { max-width: 1080px !important; width: 100% !important; margin: 0 auto !important; }
@media (max-width: 640px) { .gradio-container .main.fillable { padding: 4px 6px !important; } }
</style>
<script>
(() => {
  const scroller = (node) => {
    for (let el = node.parentElement; el; el = el.parentElement) {
      const style = getComputedStyle(el);
      if (/(auto|scroll)/.test(style.overflowY) && el.scrollHeight > el.clientHeight) return el;
    }
    return null;
  };
  const seen = { replies: 0, questions: 0 };
  const followChat = () => {
    const chat = document.getElementById("qa-chat");
    if (!chat) return;
    const replies = chat.querySelectorAll(".qa-reply"), questions = chat.querySelectorAll(".qa-question");
    if (replies.length > seen.replies && replies.length) {
      const reply = replies[replies.length - 1], box = scroller(reply);
      const question = questions[questions.length - 1];
      if (box) {
        const top = box.getBoundingClientRect().top;
        const replyTop = reply.getBoundingClientRect().top;
        const questionTop = question ? question.getBoundingClientRect().top : replyTop;
        const anchor = replyTop - questionTop < box.clientHeight / 3 ? questionTop : replyTop;
        box.scrollTop += anchor - top - 12;
      }
    } else if (questions.length > seen.questions) {
      const box = scroller(questions[questions.length - 1]);
      if (box) box.scrollTop = box.scrollHeight;
    }
    seen.replies = replies.length;
    seen.questions = questions.length;
  };
  new MutationObserver(() => requestAnimationFrame(followChat))
    .observe(document.documentElement, { childList: true, subtree: true });

  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  };
  const sendVote = (value) => {
    const box = document.querySelector("#qa-vote-target textarea, #qa-vote-target input");
    const send = document.getElementById("qa-vote-send");
    if (!box || !send) return;
    box.value = value;
    box.dispatchEvent(new Event("input", { bubbles: true }));
    setTimeout(() => send.click(), 0);
  };
  document.addEventListener("click", (event) => {
    const copyButton = event.target.closest("button.qa-copy");
    if (copyButton) {
      copy(copyButton.value).then(() => {
        copyButton.textContent = "Copied ✓";
        setTimeout(() => { copyButton.textContent = "Copy"; }, 1500);
      });
      return;
    }
    const voteButton = event.target.closest("button.qa-vote");
    if (!voteButton) return;
    const actions = voteButton.closest(".qa-actions");
    const undo = voteButton.classList.contains("qa-pressed");
    actions.querySelectorAll("button.qa-vote").forEach((b) => b.classList.remove("qa-pressed"));
    if (!undo) voteButton.classList.add("qa-pressed");
    actions.querySelector(".qa-thanks").hidden = undo;
    sendVote(undo ? voteButton.value.replace(/:(up|down)$/, ":none") : voteButton.value);
  });

  document.addEventListener("toggle", (event) => {
    const panel = event.target;
    if (!(panel instanceof HTMLDetailsElement) || !panel.open || !panel.classList.contains("qa-article")) return;
    const sentence = panel.querySelector(".qa-cited");
    const box = panel.querySelector(".qa-article-text");
    if (sentence && box) box.scrollTop = sentence.offsetTop - box.offsetTop - box.clientHeight / 3;
  }, true);
})();
</script>
"""
