"""The chat's replies: answer cards with numbered citations, the support view, feedback controls, the reading pane,
and the same reply as plain text (Copy, the CLI) and Markdown (Export)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from qa_bot.render.markup import (
    APP_TITLE,
    CLOSEST_PASSAGES,
    QUESTION_BUBBLE_CHARS,
    _attribute,
    _open_button,
    _ranked,
    _text,
    _title,
    _web_url,
    confidence_label,
    confidence_word,
    highlight,
    meta_line,
    open_target,
    render_article,
)
from qa_bot.types import Answer, ArticleInfo, Citation, Response, Retrieved

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
    """One cited sentence with every answer of a card found in it, and its number in the reply."""

    citation: Citation
    spans: tuple[tuple[int, int], ...]
    number: int = 0

    @property
    def key(self) -> tuple[str, int, int]:
        return self.citation.article_id, self.citation.sentence_start, self.citation.sentence_end

    @property
    def target(self) -> str:
        citation = self.citation
        return open_target(citation.article_id, citation.sentence_start, citation.sentence_end, self.spans)


def _quotes(card: AnswerCard) -> list[_Quote]:
    """The card's citations, one per distinct sentence, in order; list items from one sentence share it."""
    quotes: dict[tuple[str, int, int], _Quote] = {}
    for answer in card.answers:
        for citation in answer.citations:
            quote = _Quote(citation, ((citation.answer_start, citation.answer_end),))
            found = quotes.get(quote.key)
            quotes[quote.key] = replace(found, spans=(*found.spans, *quote.spans)) if found else quote
    return list(quotes.values())


def numbered_quotes(cards: Sequence[AnswerCard]) -> list[list[_Quote]]:
    """Each card's quotes numbered [1], [2], ... through the reply; a sentence cited twice keeps its number."""
    numbers: dict[tuple[str, int, int], int] = {}
    numbered = []
    for card in cards:
        quotes = _quotes(card)
        for quote in quotes:
            numbers.setdefault(quote.key, len(numbers) + 1)
        numbered.append([replace(quote, number=numbers[quote.key]) for quote in quotes])
    return numbered


def _marker(quote: _Quote) -> str:
    return _open_button(
        quote.target, f"[{quote.number}]", "Open the article at this sentence", kind="qa-open qa-cite-mark"
    )


def _answer_markers(answer: Answer, quotes: Sequence[_Quote]) -> str:
    keys = {(c.article_id, c.sentence_start, c.sentence_end) for c in answer.citations}
    return "".join(_marker(quote) for quote in quotes if quote.key in keys)


def _card_title(card: AnswerCard, quotes: Sequence[_Quote]) -> str:
    if len(card.answers) == 1:
        headline = card.headline
        return (
            f'<div class="qa-answer-line"><span class="qa-answer-text">{_title(headline.text)}</span>'
            f"{_answer_markers(headline, quotes)}</div>"
        )
    items = "".join(
        f'<li><span class="qa-answer-text">{_title(a.text)}</span>{_answer_markers(a, quotes)}</li>'
        for a in card.answers
    )
    return f'<ul class="qa-items">{items}</ul>'


def _quote_block(quote: _Quote) -> str:
    citation = quote.citation
    sentence = highlight(citation.sentence, citation.sentence_start, None, quote.spans)
    return f'<blockquote class="qa-quote">{_marker(quote)} {sentence}</blockquote>'


def _source_list(quotes: Sequence[_Quote]) -> str:
    """Compact sources: [n] title · source · date · original link, one line each."""
    items = "".join(
        f"<li>{_marker(q)} {meta_line(q.citation.title, q.citation.source, q.citation.date, q.citation.url)}</li>"
        for q in quotes
    )
    return f'<ol class="qa-sources">{items}</ol>'


def _agreement(card: AnswerCard) -> str:
    articles = max(answer.article_count for answer in card.answers)
    return f'<span class="qa-agree">found in {articles} articles</span>' if articles > 1 else ""


# Thumb icons drawn inline, so they show without an emoji font (Lucide's "thumbs-up", ISC licence).
# Gradio's sanitiser drops the viewBox; the page script puts it back (ICON_VIEWBOX).
ICON_VIEWBOX = "0 0 24 24"
_THUMB_UP = (
    f'<svg class="qa-icon" viewBox="{ICON_VIEWBOX}" width="16" height="16"><path d="M7 10v12"/>'
    '<path d="M15 5.88 14 10h5.83'
    "a2 2 0 0 1 1.92 2.56l-2.33 8A2 2 0 0 1 17.5 22H4a2 2 0 0 1-2-2v-8a2 2 0 0 1 2-2h2.76a2 2 0 0 0 1.79-1.11L12 2"
    'a3.13 3.13 0 0 1 3 3.88Z"/></svg>'
)
_THUMB_DOWN = _THUMB_UP.replace('class="qa-icon"', 'class="qa-icon qa-flip"')

