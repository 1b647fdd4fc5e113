"""The web app: chat with cited answers, a support view per answer, article uploads and feedback.

Safety: every piece of user or article text reaches the page through ``html.escape``
and the chat renders HTML without Markdown (``render_markdown=False``), so a question
or article containing ``<script>``, ``<img onerror=...>`` or ``[links](...)`` shows as
plain text. The HTML we build is still passed through Gradio's sanitiser.
"""

from __future__ import annotations

import html
import itertools
import os
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from qa_bot.errors import QABotError
from qa_bot.feedback import FeedbackStore, default_feedback_path
from qa_bot.followup import Turn
from qa_bot.ingest import UPLOAD_SUFFIXES, validate_upload_name
from qa_bot.settings import Settings
from qa_bot.types import Answer, Citation, Response, Retrieved

if TYPE_CHECKING:
    from qa_bot.index import OpenIndex, SyncReport
    from qa_bot.pipeline import QABot

ASK_CONCURRENCY = 2  # questions answered at once; each already uses settings.threads torch threads
CLOSEST_PASSAGES = 3  # passages shown when there is no answer
ARTICLE_WINDOW_CHARS = 40_000  # longer articles are shown as this much text around the cited sentence
APP_TITLE = "Article Q&A"

CSS = """
.gradio-container { max-width: 1080px !important; width: 100% !important; margin: 0 auto !important; }
#qa-header { padding: 4px 2px 10px; border-bottom: 1px solid var(--border-color-primary); margin-bottom: 6px; }
#qa-header h1 { font-size: 1.45rem; margin: 0; font-weight: 650; letter-spacing: -0.01em; }
#qa-header p { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: 0.92rem; }
.qa-reply { display: flex; flex-direction: column; gap: 12px; line-height: 1.5; }
.qa-lead { font-weight: 600; }
.qa-note { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: 12px 14px;
           background: var(--background-fill-primary); }
.qa-card-head { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; }
.qa-answer-text { font-size: 1.08rem; font-weight: 650; }
.qa-confidence { font-size: 0.8rem; white-space: nowrap; padding: 1px 8px; border-radius: 999px;
                 background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.qa-quote { margin: 8px 0 6px; padding: 6px 12px; border-left: 3px solid var(--color-accent);
            background: var(--background-fill-secondary); border-radius: 0 6px 6px 0; }
.qa-meta { font-size: 0.84rem; color: var(--body-text-color-subdued); }
.qa-meta a { color: var(--link-text-color); }
mark.qa-answer { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; font-weight: 600; }
.qa-cited { background: rgba(99, 102, 241, 0.12); border-radius: 3px; }
details.qa-support, details.qa-article { margin-top: 8px; }
details.qa-support > summary, details.qa-article > summary { cursor: pointer; font-size: 0.86rem;
           color: var(--link-text-color); user-select: none; }
.qa-passage, .qa-article-text { white-space: pre-wrap; font-size: 0.9rem; padding: 10px 12px; margin-top: 6px;
           border-radius: 8px; background: var(--background-fill-secondary); }
.qa-article-text { max-height: 340px; overflow-y: auto; }
.qa-article-text.qa-article-full { max-height: 560px; }
table.qa-scores { margin-top: 8px; font-size: 0.82rem; border-collapse: collapse; }
table.qa-scores th, table.qa-scores td { padding: 2px 12px 2px 0; text-align: left; border: none; }
table.qa-scores th { color: var(--body-text-color-subdued); font-weight: 500; }
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
"""

# Opening a "whole article" panel scrolls its text box to the cited sentence.
HEAD = """
<script>
document.addEventListener("toggle", (event) => {
  const panel = event.target;
  if (!(panel instanceof HTMLDetailsElement) || !panel.open || !panel.classList.contains("qa-article")) return;
  const sentence = panel.querySelector(".qa-cited");
  const box = panel.querySelector(".qa-article-text");
  if (sentence && box) box.scrollTop = sentence.offsetTop - box.offsetTop - box.clientHeight / 3;
}, true);
</script>
"""


# ---------------------------------------------------------------- rendering (pure functions)

ArticleText = Callable[[str], str | None]  # article_id -> full text, None if no longer indexed


def article_text_of(index: OpenIndex) -> ArticleText:
    def lookup(article_id: str) -> str | None:
        try:
            return index.article_text(article_id)
        except KeyError:
            return None

    return lookup


def _text(value: str) -> str:
    """Escaped text with line breaks kept; no raw newlines, so Gradio's dedent cannot alter it."""
    return html.escape(value).replace("\r\n", "\n").replace("\n", "<br>")


