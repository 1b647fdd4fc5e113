"""What the chat shows, built from Response records without models or a server; and upload saving."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from qa_bot.errors import QABotError
from qa_bot.types import Answer, ArticleInfo, Citation, Passage, Response, Retrieved
from qa_bot.ui import ARTICLE_WINDOW_CHARS, highlight, render_article, render_question, render_response, save_upload

ARTICLE = (
    "Bases <b>today</b>\n\n"
    "The Coalition consolidated its presence in a few large bases: Erbil and Al-Assad Air Bases, "
    "as well as Camp Taji. Training of Iraqi forces has been suspended."
)
ARTICLE_ID = "a1"


def at(text: str) -> tuple[int, int]:
    start = ARTICLE.index(text)
    return start, start + len(text)


def make_response(answers: list[tuple[str, str]], url: str | None = "https://example.org/story?a=1&b=2") -> Response:
    """A response over ARTICLE with one answer per (answer text, cited sentence text)."""
    passage = Passage(f"{ARTICLE_ID}:0", ARTICLE_ID, 0, 0, len(ARTICLE), ARTICLE, 0, 2)
    info = ArticleInfo(ARTICLE_ID, "Bases <b>today</b>", "Kurdistan 24", "bases.txt", url, "2020-05-12")
    retrieved = Retrieved(passage, info, score=0.0328, rank=0, dense_score=0.612, bm25_score=7.25)
    built = []
    for answer_text, sentence_text in answers:
        sentence, span = at(sentence_text), at(answer_text)
        citation = Citation(
            ARTICLE_ID, info.title, info.source, url, info.date, passage.passage_id,
            sentence_text, *sentence, *span,
        )  # fmt: skip
        built.append(Answer(answer_text, 0.91, (citation,), retrieved))
    return Response("Which bases?", built, [retrieved], 12.0, "Which bases?")


def article_text(article_id: str) -> str | None:
    return ARTICLE if article_id == ARTICLE_ID else None


def visible_text(markup: str) -> str:
    """Roughly what a browser shows: tags dropped, entities decoded."""
    import html

    return html.unescape(re.sub(r"<[^>]+>", "", markup.replace("<br>", "\n")))


SENTENCE = (
    "The Coalition consolidated its presence in a few large bases: Erbil and Al-Assad Air Bases, as well as Camp Taji."
)


def test_highlight_marks_sentence_and_answer_and_escapes_everything() -> None:
    text = "a <i>b</i> c. Next"
    marked = highlight(text, offset=100, sentence=(100, 113), answer=(102, 110))
    assert marked == (
        '<span class="qa-cited">a </span>'
        '<span class="qa-cited"><mark class="qa-answer">&lt;i&gt;b&lt;/i&gt;</mark></span>'
        '<span class="qa-cited"> c.</span> Next'
    )


def test_highlight_ignores_ranges_outside_the_text() -> None:
    assert highlight("plain", offset=50, sentence=(0, 10), answer=None) == "plain"


def test_list_question_shows_each_answer_with_its_own_cited_sentence() -> None:
    response = make_response([("Erbil and Al-Assad Air Bases", SENTENCE), ("Camp Taji", SENTENCE)])
    markup = render_response(response, article_text)

    assert "2 answers found" in markup
    assert re.findall(r'<span class="qa-answer-text">([^<]*)</span>', markup) == [
        "Erbil and Al-Assad Air Bases",
        "Camp Taji",
    ]
    quotes = re.findall(r'<div class="qa-quote">(.*?)</div>', markup)
    assert [re.findall(r"<mark[^>]*>(.*?)</mark>", quote) for quote in quotes] == [
        ["Erbil and Al-Assad Air Bases"],
        ["Camp Taji"],
    ]
    assert all(visible_text(quote) == SENTENCE for quote in quotes)
    assert "confidence 91%" in markup
    assert "Bases &lt;b&gt;today&lt;/b&gt;" in markup and "<b>today</b>" not in markup
    assert 'href="https://example.org/story?a=1&amp;b=2"' in markup
    assert "2020-05-12" in markup and "Kurdistan 24" in markup
    # Support view: scores and the whole article with the sentence marked.
    for score in ("0.612", "7.25", "0.0328", "0.910"):
        assert score in markup
    assert markup.count('<details class="qa-article">') == 2
    assert "Training of Iraqi forces has been suspended." in markup


def test_unsafe_link_schemes_are_not_linked() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)], url="javascript:alert(1)"), article_text)
    assert "javascript:" not in markup and "<a " not in markup


def test_no_answer_says_so_and_shows_the_closest_passages() -> None:
    markup = render_response(make_response([]), article_text)
    assert "I couldn't find this in the articles." in visible_text(markup)
    assert "The closest passages I looked at" in markup
    assert "Erbil and Al-Assad Air Bases" in markup
    assert "qa-answer-text" not in markup


def test_article_gone_from_the_index_keeps_the_passage_but_not_the_whole_article() -> None:
    markup = render_response(make_response([("Camp Taji", SENTENCE)]), lambda article_id: None)
    assert '<div class="qa-passage">' in markup
    assert "qa-article" not in markup


def test_follow_up_shows_how_the_question_was_read() -> None:
    response = make_response([("Camp Taji", SENTENCE)])
    response.question, response.resolved_question = "Which did he name?", "Which did Col. Caggins name?"
    assert "Read as: “Which did Col. Caggins name?”" in render_response(response, article_text)


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


def test_upload_is_saved_under_its_name(tmp_path: Path) -> None:
    upload = tmp_path / "uploads" / "story.md"
    upload.parent.mkdir()
    upload.write_text("# Story\n\nText.", encoding="utf-8")
    corpus = tmp_path / "corpus"
    assert save_upload(upload, corpus, max_bytes=1000) == "story.md"
    assert (corpus / "story.md").read_text(encoding="utf-8") == "# Story\n\nText."
    assert [p.name for p in corpus.iterdir()] == ["story.md"]


@pytest.mark.parametrize(
    ("name", "size", "message"),
    [
        ("big.txt", 1001, "the limit is 1,000"),
        ("program.exe", 10, "only .txt"),
        (".hidden.txt", 10, "hidden file"),
    ],
)
def test_rejected_upload_leaves_nothing_behind(tmp_path: Path, name: str, size: int, message: str) -> None:
    upload = tmp_path / "uploads" / name
    upload.parent.mkdir()
    upload.write_bytes(b"x" * size)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    with pytest.raises(QABotError, match=message):
        save_upload(upload, corpus, max_bytes=1000)
    assert list(corpus.iterdir()) == []
