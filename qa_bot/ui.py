"""The web app's Gradio wiring: chat, votes on each answer, article uploads and removal, and the /ask API.

What a reply shows is decided by the answer policy (``Response.answers``); the markup comes
from the pure functions in qa_bot/render/ and file changes from qa_bot/corpus_files.py.
The chat renders HTML without Markdown (``render_markdown=False``) and through Gradio's
sanitiser, and every user or article text is escaped by qa_bot.render.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from qa_bot import corpus_files
from qa_bot.errors import QABotError
from qa_bot.examples import choose_examples
from qa_bot.feedback import FeedbackStore, default_feedback_path
from qa_bot.followup import Turn
from qa_bot.ingest import UPLOAD_SUFFIXES
from qa_bot.render import (
    APP_TITLE,
    ArticleRow,
    answer_cards,
    conversation_markdown,
    filter_articles,
    parse_open_target,
    render_article_table,
    render_article_view,
    render_drift,
    render_error,
    render_header,
    render_index_report,
    render_question,
    render_reading_pane,
    render_remove_prompt,
    render_response,
    render_saved,
    response_plain_text,
    sort_articles,
)
from qa_bot.settings import Settings
from qa_bot.types import Response, answer_json

if TYPE_CHECKING:
    from qa_bot.index import OpenIndex
    from qa_bot.pipeline import QABot

STATIC_DIR = Path(__file__).resolve().parent / "static"
ASK_CONCURRENCY = 2  # questions answered at once; each already uses settings.threads torch threads
SHUTDOWN_GRACE_S = 3.0  # after SIGINT/SIGTERM, requests in flight get this long before the process exits
FOLLOW_INDEX_S = 2.0  # seconds between checks for a version switched in by `qa-bot index` (server and pages)
INTERNAL = {"api_visibility": "private"}  # UI events are not part of the public API (only /ask is)
STORAGE_KEY = "qa-bot-conversation"  # the browser's localStorage entry that keeps the chat across reloads
EXPORT_DIR = Path(tempfile.gettempdir()) / "qa-bot-exports"


def article_rows(index: OpenIndex, corpus_dir: Path) -> list[ArticleRow]:
    return [
        ArticleRow(
            article_id=a["article_id"],
            title=a["title"],
            source=a["source"],
            path=a["path"],
            passages=a["passages"],
            date=a.get("date"),
            file_date=None if a.get("date") else corpus_files.file_date(corpus_dir, a["path"]),
            changed=_changed(corpus_dir, a["path"]),
        )
        for a in index.list_articles()
    ]


def _changed(corpus_dir: Path, article_path: str) -> float:
    try:
        return corpus_files.article_file(corpus_dir, article_path).stat().st_mtime
    except (QABotError, OSError):
        return 0.0


@dataclass
class ChatTurn:
    """One answered question, kept server-side so follow-ups and votes see the plain records."""

    reply_id: str  # names the reply's cards in vote buttons
    question: str  # as used
    answer: str | None  # the primary answer's text, None if nothing was found
    cards: list[list[dict]]  # each card's answers as JSON (with role and citations), for votes; [[]] for none
    text: str = ""  # the reply as plain text, for the export


def _card_records(response: Response) -> list[list[dict]]:
    return [[answer_json(answer) for answer in card.answers] for card in answer_cards(response)] or [[]]


def _turns(stored: list[dict]) -> list[ChatTurn]:
    return [ChatTurn(**turn) for turn in stored]


def _stored(chat: list[dict], turns: list[ChatTurn]) -> dict:
    return {"chat": chat, "turns": [asdict(turn) for turn in turns]}


class _Handlers:
    """The event handlers; each returns what its event's outputs need."""

    def __init__(self, bot: QABot, corpus_dir: Path, feedback: FeedbackStore, settings: Settings) -> None:
        self.bot = bot
        self.corpus_dir = Path(corpus_dir)
        self.feedback = feedback
        self.settings = settings
        self._examples: list[str] = []

    # ---- chat

    def examples(self) -> list[dict[str, str]]:
        return [{"text": question} for question in self._examples]

    def choose_examples(self) -> None:
        """Asked at start-up and after each change of the index (see qa_bot/examples.py)."""
        self._examples = choose_examples(self.bot, list(self.settings.example_questions))

    def show_question(self, question: str, chat: list[dict]) -> tuple[list[dict], str, str]:
        question = (question or "").strip()
        if not question:
            return chat, "", ""
        return [*chat, {"role": "user", "content": render_question(question)}], "", question

    def pick_example(self, example: gr.SelectData, chat: list[dict]) -> tuple[list[dict], str, str]:
        return self.show_question(example.value["text"], chat)

    def answer(self, question: str, chat: list[dict], turns: list[ChatTurn]) -> tuple:
        """Outputs: the chat, the turns, what the browser keeps, and the export file."""
        if not question:
            return chat, turns, gr.skip(), gr.skip()
        history = [Turn(turn.question, turn.answer) for turn in turns]
        try:
            response = self.bot.ask(question, history)
        except QABotError as error:
            chat = [*chat, {"role": "assistant", "content": render_error(str(error))}]
            return chat, turns, _stored(chat, turns), gr.skip()
        turn = ChatTurn(
            reply_id=uuid.uuid4().hex[:12],
            question=response.question,
            answer=response.answers[0].text if response.answers else None,
            cards=_card_records(response),
            text=response_plain_text(response),
        )
        chat = [*chat, {"role": "assistant", "content": render_response(response, turn.reply_id)}]
        turns = [*turns, turn]
        return chat, turns, _stored(chat, turns), self.export(turns)

    def restore(self, stored: dict | None) -> tuple:
        """The conversation the browser kept (a reload); anything unreadable starts a new one."""
        try:
            chat, turns = list(stored["chat"]), _turns(stored["turns"])
        except (TypeError, KeyError, ValueError):
            return [], [], None
        return chat, turns, self.export(turns)

    def export(self, turns: list[ChatTurn]) -> str | None:
        """The conversation as a Markdown file for the Export button; None before the first answer."""
        if not turns:
            return None
        EXPORT_DIR.mkdir(parents=True, exist_ok=True)
        path = EXPORT_DIR / f"conversation-{turns[0].reply_id}.md"
        path.write_text(conversation_markdown([turn.text for turn in turns]), encoding="utf-8")
        return str(path)

    def act(self, action: str, turns: list[ChatTurn]) -> tuple:
        """A button inside a chat message: "vote|reply:card:up|down|none", "comment|reply:card|reason|text"
        or "open|<reading-pane target>". Outputs: the feedback status, the reading pane and its content."""
        kind, _, payload = (action or "").partition("|")
        if kind == "vote":
            return self.vote(payload, turns), gr.skip(), gr.skip()
        if kind == "comment":
            return self.send_comment(payload), gr.skip(), gr.skip()
        if kind == "open":
            return gr.skip(), gr.Column(visible=True), self.read(payload)
        return gr.skip(), gr.skip(), gr.skip()

    def vote(self, target: str, turns: list[ChatTurn]) -> str:
        reply_id, _, rest = target.partition(":")
        card, _, verdict = rest.partition(":")
        turn = next((t for t in turns if t.reply_id == reply_id), None)
        if turn is None or not card.isdigit() or int(card) >= len(turn.cards) or verdict not in ("up", "down", "none"):
            return ""
        answer_id = f"{reply_id}:{card}"
        try:
            if verdict == "none":
                self.feedback.withdraw(answer_id)
                return render_saved(answer_id, "Your vote is withdrawn.")
            self.feedback.record(answer_id, turn.question, turn.cards[int(card)], verdict)
        except QABotError as error:  # the chat goes on; the vote is not kept
            gr.Warning(str(error))
            return render_saved(answer_id, "Your vote could not be saved.")
        return render_saved(answer_id, "Thanks, your vote is saved.")

    def send_comment(self, payload: str) -> str:
        answer_id, _, rest = payload.partition("|")
        reason, _, comment = rest.partition("|")
        text = ": ".join(part for part in (reason.strip(), comment.strip()) if part)
        if not text:
            return render_saved(answer_id, "Choose a reason or write a comment first.")
        try:
            saved = self.feedback.add_comment(answer_id, text)
        except QABotError as error:
            gr.Warning(str(error))
            return render_saved(answer_id, "Your comment could not be saved.")
        if not saved:
            return render_saved(answer_id, "Vote on the answer first, then send your comment.")
        return render_saved(answer_id, "Thanks, your comment was saved.")

    def read(self, target: str) -> str:
        """The reading pane: the whole article, scrolled (by the page script) to the cited sentence."""
        parsed = parse_open_target(target)
        if parsed is None:
            return render_error("That link is broken.")
        article_id, sentence, answers = parsed
        with self.bot.borrow_index() as index:
            try:
                info, text = index.article_info(article_id), index.article_text(article_id)
            except KeyError:
                return render_error("That article is no longer in the index.")
        return render_reading_pane(info, text, sentence, answers)

    def new_conversation(self) -> tuple:
        return [], [], _stored([], []), None

    # ---- articles

    def rows(self) -> list[ArticleRow]:
        with self.bot.borrow_index() as index:
            return article_rows(index, self.corpus_dir)

    def drift(self) -> corpus_files.Drift:
        """Where the corpus folder and the index differ (a sync failed or was cut short)."""
        with self.bot.borrow_index() as index:
            indexed = index.list_articles()
        return corpus_files.corpus_drift(self.corpus_dir, indexed, self.settings.max_article_bytes)

    def refresh(self, query: str, picked: str | None = None) -> tuple:
        """The Articles tab (and examples) for the live version; ``picked`` stays chosen if it is still indexed."""
        with self.bot.borrow_index() as index:
            rows, version = article_rows(index, self.corpus_dir), index.version
        drift = self.drift()
        return (
            render_header(len(rows), sum(row.passages for row in rows)),
            render_article_table(rows, query or ""),
            _picker(rows, query, picked),
            gr.Chatbot(examples=self.examples()),
            render_drift(drift.unindexed, drift.gone),
            version,
        )

    def follow_index(self, shown_version: str, query: str, picked: str | None) -> tuple | dict:
        """The page's article list again when the server moved to another index version (a sync by the CLI)."""
        if self.bot.index.version == shown_version:
            return gr.skip()  # every output left as it is
        return self.refresh(query, picked)

    def search(self, query: str) -> tuple[str, gr.Dropdown]:
        rows = self.rows()
        return render_article_table(rows, query or ""), _picker(rows, query)

    def _sync(self, notes: list[str], problems: list[str], query: str) -> tuple:
        report = None
        try:
            report = self.bot.index_corpus(self.corpus_dir)
        except QABotError as error:
            problems.append(str(error))
        else:
            self.choose_examples()
        return (render_index_report(report, notes, problems), *self.refresh(query))

    def add_articles(self, files: list[str] | None, replace: bool, query: str) -> tuple:
        if not files:
            raise gr.Error("Choose one or more files to add first.")
        batch = corpus_files.save_uploads(
            [Path(file) for file in files], self.corpus_dir, self.settings.max_article_bytes, replace=replace
        )
        if not batch.changed and not self.drift():
            return (render_index_report(None, batch.notes, batch.problems), None, *self.refresh(query))
        status, *refreshed = self._sync(batch.notes, batch.problems, query)
        return (status, None, *refreshed)

    def _find(self, article_id: str | None) -> ArticleRow | None:
        return next((row for row in self.rows() if row.article_id == article_id), None) if article_id else None

    def open_article(self, article_id: str | None) -> tuple[str, gr.Button, gr.Row]:
        row = self._find(article_id)
        if row is None:
            message = render_error("That article is no longer in the index.") if article_id else ""
            return message, gr.Button(visible=False), gr.Row(visible=False)
        with self.bot.borrow_index() as index:
            view = render_article_view(row, index.article_text(row.article_id))
        return view, gr.Button(visible=True), gr.Row(visible=False)

    def ask_remove(self, article_id: str | None) -> tuple[str, gr.Row]:
        row = self._find(article_id)
        if row is None:
            return render_error("Choose an article to remove first."), gr.Row(visible=False)
        file_name = row.path.split("#", 1)[0]
        in_file = sum(1 for other in self.rows() if other.path.split("#", 1)[0] == file_name)
        return render_remove_prompt(row, file_name, in_file), gr.Row(visible=True)

    def remove(self, article_id: str | None, query: str) -> tuple:
        """Outputs: the status, the confirmation row, the Undo button, the trashed file (server-side only), then
        the refreshed parts."""
        row = self._find(article_id)
        if row is None:
            message = render_error("That article is no longer in the index.")
            return (message, gr.Row(visible=False), gr.skip(), gr.skip(), *self.refresh(query))
        try:
            trashed = corpus_files.remove_article_file(self.corpus_dir, row.path)
        except (QABotError, OSError) as error:
            message = render_error(f"Could not remove “{row.title}”: {error}")
            return (message, gr.Row(visible=False), gr.skip(), gr.skip(), *self.refresh(query))
        file_name = row.path.split("#", 1)[0]
        note = (
            f"Removed “{row.title}”: its file {file_name} is in the corpus trash (Undo restores it)."
            if trashed
            else f"The file of “{row.title}” had already left the folder; the index follows the folder now."
        )
        status, *refreshed = self._sync([note], [], query)
        return (status, gr.Row(visible=False), gr.Button(visible=bool(trashed)), str(trashed or ""), *refreshed)

    def undo_remove(self, trashed: str, query: str) -> tuple:
        """Outputs: the status, the Undo button, the trashed file, then the refreshed parts."""
        if not trashed:
            return (render_error("There is nothing to undo."), gr.Button(visible=False), "", *self.refresh(query))
        try:
            restored = corpus_files.restore_from_trash(self.corpus_dir, Path(trashed))
        except (QABotError, OSError) as error:
            return (render_error(f"Could not undo: {error}"), gr.Button(visible=False), "", *self.refresh(query))
        status, *refreshed = self._sync([f"Restored {restored}."], [], query)
        return (status, gr.Button(visible=False), "", *refreshed)

    def cancel_remove(self) -> tuple[str, gr.Row]:
        return "", gr.Row(visible=False)

    def sync_now(self, query: str) -> tuple:
        """Bring the index in line with the folder (after a failed or interrupted sync, or files copied in)."""
        return self._sync([], [], query)

    # ---- API

    def ask_api(self, question: str) -> dict:
        """Answer one question from the indexed articles; returns the Response JSON (answers with citations).

        The question arrives as whatever JSON the caller sent; ``ask`` refuses anything but text in one line.
        """
        try:
            return self.bot.ask(question).to_json()
        except QABotError as error:
            raise gr.Error(str(error)) from error


