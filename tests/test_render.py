"""What the chat shows, built from Response records without models or a server (qa_bot/render.py)."""

from __future__ import annotations

import html
import re
from dataclasses import replace

import pytest

from qa_bot.render import (
    ARTICLE_WINDOW_CHARS,
    FEEDBACK_REASONS,
    ICON_VIEWBOX,
    ArticleRow,
    answer_cards,
    card_plain_text,
    confidence_label,
    conversation_markdown,
    highlight,
    open_target,
    parse_open_target,
    render_article,
    render_article_table,
    render_question,
    render_response,
    reply_label,
    response_plain_text,
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
    markup = render_response(response, "r1")

    [card] = cards_of(markup)
    assert 'class="qa-card qa-primary"' in card
    assert [visible_text(t) for t in re.findall(r'<span class="qa-answer-text">(.*?)</span><button', card)] == [
        "Erbil and Al-Assad Air Bases",
        "Camp Taji",
    ]
    [quote] = re.findall(r'<blockquote class="qa-quote">(.*?)</blockquote>', markup)
    assert re.findall(r"<mark[^>]*>(.*?)</mark>", quote) == ["Erbil and Al-Assad Air Bases", "Camp Taji"]
    assert visible_text(quote) == f"[1] {SENTENCE}"
    assert "answers found" not in markup and "Other possible answers" not in markup
    assert "likely 91%" in markup
    assert "Bases &lt;b&gt;today&lt;/b&gt;" in markup and "<b>today</b>" not in markup
    assert 'href="https://example.org/story?a=1&amp;b=2"' in markup
    assert "2020-05-12" in markup and "Kurdistan 24" in markup
    # The answer and the quote carry the citation number that opens the article at that sentence.
    assert re.findall(r'class="qa-open qa-cite-mark"[^>]*>\[(\d)\]<', card) == ["1", "1", "1", "1"]
    [target] = set(re.findall(r'class="qa-open qa-cite-mark" value="([^"]*)"', card))
    assert parse_open_target(html.unescape(target)) == (
        ARTICLE_ID,
        at(SENTENCE),
        (at("Erbil and Al-Assad Air Bases"), at("Camp Taji")),
    )


def test_alternatives_are_collapsed_under_other_possible_answers() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Erbil and Al-Assad Air Bases", SENTENCE)])
    markup = render_response(response, "r1")
    primary, alternatives = markup.split('<details class="qa-others">')
    assert "Camp Taji" in primary and "Erbil" not in visible_text(primary.split("qa-quote")[0])
    assert alternatives.startswith("<summary>Other possible answers (1)</summary>")
    assert 'class="qa-card qa-alternative"' in alternatives
    assert "unsure 41%" in alternatives


def test_each_card_votes_for_itself_and_copies_plain_text_with_its_citations() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Erbil and Al-Assad Air Bases", SENTENCE)])
    markup = render_response(response, "r1")
    votes = re.findall(r'class="qa-vote" value="([^"]*)"', markup)
    assert votes == ["r1:0:up", "r1:0:down", "r1:1:up", "r1:1:down"]

    copied = html.unescape(re.findall(r'class="qa-copy" value="([^"]*)"', markup)[0])
    assert copied == (
        "Question: Which bases?\n"
        "Answer: Camp Taji [1] (likely 91%)\n"
        f"[1] “{SENTENCE}” (Bases <b>today</b>, Kurdistan 24, 2020-05-12, https://example.org/story?a=1&b=2)"
    )
    assert "<" not in copied.replace("<b>", "").replace("</b>", "")  # plain text, not markup


def test_copy_numbers_each_cited_sentence_once() -> None:
    response = make_response(
        [("Erbil and Al-Assad Air Bases", SENTENCE), ("Camp Taji", SENTENCE)], roles=["answer", "list_item"]
    )
    [card] = answer_cards(response)
    text = card_plain_text(response.question, card)
    assert text.splitlines()[1] == "Answer: Erbil and Al-Assad Air Bases [1]; Camp Taji [1] (likely 91%)"
    assert len(text.splitlines()) == 3


@pytest.mark.parametrize(
    ("score", "label"),
    [
        (0.87, "likely 87%"),
        (0.70, "likely 70%"),
        (0.695, "likely 70%"),  # one rounding: the word follows the number shown
        (0.6949, "possible 69%"),
        (0.702, "likely 70%"),
        (0.6, "possible 60%"),
        (0.41, "unsure 41%"),
    ],
)
def test_confidence_is_shown_in_words_and_number(score: float, label: str) -> None:
    assert confidence_label(score) == label


def test_agreeing_articles_are_shown() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    assert "found in" not in render_response(response, "r1")
    response.answers[0] = replace(response.answers[0], article_count=3)
    assert "found in 3 articles" in render_response(response, "r1")


def test_unsafe_link_schemes_are_not_linked() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)], url="javascript:alert(1)"), "r")
    assert "javascript:" not in markup and "<a " not in markup


