"""The question-answering pipeline: retrieve passages, read spans, cite sentences.

`QABot` loads the models once; `ask` is safe to call from several threads. An
index update (`index_corpus`) builds a new version beside the live one and then
swaps it in, so a question is always answered from one consistent version; a
version switched in by another process (`qa-bot index`) is followed the same way
(`follow_current`, or every few seconds with `follow_index`).
Questions are cleaned here, once (`clean_question`); a caller that wants to refuse
a bad question before the models load cleans it first and passes the `Question` on.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from qa_bot.answer_policy import AnswerPolicy, load_policy
from qa_bot.citations import cite_spans
from qa_bot.embedding import Embedder
from qa_bot.errors import QABotError
from qa_bot.followup import Turn, resolve_followup
from qa_bot.index import OpenIndex, SyncReport, sync_index
from qa_bot.index.version import read_current
from qa_bot.reader import Reader
from qa_bot.retrieval import HybridRetriever
from qa_bot.settings import Settings
from qa_bot.types import Response, Retrieved

logger = logging.getLogger(__name__)
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Lone surrogates: undecodable bytes in argv or a file read with surrogateescape, or a JSON "\ud800" escape.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True)
class Question:
    """A question as the bot answers it: cleaned and shortened, with the notices saying what was changed."""

    text: str
    notices: tuple[str, ...] = ()


def clean_question(question: object, max_chars: int) -> Question:
    """Normalise a raw question; refuse an empty one, shorten an overlong one with a notice."""
    if question is not None and not isinstance(question, str):
        raise QABotError(f"the question must be text, not {type(question).__name__}; send it as a string")
    notices = []
    text = question or ""
    if _SURROGATES.search(text):
        text = _SURROGATES.sub("\ufffd", text)
        notices.append("the question held bytes that are not valid text; they were replaced by \ufffd")
    text = unicodedata.normalize("NFKC", _CONTROL_CHARS.sub(" ", text)).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        raise QABotError("the question is empty; type a question about the articles")
    if len(text) > max_chars:
        text = text[:max_chars].rsplit(" ", 1)[0] or text[:max_chars]
        notices.append(f"question shortened to its first {len(text)} characters (limit {max_chars})")
    return Question(text, tuple(notices))


@dataclass
class _Live:
    """One index version with the retriever over it; swapped as a whole.

    ``users`` counts the questions (and page views) using it; a version replaced by a reload is
    closed when its last user is done, so old versions' files are not held open.
    """

    index: OpenIndex
    retriever: HybridRetriever
    users: int = 0
    retired: bool = False


def _live_over(index: OpenIndex, embedder: Embedder, settings: Settings) -> _Live:
    return _Live(index, HybridRetriever(index, embedder, settings))


def _open_live(index_dir: Path, embedder: Embedder, settings: Settings) -> _Live:
    return _live_over(OpenIndex.load(index_dir, embedder.identity()), embedder, settings)


def policy_for(settings: Settings, reader: Reader) -> AnswerPolicy:
    """The answer policy in this reader's folder (or the fallback, with a warning); the threshold setting wins."""
    policy, problem = load_policy(settings.reader_path(), reader.threshold)
    if problem:
        logger.warning(problem)
    if settings.no_answer_threshold is not None:
        policy = replace(policy, answer_threshold=settings.no_answer_threshold)
    return policy


