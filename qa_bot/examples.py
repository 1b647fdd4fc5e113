"""Example questions for the chat's first screen that the bot answers well on the indexed corpus."""

from __future__ import annotations

from typing import Protocol

from qa_bot.errors import QABotError
from qa_bot.types import Response

EXAMPLES = 4  # example questions on the chat's first screen
EXAMPLE_CANDIDATES = 8  # questions tried for them
EXAMPLE_CONFIDENCE = 0.70  # "likely": an example the bot answers doubtfully would mislead a new user


class _Bot(Protocol):  # what of qa_bot.pipeline.QABot this needs (the stages never import the pipeline)
    def ask(self, question: str) -> Response: ...

    def example_questions(self, n: int) -> list[str]: ...


def choose_examples(bot: _Bot, configured: list[str]) -> list[str]:
    """The configured questions, then questions made from the articles' titles that ``bot`` answers with at
    least EXAMPLE_CONFIDENCE (each one asked once)."""
    chosen = configured[:EXAMPLES]
    for question in bot.example_questions(EXAMPLE_CANDIDATES):
        if len(chosen) >= EXAMPLES:
            break
        if question in chosen:
            continue
        try:
            response = bot.ask(question)
        except QABotError:
            continue
        if response.answers and response.answers[0].score >= EXAMPLE_CONFIDENCE:
            chosen.append(question)
    return chosen