# ---------------------------------------------------------------- layout and events


@dataclass
class _Shared:
    """Components that several parts of the page update."""

    header: gr.HTML
    chatbot: gr.Chatbot
    table: gr.HTML
    picker: gr.Dropdown
    search: gr.Textbox
    drift: gr.HTML
    version: gr.State  # the index version the page shows

    @property
    def refreshed(self) -> list[gr.components.Component]:
        return [self.header, self.table, self.picker, self.chatbot, self.drift, self.version]


def _reading_pane() -> tuple[gr.Column, gr.HTML]:
    """The whole article over the page, opened from citations and the support view."""
    with gr.Column(visible=False, elem_id="qa-pane") as pane:
        close = gr.Button("Close", size="sm", elem_id="qa-pane-close", min_width=80)
        body = gr.HTML(elem_id="qa-pane-body")
    close.click(lambda: gr.Column(visible=False), None, [pane], queue=False, **INTERNAL)
    return pane, body


def _picker(rows: list[ArticleRow], query: str, picked: str | None = None) -> gr.Dropdown:
    """The read/remove choice offers what the table shows; ``picked`` stays chosen while it is offered."""
    choices = [(row.title, row.article_id) for row in filter_articles(sort_articles(rows), query or "")]
    return gr.Dropdown(choices=choices, value=picked if any(picked == id_ for _, id_ in choices) else None)