FEEDBACK_REASONS = ("wrong answer", "right answer is elsewhere", "should have answered", "wrong passage")


def _feedback_form(target: str) -> str:
    """Shown after a vote: a reason to pick and an optional comment, sent together."""
    options = "".join(f'<option value="{_attribute(r)}">{_text(r)}</option>' for r in FEEDBACK_REASONS)
    return (
        '<div class="qa-feedback" hidden>'
        '<span class="qa-thanks">Thanks, your vote is saved.</span>'
        '<select class="qa-reason" title="What was wrong?">'
        f'<option value="">Reason (optional)</option>{options}</select>'
        '<input type="text" class="qa-comment" placeholder="Comment (optional)" title="Your comment">'
        f'<button type="button" class="qa-send" value="{_attribute(target)}">Send</button>'
        '<span class="qa-sent"></span>'
        "</div>"
    )


def _actions(target: str, copy_text: str, up_hint: str, down_hint: str) -> str:
    return (
        '<div class="qa-actions">'
        f'<button type="button" class="qa-copy" value="{_attribute(copy_text)}"'
        ' title="Copy as plain text with its sources">Copy</button>'
        '<span class="qa-rate">Helpful?'
        f'<button type="button" class="qa-vote" value="{_attribute(target)}:up" title="{up_hint}">'
        f"{_THUMB_UP}</button>"
        f'<button type="button" class="qa-vote" value="{_attribute(target)}:down" title="{down_hint}">'
        f"{_THUMB_DOWN}</button>"
        "</span>"
        f"{_feedback_form(target)}"
        "</div>"
    )


def _confidence(score: float) -> str:
    return (
        f'<span class="qa-confidence qa-{confidence_word(score)}"'
        ' title="calibrated probability that this answer is right">'
        f"{confidence_label(score)}</span>"
    )


def render_card(card: AnswerCard, quotes: Sequence[_Quote], reply_id: str, question: str) -> str:
    kind = "qa-primary" if card.is_primary else "qa-alternative"
    actions = _actions(f"{reply_id}:{card.index}", card_plain_text(question, card), "Good answer", "Wrong answer")
    return (
        f'<section class="qa-card {kind}"><div class="qa-card-head">{_card_title(card, quotes)}'
        f"{_confidence(card.headline.score)}</div>{_agreement(card)}"
        f"{''.join(_quote_block(q) for q in quotes)}{_source_list(quotes)}{actions}</section>"
    )


def _answer_line(answers: Sequence[Answer], refs: Callable[[Citation], int]) -> str:
    parts = []
    for answer in answers:
        numbers = dict.fromkeys(refs(c) for c in answer.citations)
        parts.append(f"{answer.text} {''.join(f'[{n}]' for n in numbers)}".strip())
    return "; ".join(parts)


def plain_text(
    question: str, cards: Sequence[AnswerCard], notices: Sequence[str] = (), closest: Sequence[Retrieved] = ()
) -> str:
    """The reply as plain text (Copy and the CLI): the question, each answer with its source numbers, the sources;
    for no answer, the ``closest`` passages."""
    sources: dict[tuple[str, int], Citation] = {}  # insertion order gives the source numbers

    def ref(citation: Citation) -> int:
        key = (citation.article_id, citation.sentence_start)
        sources.setdefault(key, citation)
        return list(sources).index(key) + 1

    lines = [f"Question: {question}", *(f"note: {notice}" for notice in notices)]
    if not cards:
        lines.append(f"Answer: {NO_ANSWER}")
        lines += [f"closest: {r.article.title} — “{_snippet(r.passage.text, 120)}”" for r in closest]
    for card in cards:
        label = "Answer" if card.is_primary else "Other possible answer"
        agreeing = f", found in {card.headline.article_count} articles" if card.headline.article_count > 1 else ""
        lines.append(f"{label}: {_answer_line(card.answers, ref)} ({confidence_label(card.headline.score)}{agreeing})")
    for number, citation in enumerate(sources.values(), start=1):
        where = ", ".join(
            part for part in (citation.title, citation.source, citation.date, _web_url(citation.url)) if part
        )
        lines.append(f"[{number}] “{' '.join(citation.sentence.split())}” ({where})")
    return "\n".join(lines)


def card_plain_text(question: str, card: AnswerCard) -> str:
    """What a card's Copy button copies."""
    return plain_text(question, [replace(card, index=0)])