def test_no_answer_says_so_shows_the_closest_passages_and_takes_a_vote() -> None:
    markup = render_response(make_response([]), "r1")
    assert "I couldn't find this in the articles." in visible_text(markup)
    assert "The closest passages I looked at" in markup
    assert "Erbil and Al-Assad Air Bases" in markup
    assert "qa-answer-text" not in markup
    assert re.findall(r'class="qa-vote" value="([^"]*)"', markup) == ["r1:0:up", "r1:0:down"]
    copied = html.unescape(re.findall(r'class="qa-copy" value="([^"]*)"', markup)[0])
    assert copied.splitlines()[:2] == ["Question: Which bases?", "Answer: I couldn't find this in the articles."]
    assert copied.splitlines()[2].startswith("closest: Bases <b>today</b> — “Bases <b>today</b> The Coalition")


def test_every_reply_offers_a_reason_and_a_comment_after_a_vote() -> None:
    for response in (make_response([("Camp Taji", SENTENCE)]), make_response([])):
        markup = render_response(response, "r1")
        form = re.findall(r'<div class="qa-feedback" hidden>(.*?)</div>', markup)[0]
        options = [visible_text(o) for o in re.findall(r"<option[^>]*>(.*?)</option>", form)]
        assert options[1:] == list(FEEDBACK_REASONS)
        assert 'class="qa-comment"' in form and 'class="qa-send" value="r1:0"' in form


def _support(markup: str) -> str:
    [support] = re.findall(r'<details class="qa-support">.*?</details>', markup)
    return support


def test_support_view_lists_every_passage_and_every_candidate_with_why_it_was_withheld() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    response.retrieved[0] = replace(response.retrieved[0], dense_rank=2, bm25_rank=0)
    response.withheld = [
        replace(make_response([("Erbil and Al-Assad Air Bases", SENTENCE)]).answers[0], score=0.2,
                role="alternative", withheld_because="below the answer threshold"),
    ]  # fmt: skip
    support = _support(render_response(response, "r1"))
    assert "1 passage, 2 candidate answers" in visible_text(support)
    passage_row = re.findall(r"<table class=\"qa-scores qa-passages\">.*?</table>", support)[0]
    for cell in ("#3 · 0.612", "#1 · 7.25", "#1 · 0.0328", "Training of Iraqi forces has been suspended."):
        assert cell in visible_text(passage_row)
    rows = [visible_text(r) for r in re.findall(r'<tr class="qa-(?:shown|withheld)">.*?</tr>', support)]
    assert rows[0].startswith("Camp Taji") and "likely 91%" in rows[0] and "shown: the answer" in rows[0]
    assert rows[1].startswith("Erbil") and "unsure 20%" in rows[1]
    assert "withheld: below the answer threshold" in rows[1]
    # Each row opens its article: the passage at the passage, a candidate at its sentence.
    targets = [parse_open_target(html.unescape(t)) for t in re.findall(r'class="qa-open" value="([^"]*)"', support)]
    assert targets[0] == (ARTICLE_ID, (0, len(ARTICLE)), ())
    assert targets[1] == (ARTICLE_ID, at(SENTENCE), (at("Camp Taji"),))


