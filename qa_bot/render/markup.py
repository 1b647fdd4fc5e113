"""Markup shared by the replies and the Articles tab: escaped text, confidence in words, articles with marks,
and the links into the reading pane."""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence

CLOSEST_PASSAGES = 3  # passages shown when there is no answer
ARTICLE_WINDOW_CHARS = 40_000  # longer articles are shown as this much text around the cited sentence
QUESTION_BUBBLE_CHARS = 1_000  # a longer question is shown cut in the user's own bubble
APP_TITLE = "Article Q&A"

# Confidence in words by whole percent, highest band first: the one place these thresholds live.
CONFIDENCE_WORDS = ((70, "likely"), (45, "possible"), (0, "unsure"))


def confidence_percent(score: float) -> int:
    """The one rounding of a confidence, shared by its word and its number (0.695 is 70%, so "likely")."""
    return int(score * 100 + 0.5)


def confidence_word(score: float) -> str:
    percent = confidence_percent(score)
    return next(word for floor, word in CONFIDENCE_WORDS if percent >= floor)


def confidence_label(score: float) -> str:
    """'likely 87%', 'unsure 41%': the band's word, then the calibrated probability."""
    return f"{confidence_word(score)} {confidence_percent(score)}%"


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


def _ranked(rank: int | None, score: float | None, digits: int) -> str:
    return "—" if rank is None else f"#{rank + 1} · {_score(score, digits)}"


def open_target(article_id: str, start: int, end: int, answers: Sequence[tuple[int, int]] = ()) -> str:
    """What a link into the reading pane carries: the article and the range to mark and scroll to."""
    spans = ",".join(f"{a}-{b}" for a, b in answers)
    return f"{article_id}|{start}|{end}|{spans}"


def parse_open_target(target: str) -> tuple[str, tuple[int, int], tuple[tuple[int, int], ...]] | None:
    """The inverse of ``open_target``; None for anything malformed."""
    parts = (target or "").split("|")
    if len(parts) != 4 or not parts[0]:
        return None
    try:
        spans = tuple(tuple(map(int, span.split("-", 1))) for span in parts[3].split(",") if span)
        return parts[0], (int(parts[1]), int(parts[2])), spans  # type: ignore[return-value]
    except ValueError:
        return None


def _open_button(target: str, label: str, hint: str, kind: str = "qa-open") -> str:
    return (
        f'<button type="button" class="{kind}" value="{_attribute(target)}" title="{_attribute(hint)}">{label}</button>'
    )
