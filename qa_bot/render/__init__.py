"""Page rendering: pure functions from typed records (Response, Answer, article rows) to HTML and plain text.

Safety: every piece of user or article text reaches the page through ``html.escape``
and the chat renders HTML without Markdown, so a question or article containing
``<script>``, ``<img onerror=...>`` or ``[links](...)`` shows as plain text. Gradio's
sanitiser still runs over this HTML; it drops ``data-*`` and ``aria-*`` attributes and an
SVG's ``viewBox``, so buttons carry what the page script (``qa_bot/static/page.js``) needs
in ``value`` and ``title``, and the script puts the icons' ``viewBox`` back.

``markup`` holds what replies and the Articles tab share, ``reply`` the chat's replies,
``articles`` the Articles tab.
"""

from qa_bot.render.articles import (
    ArticleRow,
    filter_articles,
    render_article_table,
    render_article_view,
    render_drift,
    render_header,
    render_index_report,
    render_remove_prompt,
    sort_articles,
)
from qa_bot.render.markup import (
    APP_TITLE,
    ARTICLE_WINDOW_CHARS,
    CLOSEST_PASSAGES,
    CONFIDENCE_WORDS,
    QUESTION_BUBBLE_CHARS,
    confidence_label,
    confidence_percent,
    confidence_word,
    highlight,
    meta_line,
    open_target,
    parse_open_target,
    render_article,
)
from qa_bot.render.reply import (
    FEEDBACK_REASONS,
    ICON_VIEWBOX,
    LABEL_CHARS,
    NO_ANSWER,
    AnswerCard,
    answer_cards,
    card_plain_text,
    conversation_markdown,
    numbered_quotes,
    plain_text,
    render_card,
    render_error,
    render_question,
    render_reading_pane,
    render_response,
    render_saved,
    render_support,
    reply_label,
    response_plain_text,
)

__all__ = [
    "APP_TITLE",
    "ARTICLE_WINDOW_CHARS",
    "CLOSEST_PASSAGES",
    "CONFIDENCE_WORDS",
    "FEEDBACK_REASONS",
    "ICON_VIEWBOX",
    "LABEL_CHARS",
    "NO_ANSWER",
    "QUESTION_BUBBLE_CHARS",
    "AnswerCard",
    "ArticleRow",
    "answer_cards",
    "card_plain_text",
    "confidence_label",
    "confidence_percent",
    "confidence_word",
    "conversation_markdown",
    "filter_articles",
    "highlight",
    "meta_line",
    "numbered_quotes",
    "open_target",
    "parse_open_target",
    "plain_text",
    "render_article",
    "render_article_table",
    "render_article_view",
    "render_card",
    "render_drift",
    "render_error",
    "render_header",
    "render_index_report",
    "render_question",
    "render_reading_pane",
    "render_remove_prompt",
    "render_response",
    "render_saved",
    "render_support",
    "reply_label",
    "response_plain_text",
    "sort_articles",
]