def test_a_no_answer_has_a_support_view_too() -> None:
    response = make_response([])
    assert "1 passage, 0 candidate answers" in visible_text(_support(render_response(response, "r1")))


SUSPENDED = "Training of Iraqi forces has been suspended."


def test_citations_are_numbered_through_the_reply_with_a_compact_source_list() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Iraqi forces", SUSPENDED)])
    markup = render_response(response, "r1")
    primary, alternative = cards_of(markup)
    assert "[1]" in visible_text(primary) and "[2]" not in visible_text(primary)
    assert "[2]" in visible_text(alternative)
    [sources] = re.findall(r'<ol class="qa-sources">(.*?)</ol>', primary)
    assert visible_text(sources) == "[1] Bases <b>today</b> · Kurdistan 24 · 2020-05-12 · open original"


def test_articles_that_differ_are_listed_newest_first() -> None:
    response = make_response([("Camp Taji", SENTENCE), ("Iraqi forces", SUSPENDED)])
    newer = replace(response.answers[1].citations[0], title="Update", date="2020-06-01")
    response.answers[1] = replace(response.answers[1], citations=(newer,))
    assert "Articles differ" not in render_response(response, "r1")
    response.articles_differ = True
    markup = render_response(response, "r1")
    [differ] = re.findall(r'<div class="qa-differ">.*?</ul></div>', markup)
    assert visible_text(differ) == (
        "Articles differ:Iraqi forces — Update · 2020-06-01 (unsure 41%)"
        "Camp Taji — Bases <b>today</b> · 2020-05-12 (likely 91%)"
    )
    assert '<details class="qa-others" open>' in markup  # the other side is not folded away


def test_each_message_has_a_short_plain_text_label() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    assert reply_label(response) == "Answer: Camp Taji (likely 91%). From Bases <b>today</b>."
    assert reply_label(make_response([])) == "Answer: I couldn't find this in the articles."
    long = make_response([("Camp Taji", SENTENCE)] * 1)
    long.answers[0] = replace(long.answers[0], text="x " * 400)
    assert len(reply_label(long)) <= 300
    assert f'title="{html.escape(reply_label(response), quote=True)}"' in render_response(response, "r1")


def test_icons_keep_their_view_box_in_the_markup() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)]), "r1")
    icons = re.findall(r"<svg[^>]*>", markup)
    assert icons and all(f'viewBox="{ICON_VIEWBOX}"' in icon for icon in icons)


def test_conversation_exports_as_markdown_with_its_citations() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    markdown = conversation_markdown([response_plain_text(response), response_plain_text(make_response([]))])
    lines = markdown.splitlines()
    assert lines[0] == "# Article Q&A: conversation"
    assert lines.count("## Which bases?") == 2
    assert "**Answer:** Camp Taji \\[1\\] (likely 91%)" in lines
    assert any(line.startswith("- \\[1\\] “The Coalition consolidated") and "Kurdistan 24" in line for line in lines)
    assert "Bases \\<b\\>today\\</b\\>" in markdown  # article text cannot become markup


def test_open_targets_round_trip_and_reject_junk() -> None:
    assert parse_open_target(open_target("a1", 3, 9, [(4, 6)])) == ("a1", (3, 9), ((4, 6),))
    assert parse_open_target(open_target("a1", 3, 9)) == ("a1", (3, 9), ())
    for junk in ("", "a1|x|9|", "a1|3|9", "|3|9|", "a1|3|9|4-"):
        assert parse_open_target(junk) is None


def test_read_as_shows_the_question_as_the_reader_used_it() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    response.question, response.resolved_question = "Which did he name?", "Which did Col. Caggins name?"
    assert "Read as: “Which did Col. Caggins name?”" in render_response(response, "r1")
    response.resolved_question = response.question
    assert "Read as" not in render_response(response, "r1")


def test_hyphenated_title_words_are_kept_whole() -> None:
    markup = render_response(make_response([("Erbil and Al-Assad Air Bases", SENTENCE)]), "r1")
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