def _chat_tab(handlers: _Handlers, pane: gr.Column, pane_body: gr.HTML) -> tuple[gr.Chatbot, gr.BrowserState, list]:
    turns = gr.State([])
    kept = gr.BrowserState({"chat": [], "turns": []}, storage_key=STORAGE_KEY)
    pending_question = gr.State("")
    chatbot = gr.Chatbot(
        elem_id="qa-chat",
        show_label=False,
        height="64vh",
        min_height=380,
        autoscroll=False,  # a reply opens at its top (the page script scrolls there), not at its last card
        render_markdown=False,  # user and article text must never become links or images
        sanitize_html=True,
        allow_tags=False,
        line_breaks=False,
        examples=handlers.examples(),
        placeholder="**Ask a question about the articles.** Every answer quotes its source sentence.",
        buttons=[],  # each answer card has its own plain-text Copy and thumbs
        layout="bubble",
    )
    with gr.Row(equal_height=True, elem_id="qa-ask-row"):
        question_box = gr.Textbox(
            placeholder="Ask about the articles…",
            show_label=False,
            lines=1,
            max_lines=4,
            scale=8,
            min_width=160,
            elem_id="qa-question",
            autofocus=True,
        )
        ask_button = gr.Button("Ask", variant="primary", scale=1, min_width=64, elem_id="qa-ask")
        clear_button = gr.Button("New chat", variant="secondary", scale=1, min_width=64, elem_id="qa-new-chat")
    with gr.Row(elem_id="qa-chat-tools"):
        export = gr.DownloadButton(
            "Export (Markdown)", value=None, size="sm", variant="secondary", elem_id="qa-export", min_width=80
        )
    status = gr.HTML(elem_id="qa-feedback-status")
    action = gr.Textbox(visible="hidden", elem_id="qa-action")
    action_send = gr.Button(visible="hidden", elem_id="qa-action-send")

    asked = [chatbot, question_box, pending_question]
    answered = [chatbot, turns, kept, export]
    for trigger in (question_box.submit, ask_button.click):
        trigger(handlers.show_question, [question_box, chatbot], asked, queue=False, **INTERNAL).then(
            handlers.answer, [pending_question, chatbot, turns], answered, **INTERNAL
        )
    chatbot.example_select(handlers.pick_example, [chatbot], asked, queue=False, **INTERNAL).then(
        handlers.answer, [pending_question, chatbot, turns], answered, **INTERNAL
    )
    action_send.click(handlers.act, [action, turns], [status, pane, pane_body], queue=False, **INTERNAL)
    for trigger in (clear_button.click, chatbot.clear):
        trigger(handlers.new_conversation, None, answered, queue=False, **INTERNAL)
    return chatbot, kept, [chatbot, turns, export]


