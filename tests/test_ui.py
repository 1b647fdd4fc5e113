"""What the chat shows, built from Response records without models or a server (qa_bot/render.py)."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from qa_bot.render import (
    ARTICLE_WINDOW_CHARS,
    ArticleRow,
    answer_cards,
    card_plain_text,
    confidence_label,
    highlight,
    render_article,
    render_article_table,
    render_question,
    render_response,
)
from qa_bot.types import Answer, ArticleInfo, Citation, Passage, Response, Retrieved

ARTICLE = (
    "Bases <b>today</b>\n\n"
    "The Coalition consolidated its presence in a few large bases: Erbil and Al-Assad Air Bases, "
    "as well as Camp Taji. Training of Iraqi forces has been suspended."
)
ARTICLE_ID = "a1"


def at(text: str) -> tuple[int, int]:
    start = ARTICLE.index(text)
    return start, start + len(text)


def make_response(
    answers: list[tuple[str, str]],
    url: str | None = "https://example.org/story?a=1&b=2",
    roles: list[str] | None = None,
) -> Response:
    """A response over ARTICLE with one answer per (answer text, cited sentence text)."""
    passage = Passage(f"{ARTICLE_ID}:0", ARTICLE_ID, 0, 0, len(ARTICLE), ARTICLE, 0, 2)
    info = ArticleInfo(ARTICLE_ID, "Bases <b>today</b>", "Kurdistan 24", "bases.txt", url, "2020-05-12")
    retrieved = Retrieved(passage, info, score=0.0328, rank=0, dense_score=0.612, bm25_score=7.25)
    built = []
    for n, (answer_text, sentence_text) in enumerate(answers):
        sentence, span = at(sentence_text), at(answer_text)
        citation = Citation(
            ARTICLE_ID, info.title, info.source, url, info.date, passage.passage_id,
            sentence_text, *sentence, *span, answer_text,
        )  # fmt: skip
        role = roles[n] if roles else ("answer" if n == 0 else "alternative")
        built.append(Answer(answer_text, 0.91 - 0.5 * n, (citation,), retrieved, role=role))
    return Response("Which bases?", built, [retrieved], 12.0, "Which bases?")


def article_text(article_id: str) -> str | None:
    return ARTICLE if article_id == ARTICLE_ID else None


def visible_text(markup: str) -> str:
    """Roughly what a browser shows: tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<[^>]+>", "", markup.replace("<br>", "\n")))


SENTENCE = (
    "The Coalition consolidated its presence in a few large bases: Erbil and Al-Assad Air Bases, as well as Camp Taji."
)


def test_highlight_marks_sentence_and_answer_and_escapes_everything() -> None:
    text = "a <i>b</i> c. Next"
    marked = highlight(text, offset=100, sentence=(100, 113), answers=[(102, 110)])
    assert marked == (
        '<span class="qa-cited">a </span>'
        '<span class="qa-cited"><mark class="qa-answer">&lt;i&gt;b&lt;/i&gt;</mark></span>'
        '<span class="qa-cited"> c.</span> Next'
    )


def test_highlight_ignores_ranges_outside_the_text() -> None:
    assert highlight("plain", offset=50, sentence=(0, 10)) == "plain"


def cards_of(markup: str) -> list[str]:
    return re.findall(r'<section class="qa-card[^"]*">.*?</section>', markup)


def test_list_answer_is_one_card_with_every_item_marked_in_one_quote() -> None:
    response = make_response(
        [("Erbil and Al-Assad Air Bases", SENTENCE), ("Camp Taji", SENTENCE)], roles=["answer", "list_item"]
    )
    markup = render_response(response, article_text, "r1")

    [card] = cards_of(markup)
    assert 'class="qa-card qa-primary"' in card
    assert [visible_text(t) for t in re.findall(r'<span class="qa-answer-text">(.*?)</span></li>', card)] == [
        "Erbil and Al-Assad Air Bases",
        "Camp Taji",
    ]
    [quote] = re.findall(r'<blockquote class="qa-quote">(.*?)</blockquote>', markup)
    assert re.findall(r"<mark[^>]*>(.*?)</mark>", quote) == ["Erbil and Al-Assad Air Bases", "Camp Taji"]
    assert visible_text(quote) == SENTENCE
    assert "answers found" not in markup and "Other possible answers" not in markup
    assert "likely 91%" in markup
    assert "Bases &lt;b&gt;today&lt;/b&gt;" in markup and "<b>today</b>" not in markup
    assert 'href="https://example.org/story?a=1&amp;b=2"' in markup
    assert "2020-05-12" in markup and "Kurdistan 24" in markup
    # Support view: scores and the whole article with the sentence marked.
    for score in ("0.612", "7.25", "0.0328", "0.910"):
        assert score in markup
    assert markup.count('<details class="qa-article">') == 1
    assert "Training of Iraqi forces has been suspended." in markup


def test_alternatives_are_collapsed_under_other_possible_answers() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Erbil and Al-Assad Air Bases", SENTENCE)])
    markup = render_response(response, article_text, "r1")
    primary, alternatives = markup.split('<details class="qa-others">')
    assert "Camp Taji" in primary and "Erbil" not in visible_text(primary.split("qa-quote")[0])
    assert alternatives.startswith("<summary>Other possible answers (1)</summary>")
    assert 'class="qa-card qa-alternative"' in alternatives
    assert "unsure 41%" in alternatives