class QABot:
    """Built by `from_index` (loads the models) or `from_parts` (models and an index the caller loaded)."""

    def __init__(
        self,
        index_dir: Path,
        settings: Settings,
        embedder: Embedder,
        reader: Reader,
        live: _Live,
        policy: AnswerPolicy | None = None,
    ):
        self.index_dir = Path(index_dir)
        self.settings = settings
        self.embedder = embedder
        self.reader = reader
        self.policy = policy or policy_for(settings, reader)
        self._live = live
        self._swap_lock = threading.Lock()
        self._index_lock = threading.Lock()
        self._follow_problem = ""  # why the version CURRENT names was last refused, logged once

    @classmethod
    def from_parts(
        cls,
        index: OpenIndex,
        embedder: Embedder,
        reader: Reader,
        settings: Settings,
        policy: AnswerPolicy | None = None,
    ) -> QABot:
        """A bot over an index version already loaded, with models already loaded (shared between bots);
        ``policy`` defaults to the answer policy in ``reader``'s folder."""
        index.check_embedder(embedder.identity())
        return cls(index.index_dir, settings, embedder, reader, _live_over(index, embedder, settings), policy)

    @classmethod
    def from_index(cls, index_dir: Path | str, settings: Settings | None = None) -> QABot:
        settings = settings or Settings()
        index = OpenIndex.load(Path(index_dir))  # a missing or damaged index fails before any model loads
        try:
            embedder = Embedder.from_settings(settings)
            index.check_embedder(embedder.identity())
            reader = Reader(settings.reader_path(), settings)
        except BaseException:
            index.close()
            raise
        return cls.from_parts(index, embedder, reader, settings)

    @property
    def index(self) -> OpenIndex:
        """The live version, unpinned: a reload may close it; long-running code uses ``borrow_index``."""
        return self._live.index

    @contextmanager
    def _borrow(self) -> Iterator[_Live]:
        with self._swap_lock:
            live = self._live
            live.users += 1
        try:
            yield live
        finally:
            with self._swap_lock:
                live.users -= 1
                done = live.retired and live.users == 0
            if done:
                live.index.close()

    @contextmanager
    def borrow_index(self) -> Iterator[OpenIndex]:
        """The live version, kept open until the block ends even if a reload replaces it meanwhile."""
        with self._borrow() as live:
            yield live.index

    @property
    def threshold(self) -> float:
        """The least confidence an answer needs to be shown."""
        return self.policy.answer_threshold

    def reload(self) -> None:
        """Open the newest index version; questions in flight finish on the version they started with."""
        live = _open_live(self.index_dir, self.embedder, self.settings)
        with self._swap_lock:
            old, self._live = self._live, live
            old.retired = True
            done = old.users == 0
        if done:
            old.index.close()

    def follow_current(self) -> bool:
        """Move to the version CURRENT names if another process (a `qa-bot index` run) switched it; True if so.

        A version that cannot be loaded leaves the live one serving; why is logged once.
        """
        if not self._index_lock.acquire(blocking=False):
            return False  # this bot's own sync is running and reloads when it ends
        try:
            if read_current(self.index_dir) == self.index.version:
                return False
            self.reload()
        except QABotError as error:
            if str(error) != self._follow_problem:
                logger.warning("still answering from index version %s: %s", self.index.version, error)
            self._follow_problem = str(error)
            return False
        finally:
            self._index_lock.release()
        self._follow_problem = ""
        return True

    def follow_index(self, every_s: float) -> threading.Event:
        """`follow_current` every ``every_s`` seconds on a daemon thread, until the returned event is set."""
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(every_s):
                self.follow_current()

        threading.Thread(target=watch, name="qa-bot-follow-index", daemon=True).start()
        return stop

    def index_corpus(self, corpus_dir: Path) -> SyncReport:
        with self._index_lock:
            report = sync_index(Path(corpus_dir), self.index_dir, self.settings, progress=False, embedder=self.embedder)
            self.reload()
        return report

    def retrieve(self, question: str, top_k: int, mode: str = "hybrid") -> list[Retrieved]:
        """The passages the bot's own retrieval finds, from one version kept open for the call; ``top_k`` is not
        capped by ``settings.top_k_limit`` (for evaluation and benchmarks)."""
        with self._borrow() as live:
            return live.retriever.retrieve(question, top_k, mode)

    def ask(self, question: str | Question, history: list[Turn] | None = None, top_k: int | None = None) -> Response:
        """Answer from one consistent index version, which stays open until the answer is built. A raw question is
        cleaned first; a `Question` from `clean_question` is answered as it is."""
        with self._borrow() as live:
            return self._ask(live, question, history, top_k)

    def _ask(self, live: _Live, question: str | Question, history: list[Turn] | None, top_k: int | None) -> Response:
        began = time.perf_counter()
        if not isinstance(question, Question):
            question = clean_question(question, self.settings.max_question_chars)
        text = question.text
        resolved = resolve_followup(text, history)
        top_k = max(1, min(top_k or self.settings.top_k, self.settings.top_k_limit))
        retrieved = live.retriever.retrieve(resolved.retrieval_query, top_k)
        result = self.reader.read(resolved.reader_question, [r.passage for r in retrieved])
        candidates = cite_spans(
            result.spans, {r.passage.passage_id: r for r in retrieved}, live.index.sentences, live.index.article_text
        )
        shown = self.policy.decide(result.question, candidates, retrieved)
        return Response(
            question=text,  # as used: cleaned and shortened, never a 10 MB echo
            answers=shown.answers,
            withheld=shown.withheld,
            articles_differ=shown.articles_differ,
            retrieved=retrieved,
            latency_ms=(time.perf_counter() - began) * 1000,
            resolved_question=result.question,
            notices=[*question.notices, *result.notices],
        )

    def example_questions(self, n: int = 3) -> list[str]:
        """Configured examples first, then questions made from indexed article titles."""
        examples = list(self.settings.example_questions)
        with self.borrow_index() as index:
            articles = index.list_articles()
        for article in articles:
            if len(examples) >= n:
                break
            examples.append(question_from_title(article["title"]))
        return examples[:n]


_ROLE_WORDS = ("spokesman", "spokeswoman", "spokesperson", "minister", "president", "chief", "leader", "commander")


def question_from_title(title: str) -> str:
    """'Coalition Spokesman: We continue ...' -> 'Who is the Coalition Spokesman?'."""
    head, separator, _ = title.partition(":")
    head = head.strip()
    if separator and 1 <= len(head.split()) <= 4:
        return f"Who is the {head}?" if head.lower().endswith(_ROLE_WORDS) else f"What did {head} say?"
    return f"What is known about {title.strip().rstrip('.?!')}?"