def highlight(
    text: str, offset: int, sentence: tuple[int, int] | None = None, answer: tuple[int, int] | None = None
) -> str:
    """Escape ``text`` (which starts at article offset ``offset``), marking the cited sentence and the answer.

    ``sentence`` and ``answer`` are article offsets; parts outside ``text`` are ignored.
    """
    ranges = [r for r in (sentence, answer) if r is not None]
    cuts = {0, len(text)}
    for start, end in ranges:
        cuts.update(min(max(position - offset, 0), len(text)) for position in (start, end))
    points = sorted(cuts)
    pieces = []
    for start, end in itertools.pairwise(points):
        piece = _text(text[start:end])
        if answer and answer[0] <= start + offset and end + offset <= answer[1]:
            piece = f'<mark class="qa-answer">{piece}</mark>'
        if sentence and sentence[0] <= start + offset and end + offset <= sentence[1]:
            piece = f'<span class="qa-cited">{piece}</span>'
        pieces.append(piece)
    return "".join(pieces)


def _link(url: str | None) -> str:
    if not url or not url.lower().startswith(("http://", "https://")):
        return ""
    return f'<a href="{html.escape(url, quote=True)}" target="_blank" rel="noopener noreferrer">open original</a>'


def _meta_line(title: str, source: str, date: str | None, url: str | None) -> str:
    parts = [f"<strong>{_text(title)}</strong>", _text(source)]
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


