"""Typed records passed between pipeline stages.

Data flows one way: Article -> Sentence -> Passage -> (vectors + SQLite rows)
-> Retrieved -> Span -> Answer(Citation). Every offset is a character offset
into ``Article.text`` unless the field name says otherwise.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Article:
    article_id: str  # content hash of ``text`` (stable across renames)
    title: str
    text: str
    source: str  # publisher/source name when known, else the file name
    path: str  # file path relative to the corpus folder (the sync key)
    url: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Sentence:
    article_id: str
    index: int  # position of the sentence in the article
    start: int
    end: int
    text: str  # == article.text[start:end]


@dataclass(frozen=True)
class Passage:
    passage_id: str  # f"{article_id}:{index}"
    article_id: str
    index: int
    start: int
    end: int
    text: str  # == article.text[start:end]
    first_sentence: int
    last_sentence: int  # inclusive


@dataclass(frozen=True)
class ArticleInfo:
    """What a citation needs to know about an article, without its full text."""

    article_id: str
    title: str
    source: str
    path: str
    url: str | None = None
    date: str | None = None


@dataclass(frozen=True)
class Retrieved:
    passage: Passage
    article: ArticleInfo
    score: float  # fused (reciprocal rank fusion) score
    rank: int  # 0-based rank after fusion
    dense_score: float | None = None  # cosine similarity, None if not in the dense top list
    bm25_score: float | None = None  # None if not in the BM25 top list
    dense_rank: int | None = None  # 0-based rank in the dense top list, None if not in it
    bm25_rank: int | None = None  # 0-based rank in the BM25 top list, None if not in it


@dataclass(frozen=True)
class Span:
    """A reader answer inside one passage; offsets are into ``passage.text``."""

    passage_id: str
    start: int
    end: int
    text: str
    score: float  # in [0, 1], comparable across passages
    span_logit: float  # start+end logit of the span minus the passage's no-answer logit


@dataclass(frozen=True)
class Citation:
    article_id: str
    title: str
    source: str
    url: str | None
    date: str | None
    passage_id: str
    sentence: str  # the cited sentence(s) text, article.text[sentence_start:sentence_end]
    sentence_start: int
    sentence_end: int
    answer_start: int
    answer_end: int
    text: str = ""  # the surface form cited here: article.text[answer_start:answer_end]


ANSWER_ROLES = ("answer", "list_item", "alternative")
MAX_WITHHELD = 5  # withheld candidates in the JSON contract (the UI's support view shows them all)


@dataclass(frozen=True)
class Answer:
    text: str
    score: float  # confidence in [0, 1] that this answer is right
    citations: tuple[Citation, ...]
    retrieved: Retrieved | None = None  # the passage the span was read from (support view)
    role: str = "answer"  # one of ANSWER_ROLES (see qa_bot/answer_policy.py)
    article_count: int = 1  # distinct articles that give this answer
    withheld_because: str = ""  # why the answer policy did not show it; empty for answers shown


# Citation fields in the stable JSON contract (passage_id and date stay internal).
CITATION_CONTRACT_FIELDS = (
    "article_id",
    "title",
    "source",
    "url",
    "sentence",
    "sentence_start",
    "sentence_end",
    "answer_start",
    "answer_end",
    "text",
)


def answer_json(answer: Answer) -> dict:
    record = {
        "text": answer.text,
        "score": round(answer.score, 4),
        "role": answer.role,
        "article_count": answer.article_count,
        "citations": [{k: v for k, v in asdict(c).items() if k in CITATION_CONTRACT_FIELDS} for c in answer.citations],
    }
    if answer.withheld_because:
        record["withheld_because"] = answer.withheld_because
    return record


@dataclass
class Response:
    question: str
    answers: list[Answer]  # exactly what the user is shown, best first: the answer, its list items, alternatives
    retrieved: list[Retrieved]  # passages the reader looked at, best first
    latency_ms: float
    resolved_question: str = ""  # the question as the reader read it: follow-up resolved, cut to its token budget
    notices: list[str] = field(default_factory=list)
    withheld: list[Answer] = field(default_factory=list)  # candidates not shown, best first
    articles_differ: bool = False  # the answers shown include ones from other articles that contradict it

    def to_json(self) -> dict:
        """The stable CLI/API contract (see README)."""
        return {
            "question": self.question,
            "answers": [answer_json(a) for a in self.answers],
            "latency_ms": round(self.latency_ms, 1),
            "withheld": [answer_json(a) for a in self.withheld[:MAX_WITHHELD]],
            "articles_differ": self.articles_differ,
        }
