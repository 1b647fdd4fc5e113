"""Follow-up question resolution from the chat history, without any generative model.

Method: a question that leans on the previous turn (it has a pronoun such as "he" or
"there", or fewer than three content words) is rewritten in two ways:
- for the reader, a person pronoun is replaced by the previous answer when the previous
  question asked "who" ("Which bases did he say ..." -> "Which bases did Col. Caggins say ...");
- for retrieval, the content words of the previous question and its answer are appended,
  so BM25 and the embedder look in the same place as the previous turn.
A self-contained question is left untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD = re.compile(r"[\w'-]+", re.UNICODE)
_PERSON_PRONOUNS = {"he": "", "she": "", "him": "", "they": "", "them": "", "his": "'s", "her": "'s", "their": "'s"}
_OTHER_REFERENCES = {"it", "its", "this", "that", "there", "these", "those", "then"}
_STOPWORDS = {
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "at",
    "to",
    "for",
    "by",
    "with",
    "from",
    "and",
    "or",
    "is",
    "are",
    "was",
    "were",
    "be",
    "been",
    "do",
    "does",
    "did",
    "what",
    "which",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "many",
    "much",
    "say",
    "said",
    "tell",
    "me",
    "about",
    "also",
    "else",
    "other",
}


@dataclass(frozen=True)
class Turn:
    question: str
    answer: str | None


@dataclass(frozen=True)
class ResolvedQuestion:
    reader_question: str
    retrieval_query: str
    used_history: bool


def content_words(text: str) -> list[str]:
    words = (w.lower() for w in _WORD.findall(text))
    return [w for w in words if w not in _STOPWORDS and w not in _PERSON_PRONOUNS and w not in _OTHER_REFERENCES]


def resolve_followup(question: str, history: list[Turn] | None) -> ResolvedQuestion:
    if not history:
        return ResolvedQuestion(question, question, False)
    words = [w.lower() for w in _WORD.findall(question)]
    refers_back = any(w in _PERSON_PRONOUNS or w in _OTHER_REFERENCES for w in words)
    if not refers_back and len(content_words(question)) >= 3:
        return ResolvedQuestion(question, question, False)

    previous = history[-1]
    reader_question = question
    asked_who = previous.question.strip().lower().startswith("who")
    if previous.answer and asked_who:
        reader_question = _replace_first_person_pronoun(question, previous.answer)
    context = " ".join(content_words(previous.question) + content_words(previous.answer or ""))
    return ResolvedQuestion(reader_question, f"{question} {context}".strip(), True)


def _replace_first_person_pronoun(question: str, person: str) -> str:
    def substitute(match: re.Match) -> str:
        return person + _PERSON_PRONOUNS[match.group(0).lower()]

    pattern = r"\b(" + "|".join(_PERSON_PRONOUNS) + r")\b"
    return re.sub(pattern, substitute, question, count=1, flags=re.IGNORECASE)