def test_each_card_votes_for_itself_and_copies_plain_text_with_its_citations() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Erbil and Al-Assad Air Bases", SENTENCE)])
    markup = render_response(response, article_text, "r1")
    votes = re.findall(r'class="qa-vote" value="([^"]*)"', markup)
    assert votes == ["r1:0:up", "r1:0:down", "r1:1:up", "r1:1:down"]

    copied = html.unescape(re.findall(r'class="qa-copy" value="([^"]*)"', markup)[0])
    assert copied == (
        "Q: Which bases?\n"
        "A: Camp Taji [1] (likely 91%)\n"
        f"[1] “{SENTENCE}” (Bases <b>today</b>, Kurdistan 24, 2020-05-12, https://example.org/story?a=1&b=2)"
    )
    assert "<" not in copied.replace("<b>", "").replace("</b>", "")  # plain text, not markup


def test_copy_numbers_each_cited_sentence_once() -> None:
    response = make_response(
        [("Erbil and Al-Assad Air Bases", SENTENCE), ("Camp Taji", SENTENCE)], roles=["answer", "list_item"]
    )
    [card] = answer_cards(response)
    text = card_plain_text(response.question, card)
    assert text.splitlines()[1] == "A: Erbil and Al-Assad Air Bases [1]; Camp Taji [1] (likely 91%)"
    assert len(text.splitlines()) == 3


@pytest.mark.parametrize(
    ("score", "label"), [(0.87, "likely 87%"), (0.70, "likely 70%"), (0.6, "possible 60%"), (0.41, "unsure 41%")]
)
def test_confidence_is_shown_in_words_and_number(score: float, label: str) -> None:
    assert confidence_label(score) == label


def test_agreeing_articles_are_shown() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    assert "found in" not in render_response(response, article_text, "r1")
    response.answers[0] = replace(response.answers[0], article_count=3)
    assert "found in 3 articles" in render_response(response, article_text, "r1")


def test_unsafe_link_schemes_are_not_linked() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)], url="javascript:alert(1)"), article_text, "r")
    assert "javascript:" not in markup and "<a " not in markup


def test_no_answer_says_so_and_shows_the_closest_passages() -> None:
    markup = render_response(make_response([]), article_text, "r1")
    assert "I couldn't find this in the articles." in visible_text(markup)
    assert "The closest passages I looked at" in markup
    assert "Erbil and Al-Assad Air Bases" in markup
    assert "qa-answer-text" not in markup and "qa-vote" not in markup


def test_article_gone_from_the_index_keeps_the_passage_but_not_the_whole_article() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)]), lambda article_id: None, "r1")
    assert '<div class="qa-passage">' in markup
    assert "qa-article" not in markup


def test_read_as_shows_the_question_as_the_reader_used_it() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    response.question, response.resolved_question = "Which did he name?", "Which did Col. Caggins name?"
    assert "Read as: “Which did Col. Caggins name?”" in render_response(response, article_text, "r1")
    response.resolved_question = response.question
    assert "Read as" not in render_response(response, article_text, "r1")


def test_hyphenated_title_words_are_kept_whole() -> None:
    markup = render_response(make_response([("Erbil and Al-Assad Air Bases", SENTENCE)]), article_text, "r1")
    assert '<span class="qa-nobreak">Al-Assad</span>' in markup


def test_user_text_cannot_inject_markup_or_markdown() -> None:
    question = '<script>window.__pwned=1</script> <img src=x onerror="window.__pwned=1"> [x](http://e.invalid)'
    markup = render_question(question)
    assert "<script" not in markup and "<img" not in markup
    assert visible_text(markup) == question
    assert "\n" not in render_question("line one\nline two")  # Gradio's dedent never sees raw newlines


def test_long_article_is_shown_as_a_window_around_the_cited_sentence() -> None:
    filler = "Filler sentence. " * (ARTICLE_WINDOW_CHARS // 8)
    text = filler + "The cited sentence." + filler
    start = text.index("The cited sentence.")
    markup = render_article(text, (start, start + len("The cited sentence.")))
    assert '<span class="qa-cited">The cited sentence.</span>' in markup
    assert markup.startswith("… ") and markup.endswith(" …")
    assert len(visible_text(markup)) < len(text)


def row(title: str, date: str | None, file_date: str | None = None, source: str = "Daily") -> ArticleRow:
    return ArticleRow(title.lower(), title, source, f"{title}.txt", 3, date, file_date)


def titles_in(markup: str) -> list[str]:
    return [visible_text(t) for t in re.findall(r'<td class="qa-title">(.*?)</td>', markup)]


def test_article_table_is_dated_sorted_newest_first_and_searchable() -> None:
    rows = [
        row("Beta", "2020-05-12"),
        row("Alpha", "2020-05-12"),
        row("Gamma", None, "2026-11-27"),
        row("Delta", "2019-01-02", source="Harbour Post"),
        row("Undated", None),
    ]
    markup = render_article_table(rows)
    assert titles_in(markup) == ["Gamma", "Alpha", "Beta", "Delta", "Undated"]
    assert "2026-11-27 (file)" in markup and "2020-05-12" in markup
    assert titles_in(render_article_table(rows, "harbour")) == ["Delta"]
    assert titles_in(render_article_table(rows, "2020 beta")) == ["Beta"]
    assert "No article matches “zzz”" in render_article_table(rows, "zzz")