def _articles_tab(handlers: _Handlers, header: gr.HTML, chatbot: gr.Chatbot, rows: list[ArticleRow]) -> _Shared:
    gr.Markdown("### Add articles\nPlain text, Markdown, HTML or JSON Lines (one article per line).")
    uploads = gr.File(
        file_count="multiple", file_types=list(UPLOAD_SUFFIXES), label="Article files", height=140, elem_id="qa-uploads"
    )
    replace = gr.Checkbox(
        label="Replace files with the same name (the old version goes to the corpus trash)",
        value=False,
        elem_id="qa-replace",
    )
    index_button = gr.Button("Add to index", variant="primary", elem_id="qa-index")
    status = gr.HTML(elem_id="qa-index-status")
    gr.Markdown("### Indexed articles")
    drift = gr.HTML(elem_id="qa-drift")
    sync_button = gr.Button("Sync now", variant="secondary", size="sm", elem_id="qa-sync")
    shared = _Shared(
        header=header,
        chatbot=chatbot,
        search=gr.Textbox(
            placeholder="Search titles, sources and dates…", show_label=False, elem_id="qa-article-search"
        ),
        table=gr.HTML(render_article_table(rows), elem_id="qa-articles"),
        picker=gr.Dropdown(
            choices=[(row.title, row.article_id) for row in sort_articles(rows)],
            label="Read or remove an article",
            value=None,
            elem_id="qa-article-picker",
        ),
        drift=drift,
        version=gr.State(""),
    )
    remove_button = gr.Button("Remove this article…", variant="secondary", visible=False, elem_id="qa-remove")
    with gr.Row(visible=False, elem_id="qa-confirm-row") as confirm_row:
        prompt = gr.HTML()
        confirm_button = gr.Button("Yes, remove it", variant="stop", elem_id="qa-confirm-remove", min_width=120)
        cancel_button = gr.Button("Cancel", elem_id="qa-cancel-remove", min_width=90)
    undo_button = gr.Button("Undo removal", variant="secondary", visible=False, elem_id="qa-undo-remove")
    trashed = gr.State("")
    view = gr.HTML(elem_id="qa-article-view")

    changing = {"concurrency_limit": 1, "concurrency_id": "index", **INTERNAL}
    index_button.click(
        handlers.add_articles, [uploads, replace, shared.search], [status, uploads, *shared.refreshed], **changing
    )
    sync_button.click(handlers.sync_now, [shared.search], [status, *shared.refreshed], **changing)
    shared.search.change(handlers.search, [shared.search], [shared.table, shared.picker], queue=False, **INTERNAL)
    shared.picker.change(
        handlers.open_article, [shared.picker], [view, remove_button, confirm_row], queue=False, **INTERNAL
    )
    remove_button.click(handlers.ask_remove, [shared.picker], [prompt, confirm_row], queue=False, **INTERNAL)
    confirm_button.click(
        handlers.remove,
        [shared.picker, shared.search],
        [status, confirm_row, undo_button, trashed, *shared.refreshed],
        **changing,
    ).then(lambda: ("", gr.Button(visible=False)), None, [view, remove_button], queue=False, **INTERNAL)
    undo_button.click(
        handlers.undo_remove, [trashed, shared.search], [status, undo_button, trashed, *shared.refreshed], **changing
    )
    cancel_button.click(handlers.cancel_remove, None, [prompt, confirm_row], queue=False, **INTERNAL)
    return shared