def response_plain_text(response: Response) -> str:
    """The whole reply as plain text: what the CLI prints and a no-answer's Copy copies."""
    closest = response.retrieved[:CLOSEST_PASSAGES]
    return plain_text(response.question, answer_cards(response), response.notices, closest)


# ---------------------------------------------------------------- what the bot read


def _passage_rows(response: Response) -> str:
    rows = []
    for r in response.retrieved:
        passage, article = r.passage, r.article
        where = _open_button(
            open_target(passage.article_id, passage.start, passage.end),
            _title(article.title),
            "Open the article at this passage",
        )
        date = f" · {_text(article.date)}" if article.date else ""
        rows.append(
            f"<tr><td>{r.rank + 1}</td><td>{where}{date}"
            f'<div class="qa-snippet">{_text(" ".join(passage.text.split()))}</div></td>'
            f"<td>{_ranked(r.dense_rank, r.dense_score, 3)}</td><td>{_ranked(r.bm25_rank, r.bm25_score, 2)}</td>"
            f"<td>{_ranked(r.rank, r.score, 4)}</td></tr>"
        )
    return "".join(rows)


_SHOWN_AS = {"answer": "shown: the answer", "list_item": "shown: a list item", "alternative": "shown: other answer"}


def _candidate_rows(response: Response) -> str:
    rows = []
    for answer in [*response.answers, *response.withheld]:
        status = f"withheld: {answer.withheld_because}" if answer.withheld_because else _SHOWN_AS[answer.role]
        read_from = "—"
        if answer.citations:
            c = answer.citations[0]
            read_from = _open_button(
                open_target(c.article_id, c.sentence_start, c.sentence_end, [(c.answer_start, c.answer_end)]),
                _title(c.title),
                "Open the article at this sentence",
            )
        kind = "qa-withheld" if answer.withheld_because else "qa-shown"
        rows.append(
            f'<tr class="{kind}"><td class="qa-candidate">{_text(answer.text)}</td>'
            f"<td>{confidence_label(answer.score)}</td><td>{_text(status)}</td><td>{read_from}</td></tr>"
        )
    return "".join(rows)


def render_support(response: Response) -> str:
    """Everything the reader read for this reply: the passages with their retrieval ranks and scores, and every
    candidate answer, shown or withheld, with its confidence and why it was withheld."""
    candidates = len(response.answers) + len(response.withheld)
    passages = len(response.retrieved)
    return (
        f'<details class="qa-support"><summary>What I read: {passages} passage{"s" if passages != 1 else ""}, '
        f"{candidates} candidate answer{'s' if candidates != 1 else ''}</summary>"
        '<div class="qa-support-body"><div class="qa-table-title">Passages, best first</div>'
        '<table class="qa-scores qa-passages"><thead><tr><th>#</th><th>Passage</th><th>Dense (cosine)</th>'
        f"<th>BM25</th><th>Fused (RRF)</th></tr></thead><tbody>{_passage_rows(response)}</tbody></table>"
        '<div class="qa-table-title">Candidate answers, best first</div>'
        '<table class="qa-scores qa-candidates"><thead><tr><th>Answer</th><th>Confidence</th><th>Shown?</th>'
        f"<th>Read from</th></tr></thead><tbody>{_candidate_rows(response)}</tbody></table></div></details>"
    )


# ---------------------------------------------------------------- replies

NO_ANSWER = "I couldn't find this in the articles."


def _snippet(text: str, chars: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars].rsplit(" ", 1)[0] + " …"


def _no_answer(response: Response, reply_id: str) -> str:
    parts = [f'<div class="qa-nothing">{_text(NO_ANSWER)}</div>']
    closest = response.retrieved[:CLOSEST_PASSAGES]
    if closest:
        parts.append('<div class="qa-note">The closest passages I looked at:</div>')
    for retrieved in closest:
        passage, article = retrieved.passage, retrieved.article
        snippet = _snippet(passage.text, 220)
        read = _open_button(
            open_target(passage.article_id, passage.start, passage.end), "Read", "Open the article at this passage"
        )
        parts.append(
            '<section class="qa-card qa-closest">'
            f'<div class="qa-passage">{_text(snippet)}</div>'
            f"{meta_line(article.title, article.source, article.date, article.url)}{read}</section>"
        )
    parts.append(
        _actions(f"{reply_id}:0", response_plain_text(response), "Right, it is not there", "It should have answered")
    )
    return "".join(parts)