def render_article(text: str, sentence: tuple[int, int] | None = None, answer: tuple[int, int] | None = None) -> str:
    """The article body with the cited sentence marked; a long article is cut to a window around it."""
    start, end = 0, len(text)
    prefix = suffix = ""
    if len(text) > ARTICLE_WINDOW_CHARS:
        centre = sentence[0] if sentence else 0
        start = max(0, centre - ARTICLE_WINDOW_CHARS // 2)
        end = min(len(text), start + ARTICLE_WINDOW_CHARS)
        prefix = "… " if start > 0 else ""
        suffix = " …" if end < len(text) else ""
    return prefix + highlight(text[start:end], start, sentence, answer) + suffix


def _support_panel(
    retrieved: Retrieved,
    article_text: str | None,
    reader_score: float | None,
    sentence: tuple[int, int] | None = None,
    answer: tuple[int, int] | None = None,
    summary: str = "Source passage and scores",
) -> str:
    passage = retrieved.passage
    whole_article = ""
    if article_text is not None:  # None: the article left the index since this answer was read
        marked = render_article(article_text, sentence or (passage.start, passage.end), answer)
        whole_article = (
            '<details class="qa-article"><summary>Read the whole article at this point</summary>'
            f'<div class="qa-article-text">{marked}</div></details>'
        )
    return (
        f'<details class="qa-support"><summary>{summary}</summary>'
        f'<div class="qa-passage">{highlight(passage.text, passage.start, sentence, answer)}</div>'
        f"{_scores_table(retrieved, reader_score)}{whole_article}</details>"
    )


def _citation_block(citation: Citation, answer: Answer, response: Response, article_text: ArticleText) -> str:
    sentence = (citation.sentence_start, citation.sentence_end)
    answer_range = (citation.answer_start, citation.answer_end)
    retrieved = next((r for r in response.retrieved if r.passage.passage_id == citation.passage_id), answer.retrieved)
    block = (
        f'<div class="qa-quote">{highlight(citation.sentence, citation.sentence_start, None, answer_range)}</div>'
        f"{_meta_line(citation.title, citation.source, citation.date, citation.url)}"
    )
    if retrieved is not None:
        block += _support_panel(retrieved, article_text(citation.article_id), answer.score, sentence, answer_range)
    return block


def _answer_card(answer: Answer, response: Response, article_text: ArticleText) -> str:
    citations = "".join(_citation_block(c, answer, response, article_text) for c in answer.citations)
    return (
        '<div class="qa-card"><div class="qa-card-head">'
        f'<span class="qa-answer-text">{_text(answer.text)}</span>'
        f'<span class="qa-confidence">confidence {answer.score:.0%}</span></div>'
        f"{citations}</div>"
    )


def _no_answer(response: Response, article_text: ArticleText) -> str:
    parts = ['<div class="qa-nothing">I couldn\'t find this in the articles.</div>']
    closest = response.retrieved[:CLOSEST_PASSAGES]
    if closest:
        parts.append('<div class="qa-note">The closest passages I looked at:</div>')
    for retrieved in closest:
        passage = retrieved.passage
        snippet = passage.text if len(passage.text) <= 220 else passage.text[:220].rsplit(" ", 1)[0] + " …"
        parts.append(
            '<div class="qa-card">'
            f'<div class="qa-passage">{_text(snippet)}</div>'
            f"{_meta_line(retrieved.article.title, retrieved.article.source, retrieved.article.date, retrieved.article.url)}"
            f"{_support_panel(retrieved, article_text(passage.article_id), None, summary='Full passage and scores')}"
            "</div>"
        )
    return "".join(parts)


def render_response(response: Response, article_text: ArticleText) -> str:
    """The assistant's chat message for one Response; ``article_text`` gives an article's full text or None."""
    parts = []
    if response.resolved_question and response.resolved_question != response.question:
        parts.append(f'<div class="qa-note">Read as: “{_text(response.resolved_question)}”</div>')
    parts.extend(f'<div class="qa-note">{_text(notice)}</div>' for notice in response.notices)
    if not response.answers:
        parts.append(_no_answer(response, article_text))
    else:
        if len(response.answers) > 1:
            parts.append(f'<div class="qa-lead">{len(response.answers)} answers found:</div>')
        parts.extend(_answer_card(answer, response, article_text) for answer in response.answers)
    return '<div class="qa-reply">' + "".join(parts) + "</div>"


def render_question(question: str) -> str:
    return f'<div class="qa-question">{_text(question)}</div>'


def render_error(message: str) -> str:
    return f'<div class="qa-reply"><div class="qa-error">{_text(message)}</div></div>'


def render_index_report(report: SyncReport | None, saved: list[str], rejected: list[str]) -> str:
    lines = []
    if saved:
        lines.append(f"Saved {len(saved)} file(s): {_text(', '.join(saved))}.")
    if report is not None:
        lines.append(
            f"Index updated: {report.added} added, {report.updated} updated, {report.removed} removed, "
            f"{report.unchanged} unchanged; {report.passages} passages in total."
        )
    problems = [*rejected, *(report.problems if report is not None else [])]
    items = "".join(f"<li>{_text(problem)}</li>" for problem in problems)
    problem_list = f"<div>Not indexed:</div><ul>{items}</ul>" if problems else ""
    return '<div class="qa-status">' + "<br>".join(lines) + problem_list + "</div>"


# ---------------------------------------------------------------- uploads


def save_upload(upload: Path, corpus_dir: Path, max_bytes: int) -> str:
    """Copy an uploaded file into the corpus under its validated name; a rejected file leaves nothing behind.

    The copy goes to a hidden temporary file (ignored by the corpus scan) that is renamed
    into place only once complete, so a half-written article is never indexed.
    """
    name = validate_upload_name(upload.name)
    size = upload.stat().st_size
    if size > max_bytes:
        raise QABotError(
            f"cannot upload '{name}': it is {size:,} bytes and the limit is {max_bytes:,} (QA_BOT_MAX_ARTICLE_BYTES)"
        )
    corpus_dir.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(dir=corpus_dir, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(handle, "wb") as out, upload.open("rb") as source:
            out.write(source.read(max_bytes + 1))
            if out.tell() > max_bytes:  # the file grew after the size check
                raise QABotError(f"cannot upload '{name}': it is larger than {max_bytes:,} bytes")
        os.replace(partial, corpus_dir / name)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return name


# ---------------------------------------------------------------- the app


@dataclass
class ChatTurn:
    """One answered question, kept server-side so follow-ups and votes see the plain text."""

    answer_id: str
    message_index: int  # position of the answer in the Chatbot's message list
    question: str
    answer: str | None  # the best answer's text, None if nothing was found
    response_json: dict[str, Any]


def render_article_table(index: OpenIndex) -> str:
    articles = index.list_articles()
    if not articles:
        return '<div class="qa-note">No articles indexed yet; add some above.</div>'
    rows = "".join(
        f"<tr><td>{_text(a['title'])}</td><td>{_text(a['source'])}</td>"
        f'<td>{_text(a.get("date") or "")}</td><td class="qa-num">{a["passages"]}</td></tr>'
        for a in articles
    )
    return (
        '<table class="qa-articles"><thead><tr><th>Title</th><th>Source</th><th>Date</th>'
        f'<th class="qa-num">Passages</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _article_choices(index: OpenIndex) -> list[tuple[str, str]]:
    return [(a["title"], a["article_id"]) for a in index.list_articles()]


def _header(index: OpenIndex) -> str:
    articles = index.list_articles()
    passages = sum(a["passages"] for a in articles)
    return (
        f'<div id="qa-header"><h1>{APP_TITLE}</h1>'
        f"<p>Answers are quoted from {len(articles)} indexed article(s) ({passages} passages), "
        "each with the sentence it comes from.</p></div>"
    )


def build_app(bot: QABot, corpus_dir: Path, feedback: FeedbackStore, settings: Settings) -> gr.Blocks:
    corpus_dir = Path(corpus_dir)

    def examples() -> list[dict[str, str]]:
        return [{"text": question} for question in bot.example_questions(4)]

    def show_question(question: str, chat: list[dict]) -> tuple[list[dict], str, str]:
        question = (question or "").strip()
        if not question:
            return chat, "", ""
        return [*chat, {"role": "user", "content": render_question(question)}], "", question

    def pick_example(example: gr.SelectData, chat: list[dict]) -> tuple[list[dict], str, str]:
        return show_question(example.value["text"], chat)

    def answer(question: str, chat: list[dict], turns: list[ChatTurn]) -> tuple[list[dict], list[ChatTurn]]:
        if not question:
            return chat, turns
        history = [Turn(turn.question, turn.answer) for turn in turns]
        try:
            response = bot.ask(question, history)
        except QABotError as error:
            return [*chat, {"role": "assistant", "content": render_error(str(error))}], turns
        turn = ChatTurn(
            answer_id=uuid.uuid4().hex,
            message_index=len(chat),
            question=question,
            answer=response.answers[0].text if response.answers else None,
            response_json=response.to_json(),
        )
        message = {"role": "assistant", "content": render_response(response, article_text_of(bot.index))}
        return [*chat, message], [*turns, turn]

    def vote(like: gr.LikeData, turns: list[ChatTurn]) -> tuple[gr.Row, str]:
        turn = next((t for t in turns if t.message_index == like.index), None)
        if turn is None:  # an error message, nothing to rate
            return gr.Row(visible=False), ""
        if like.liked in (True, False):
            feedback.record(
                turn.answer_id, turn.question, turn.response_json["answers"], "up" if like.liked else "down"
            )
            return gr.Row(visible=True), turn.answer_id
        feedback.withdraw(turn.answer_id)  # the thumb was clicked again: vote undone
        return gr.Row(visible=False), ""

    def send_comment(comment: str, answer_id: str) -> tuple[gr.Row, str]:
        if answer_id and comment.strip() and feedback.add_comment(answer_id, comment):
            gr.Info("Thanks, your comment was saved.")
        return gr.Row(visible=False), ""

    def new_conversation() -> tuple[list[dict], list[ChatTurn], gr.Row]:
        return [], [], gr.Row(visible=False)

    def add_articles(files: list[str] | None, progress: gr.Progress = gr.Progress()) -> tuple:  # noqa: B008 (Gradio's idiom)
        if not files:
            raise gr.Error("Choose one or more files to add first.")
        saved, rejected = [], []
        for done, file in enumerate(files):
            progress((done, len(files)), desc="Saving files", unit="files")
            try:
                saved.append(save_upload(Path(file), corpus_dir, settings.max_article_bytes))
            except QABotError as error:
                rejected.append(str(error))
        report = None
        if saved:
            progress(None, desc=f"Indexing {len(saved)} new or changed file(s)…")
            try:
                report = bot.index_corpus(corpus_dir)
            except QABotError as error:
                rejected.append(str(error))
        return (render_index_report(report, saved, rejected), None, *refresh())

    def refresh() -> tuple:
        index = bot.index
        return (
            _header(index),
            render_article_table(index),
            gr.Dropdown(choices=_article_choices(index), value=None),
            gr.Chatbot(examples=examples()),
        )

    def open_article(article_id: str | None) -> str:
        if not article_id:
            return ""
        index = bot.index
        info = next((a for a in index.list_articles() if a["article_id"] == article_id), None)
        if info is None:
            return render_error("That article is no longer in the index.")
        return (
            '<div class="qa-card">'
            f"{_meta_line(info['title'], info['source'], info.get('date'), info.get('url'))}"
            f'<div class="qa-article-text qa-article-full">{render_article(index.article_text(article_id))}</div>'
            "</div>"
        )

    def ask_api(question: str) -> dict:
        """Answer one question from the indexed articles; returns the Response JSON (answers with citations)."""
        try:
            return bot.ask(question).to_json()
        except QABotError as error:
            raise gr.Error(str(error)) from error

    with gr.Blocks(title=APP_TITLE, analytics_enabled=False, fill_width=True) as app:
        header = gr.HTML(_header(bot.index))
        turns = gr.State([])
        pending_question = gr.State("")
        voted_answer = gr.State("")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    show_label=False,
                    height="64vh",
                    min_height=380,
                    render_markdown=False,  # user and article text must never become links or images
                    sanitize_html=True,
                    allow_tags=False,
                    line_breaks=False,
                    feedback_options=("Like", "Dislike"),
                    examples=examples(),
                    placeholder="**Ask a question about the articles.** Every answer quotes its source sentence.",
                    buttons=["copy"],
                    layout="bubble",
                )
                with gr.Row(visible=False, elem_id="qa-comment-row") as comment_row:
                    comment_box = gr.Textbox(
                        placeholder="Thanks for the vote. What was right or wrong? (optional)",
                        show_label=False,
                        scale=8,
                    )
                    comment_button = gr.Button("Send", scale=1, min_width=90)
                with gr.Row(equal_height=True):
                    question_box = gr.Textbox(
                        placeholder="Ask a question, e.g. a follow-up to the last answer…",
                        show_label=False,
                        lines=1,
                        max_lines=4,
                        scale=8,
                        elem_id="qa-question",
                        autofocus=True,
                    )
                    ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=90, elem_id="qa-ask")
                    clear_button = gr.Button("New chat", variant="secondary", scale=1, min_width=90)
            with gr.Tab("Articles", id="articles"):
                gr.Markdown("### Add articles\nPlain text, Markdown, HTML or JSON Lines (one article per line).")
                uploads = gr.File(
                    file_count="multiple",
                    file_types=list(UPLOAD_SUFFIXES),
                    label="Article files",
                    height=140,
                    elem_id="qa-uploads",
                )
                index_button = gr.Button("Add to index", variant="primary", elem_id="qa-index")
                index_status = gr.HTML(elem_id="qa-index-status")
                gr.Markdown("### Indexed articles")
                articles_table = gr.HTML(render_article_table(bot.index))
                article_picker = gr.Dropdown(
                    choices=_article_choices(bot.index),
                    label="Read an article",
                    value=None,
                    elem_id="qa-article-picker",
                )
                article_view = gr.HTML(elem_id="qa-article-view")

        internal = {"api_visibility": "private"}
        for trigger in (question_box.submit, ask_button.click):
            trigger(
                show_question,
                [question_box, chatbot],
                [chatbot, question_box, pending_question],
                queue=False,
                **internal,
            ).then(answer, [pending_question, chatbot, turns], [chatbot, turns], **internal)
        chatbot.example_select(
            pick_example, [chatbot], [chatbot, question_box, pending_question], queue=False, **internal
        ).then(answer, [pending_question, chatbot, turns], [chatbot, turns], **internal)
        chatbot.like(vote, [turns], [comment_row, voted_answer], queue=False, **internal)
        for trigger in (comment_box.submit, comment_button.click):
            trigger(send_comment, [comment_box, voted_answer], [comment_row, comment_box], queue=False, **internal)
        clear_button.click(new_conversation, None, [chatbot, turns, comment_row], queue=False, **internal)
        chatbot.clear(new_conversation, None, [chatbot, turns, comment_row], queue=False, **internal)
        index_button.click(
            add_articles,
            [uploads],
            [index_status, uploads, header, articles_table, article_picker, chatbot],
            concurrency_limit=1,
            concurrency_id="index",
            **internal,
        )
        article_picker.change(open_article, [article_picker], [article_view], queue=False, **internal)
        app.load(
            refresh,
            None,
            [header, articles_table, article_picker, chatbot],
            queue=False,
            show_progress="hidden",
            **internal,
        )
        gr.api(ask_api, api_name="ask")
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """Arguments for ``Blocks.launch`` shared by ``serve`` and tests."""
    return {
        "max_file_size": settings.max_article_bytes,  # Gradio refuses bigger uploads before they reach us
        "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        "css": CSS,
        "head": HEAD,
        "footer_links": ["api"],
        "ssr_mode": False,
        "show_error": True,
    }


def serve(index_dir: Path, corpus_dir: Path, host: str, port: int, settings: Settings) -> None:
    """Load the models once and serve the app until interrupted."""
    from qa_bot.pipeline import QABot  # loads torch; kept out of module import for the CLI's fast paths

    bot = QABot.from_index(index_dir, settings)
    feedback = FeedbackStore(default_feedback_path(index_dir))
    app = build_app(bot, corpus_dir, feedback, settings)
    app.queue(default_concurrency_limit=ASK_CONCURRENCY)
    app.launch(server_name=host, server_port=port, **launch_options(settings))