def build_app(bot: QABot, corpus_dir: Path, feedback: FeedbackStore, settings: Settings) -> gr.Blocks:
    handlers = _Handlers(bot, corpus_dir, feedback, settings)
    handlers.choose_examples()
    rows = handlers.rows()
    with gr.Blocks(title=APP_TITLE, analytics_enabled=False, fill_width=True) as app:
        header = gr.HTML(render_header(len(rows), sum(row.passages for row in rows)))
        pane, pane_body = _reading_pane()
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                chatbot, kept, restored = _chat_tab(handlers, pane, pane_body)
            with gr.Tab("Articles", id="articles"):
                shared = _articles_tab(handlers, header, chatbot, rows)
        app.load(handlers.refresh, [shared.search], shared.refreshed, queue=False, show_progress="hidden", **INTERNAL)
        gr.Timer(FOLLOW_INDEX_S).tick(
            handlers.follow_index,
            [shared.version, shared.search, shared.picker],
            shared.refreshed,
            queue=False,
            show_progress="hidden",
            **INTERNAL,
        )
        app.load(handlers.restore, [kept], restored, queue=False, show_progress="hidden", **INTERNAL)
        gr.api(handlers.ask_api, api_name="ask")
    return app


def launch_options(settings: Settings) -> dict[str, Any]:
    """Arguments for ``Blocks.launch`` shared by ``serve`` and tests."""
    return {
        "max_file_size": settings.max_article_bytes,  # Gradio refuses bigger uploads before they reach us
        "theme": gr.themes.Soft(primary_hue="indigo", neutral_hue="slate"),
        "css_paths": [STATIC_DIR / "app.css"],
        "head_paths": [STATIC_DIR / "head.html"],
        "js": (STATIC_DIR / "page.js").read_text(encoding="utf-8"),
        "footer_links": ["api"],
        "ssr_mode": False,
        "show_error": True,
    }