def _differ(response: Response, cards: Sequence[AnswerCard]) -> str:
    """'Articles differ:' each answer with its article and date, newest first."""
    if not response.articles_differ:
        return ""
    heads = [card.headline for card in cards if card.headline.citations]
    heads.sort(key=lambda a: a.citations[0].date or "", reverse=True)
    items = "".join(
        f"<li><strong>{_title(a.text)}</strong> — {_title(a.citations[0].title)}"
        f"{' · ' + _text(a.citations[0].date) if a.citations[0].date else ''} ({confidence_label(a.score)})</li>"
        for a in heads
    )
    return f'<div class="qa-differ"><div class="qa-differ-head">Articles differ:</div><ul>{items}</ul></div>'


def _read_as(response: Response) -> str:
    """How the question was read, when that differs from what was asked (shortened, or a follow-up resolved)."""
    used = response.resolved_question
    if not used or used == response.question:
        return ""
    return f'<div class="qa-note qa-read-as">Read as: “{_text(used)}”</div>'


LABEL_CHARS = 300  # a message's accessible label: what a screen reader announces for it


def reply_label(response: Response) -> str:
    """A short plain-text summary of the reply for its accessible label."""
    cards = answer_cards(response)
    if not cards:
        return f"Answer: {NO_ANSWER}"[:LABEL_CHARS]
    head = cards[0].headline
    answers = "; ".join(a.text for a in cards[0].answers)
    where = f" From {head.citations[0].title}." if head.citations else ""
    others = f" {len(cards) - 1} other possible answer(s)." if len(cards) > 1 else ""
    label = f"Answer: {answers} ({confidence_label(head.score)}).{where}{others}"
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def render_response(response: Response, reply_id: str) -> str:
    """The assistant's chat message for one Response.

    The first card is the answer (with its list items); alternatives are collapsed under
    "Other possible answers", unless articles differ, when they are open. Citation markers
    and the support view's rows open the article in the reading pane. ``reply_id`` names
    this reply's cards for the vote buttons.
    """
    parts = [f'<span class="qa-label" hidden title="{_attribute(reply_label(response))}"></span>', _read_as(response)]
    parts.extend(f'<div class="qa-note">{_text(notice)}</div>' for notice in response.notices)
    cards = answer_cards(response)
    if not cards:
        parts.append(_no_answer(response, reply_id))
    else:
        parts.append(_differ(response, cards))
        primary, *alternatives = (
            render_card(card, quotes, reply_id, response.question)
            for card, quotes in zip(cards, numbered_quotes(cards), strict=True)
        )
        parts.append(primary)
        if alternatives:
            opened = " open" if response.articles_differ else ""
            parts.append(
                f'<details class="qa-others"{opened}><summary>Other possible answers ({len(alternatives)})</summary>'
                f'<div class="qa-others-list">{"".join(alternatives)}</div></details>'
            )
    parts.append(render_support(response))
    return '<div class="qa-reply">' + "".join(parts) + "</div>"


def render_reading_pane(
    info: ArticleInfo, text: str, sentence: tuple[int, int], answers: Sequence[tuple[int, int]]
) -> str:
    """The whole article for the reading pane, with the cited sentence (or passage) and the answers marked."""
    return (
        f'<div class="qa-reading">{meta_line(info.title, info.source, info.date, info.url)}'
        f'<div class="qa-pane-text">{render_article(text, sentence, answers)}</div></div>'
    )


def render_question(question: str) -> str:
    shown = question if len(question) <= QUESTION_BUBBLE_CHARS else question[:QUESTION_BUBBLE_CHARS] + " …"
    return f'<div class="qa-question">{_text(shown)}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-reply"><div class="qa-error">{_text(message)}</div></div>'


def render_saved(target: str, message: str) -> str:
    """Feedback confirmation; ``target`` names the card it belongs to, so the page script can show it there."""
    return f'<div class="qa-saved" title="{_attribute(target)}">{_text(message)}</div>'


# ---------------------------------------------------------------- export

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>#|])")


def conversation_markdown(replies: Sequence[str]) -> str:
    """The conversation as Markdown: each reply's plain text (``plain_text``), its questions as headings,
    its answers in bold and its numbered sources as a list; user and article text is escaped."""
    lines = [f"# {APP_TITLE}: conversation", ""]
    for reply in replies:
        for line in reply.splitlines():
            escaped = _MARKDOWN_SPECIAL.sub(r"\\\1", line)
            if line.startswith("Question: "):
                lines += [f"## {escaped[len('Question: ') :]}", ""]
            elif re.match(r"\[\d+\] ", line):
                lines.append(f"- {escaped}")
            else:
                lines += [f"**{escaped.split(':', 1)[0]}:**{escaped.split(':', 1)[1]}" if ":" in line else escaped, ""]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"