def _stop_when_signalled(app: gr.Blocks) -> None:
    """Block until SIGINT or SIGTERM, close the server (requests in flight get SHUTDOWN_GRACE_S), then exit.

    The exit is immediate: a normal interpreter exit would wait for the worker threads of Gradio's queue
    and of questions in flight, which took 15-40 s on a busy machine. Nothing is left half-written by this:
    index versions and feedback rows are committed as they are written.
    """
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    closer = threading.Thread(target=app.close, name="qa-bot-shutdown", daemon=True)
    closer.start()
    closer.join(SHUTDOWN_GRACE_S)
    print("stopped" if not closer.is_alive() else "stopped; requests in flight were cut off", file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def serve(index_dir: Path, corpus_dir: Path, host: str, port: int, settings: Settings) -> None:
    """Load the models once and serve the app until SIGINT (Ctrl+C) or SIGTERM."""
    from qa_bot.pipeline import QABot  # loads torch; kept out of module import for the CLI's fast paths

    bot = QABot.from_index(index_dir, settings)
    bot.follow_index(FOLLOW_INDEX_S)  # a sync by `qa-bot index` is answered from within seconds
    feedback = FeedbackStore(default_feedback_path(index_dir))
    app = build_app(bot, corpus_dir, feedback, settings)
    app.queue(default_concurrency_limit=ASK_CONCURRENCY)
    app.launch(server_name=host, server_port=port, prevent_thread_lock=True, **launch_options(settings))
    _stop_when_signalled(app)
