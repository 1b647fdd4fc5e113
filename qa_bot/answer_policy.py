"""The answer policy: the one place that decides what the user is shown (library, CLI, HTTP API and UI alike).

From the candidate answers the reader found (``qa_bot.citations.cite_spans``):

1. **Confidence.** Each candidate gets the probability that it is right from a small logistic regression over
   features of the full-pipeline read (reader logit, retrieval ranks, agreeing passages and articles, answer
   length, overlap with the question's own words, ...). It is fitted on held-out full-pipeline reads by
   ``python -m qa_bot.training.fit_answer_policy`` and ranks the candidates when that re-ranking measurably
   raised top-1 precision (else the reader logit ranks them).
2. **The answer** is the best candidate when its confidence reaches ``answer_threshold``; otherwise nothing is shown.
3. **List items.** When the question asks for several things ("Which bases ...", "Name the ...") and the answer sits
   in an enumeration ("Erbil and Al-Assad Air Bases, in the Kurdistan Region and Anbar Province, as well as Camp
   Taji"), the other items of that enumeration that the reader also found follow it, each with its own citation.
   The enumeration is read from the sentence's commas, semicolons, "and", "or" and "as well as"; a segment opening
   with a preposition ("in the Kurdistan Region and Anbar Province") describes the item before it and is skipped,
   and an item must have the answer's shape (a name, a number or a phrase).
4. **Alternatives** are other candidates whose confidence is within ``alternative_margin`` of the answer's (the
   margin is fitted so that the answers shown meet the precision target; ``null`` shows none).

5. **Articles differ.** When a candidate from another article (none of its citations in the answer's articles) has
   the answer's shape and the reader read it with at least ``DIFFER_SHARE`` of the answer's reader score, that
   article contradicts the answer: it is shown beside it as an alternative and the response says the articles
   differ (news articles are updated and corrected; showing both is more honest than hiding one). The reader's
   score, not the confidence, decides: it says how firmly each passage answers on its own, while the confidence
   also counts agreement and rank, which always favour the first answer.

Everything else is withheld, each candidate with the reason (``withheld_because``).

The fitted parameters are ``answer_policy.json`` in the folder of the reader they were fitted with
(``qa_bot/models/reader/answer_policy.json`` for the fast reader) and hold for that reader only. Without a valid
policy file for the reader in use (a missing or damaged file, or one fitted for another reader), the **fallback**
is: confidence = the reader's calibrated score, candidates ranked by it, the reader's no-answer threshold, list
items as above, no alternatives.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from qa_bot.adapters import ADAPTER_WEIGHTS
from qa_bot.citations import Candidate, normalize_answer
from qa_bot.settings import READER_CONFIG
from qa_bot.types import Answer, Citation, Retrieved

POLICY_FILE = "answer_policy.json"  # in the folder of the reader it was fitted for
READER_WEIGHTS = ("model.safetensors", ADAPTER_WEIGHTS)  # a full model, or a LoRA adapter with its QA head
DIFFER_SHARE = 0.6  # another article's answer read this firmly (share of the answer's reader score) disagrees

# Why a candidate was withheld (Answer.withheld_because).
BELOW_THRESHOLD = "below the answer threshold"
OUTSIDE_MARGIN = "outside the margin for other possible answers"
BEYOND_ALTERNATIVES = "beyond the number of other possible answers shown"
NOT_A_LIST_ITEM = "in the answer's sentence but not an item of its list"

# ---------------------------------------------------------------- questions


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


QUESTION_TYPES = ("who", "what", "when", "where", "why", "how many", "how much", "which", "other")
STOPWORDS = _words(
    "a an the of in on at to for from by with and or as is are was were be been being do does did "
    "what which who whom whose when where why how many much that this these those it its there their "
    "they he she his her i we you not no"
)
WORD = re.compile(r"[a-z0-9]+")
NUMBER_WORDS = _words(
    "one two three four five six seven eight nine ten eleven twelve twenty thirty forty fifty "
    "hundred thousand million billion dozen half century decade january february march april may "
    "june july august september october november december"
)
# Plural nouns that do not end in "s", and words ending in "s" that are not plurals.
IRREGULAR_PLURALS = _words("people men women children police staff feet teeth mice criteria data media")
NOT_PLURAL = _words("is was has does this its his hers yours ours series species news physics status")
COUNT_WORDS = _words("two three four five six seven eight nine ten several")
QUESTION_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


def question_type(question: str) -> str:
    """The first question word decides: "In which year..." is "which", "How many..." is "how many"."""
    words = re.findall(r"[a-z]+", question.lower())
    for position, word in enumerate(words):
        if word == "how":
            following = words[position + 1] if position + 1 < len(words) else ""
            return f"how {following}" if following in ("many", "much") else "other"
        if word in ("who", "whom", "whose"):
            return "who"
        if word in QUESTION_TYPES:
            return word
    return "other"


def _is_plural(word: str) -> bool:
    if word in IRREGULAR_PLURALS:
        return True
    return len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")) and word not in NOT_PLURAL


def asks_for_several(question: str) -> bool:
    """ "Which bases ...", "What three rivers ...", "Who were the founders ...", "Name the ...": a plural asked for.

    Only the word right after the first question word counts ("Which base hosts ..." asks for one), so a
    compound noun ("Which air bases ...") is missed rather than a singular question read as a list.
    """
    words = QUESTION_WORD.findall(question.lower())
    if words[:1] in (["name"], ["list"]):
        return True
    for position, word in enumerate(words[:-1]):
        if word in ("which", "what", "who"):
            following = words[position + 1]
            if following in ("are", "were"):
                return True
            return word != "who" and (following in COUNT_WORDS or _is_plural(following))
    return False


# ---------------------------------------------------------------- features of a candidate


def _content_words(text: str) -> list[str]:
    return [word for word in WORD.findall(normalize_answer(text)) if word not in STOPWORDS]


def question_overlap(question: str, answer: str) -> float:
    """Share of the answer's content words that the question already uses (an answer repeating it is rarely right)."""
    answer_words = _content_words(answer)
    if not answer_words:
        return 0.0
    asked = set(_content_words(question))
    return sum(word in asked for word in answer_words) / len(answer_words)


def _looks_numeric(text: str) -> bool:
    return any(char.isdigit() for char in text) or any(word in NUMBER_WORDS for word in WORD.findall(text.lower()))


def shape_match(question: str, answer: str) -> float:
    """+1 when the answer has the shape the question asks for (a number for "how many", a name for "who"),
    -1 when it has not, 0 when the question does not say."""
    kind = question_type(question)
    lowered = question.lower()
    if kind in ("how many", "how much", "when") or re.search(r"\b(?:what|which) (?:year|date|month|day)\b", lowered):
        return 1.0 if _looks_numeric(answer) else -1.0
    if kind == "who":
        return 1.0 if answer[:1].isupper() else -1.0
    return 0.0


FEATURES = (
    "span_logit",  # the reader's best span logit for this answer
    "logit_gap",  # how far below the question's best candidate
    "reader_rank",  # log(1 + rank by reader logit)
    "retrieval_rank",  # log(1 + best retrieval rank of the passages that gave it)
    "fused_ratio",  # its best passage's fused retrieval score / the top passage's
    "passages",  # log of the passages that gave it (agreement)
    "extra_articles",  # distinct articles that gave it, minus one (agreement)
    "answer_words",  # log(1 + words)
    "question_overlap",
    "shape_match",
)


def candidate_features(question: str, candidates: Sequence[Candidate], retrieved: Sequence[Retrieved]) -> np.ndarray:
    """One row of FEATURES per candidate (candidates best first by reader logit)."""
    by_id = {r.passage.passage_id: r for r in retrieved}
    top_fused = max((r.score for r in retrieved), default=1.0) or 1.0
    best_logit = max((c.span_logit for c in candidates), default=0.0)
    rows = []
    for rank, candidate in enumerate(candidates):
        hits = [by_id[p] for p in candidate.passage_ids if p in by_id]
        text = candidate.answer.text
        rows.append(
            [
                candidate.span_logit,
                best_logit - candidate.span_logit,
                math.log1p(rank),
                math.log1p(min((h.rank for h in hits), default=len(retrieved))),
                max((h.score for h in hits), default=0.0) / top_fused,
                math.log(max(1, len(candidate.passage_ids))),
                candidate.answer.article_count - 1,
                math.log1p(len(text.split())),
                question_overlap(question, text),
                shape_match(question, text),
            ]
        )
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(FEATURES))


# ---------------------------------------------------------------- lists


LIST_SEPARATORS = re.compile(r"[,;:]")
LEADING_CONJUNCTION = re.compile(r"^\s*(?:and|or|as well as|along with|plus|and also|but also)\b\s*", re.IGNORECASE)
INNER_CONJUNCTION = re.compile(r"\s+(?:and|or|&)\s+", re.IGNORECASE)
MODIFIER_START = re.compile(
    r"^\s*(?:in|at|on|near|of|from|with|by|for|to|into|within|across|around|outside|inside|under|over|between"
    r"|about|some|located|which|who|where|whose|that|including|such|both|respectively|each|all)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class _Unit:
    """A piece of an enumeration: an item slot, or a modifier phrase describing the item before it."""

    start: int
    end: int
    modifier: bool


def enumeration_units(sentence: str, offset: int = 0) -> list[_Unit]:
    """The sentence cut at commas, semicolons and colons, then at "and"/"or" inside segments that are not modifiers.

    Offsets are ``offset`` + positions in ``sentence`` (pass the sentence's article offset to get article offsets).
    """
    units = []
    begin = 0
    for end in [m.start() for m in LIST_SEPARATORS.finditer(sentence)] + [len(sentence)]:
        segment = sentence[begin:end]
        conjunction = LEADING_CONJUNCTION.match(segment)
        core_start = begin + (conjunction.end() if conjunction else len(segment) - len(segment.lstrip()))
        core = sentence[core_start:end]
        if MODIFIER_START.match(core):
            units.append(_Unit(offset + core_start, offset + end, True))
        else:
            piece_start = core_start
            for inner in INNER_CONJUNCTION.finditer(core):
                units.append(_Unit(offset + piece_start, offset + core_start + inner.start(), False))
                piece_start = core_start + inner.end()
            units.append(_Unit(offset + piece_start, offset + end, False))
        begin = end + 1
    return [u for u in units if u.end > u.start]


def answer_shape(text: str) -> str:
    if _looks_numeric(text) and any(char.isdigit() for char in text):
        return "number"
    return "name" if text[:1].isupper() else "phrase"


def _citation_in(answer: Answer, article_id: str, sentence_start: int) -> Citation | None:
    return next(
        (c for c in answer.citations if c.article_id == article_id and c.sentence_start == sentence_start), None
    )


def list_items(primary: Answer, others: Sequence[Answer]) -> list[tuple[Answer, Citation]]:
    """The other items of the enumeration holding ``primary``'s first citation, in sentence order.

    Walking away from the answer on both sides, a modifier unit is skipped; a unit overlapped by another
    candidate of the same shape (cited in the same sentence, overlapping no modifier) is an item; anything else
    ends the enumeration.
    """
    anchor = primary.citations[0]
    units = enumeration_units(anchor.sentence, anchor.sentence_start)
    covered = [i for i, u in enumerate(units) if u.start < anchor.answer_end and anchor.answer_start < u.end]
    if not covered:
        return []
    shape = answer_shape(primary.text)
    placed = []
    for other in others:
        citation = _citation_in(other, anchor.article_id, anchor.sentence_start)
        if citation is None or answer_shape(other.text) != shape:
            continue
        touched = [i for i, u in enumerate(units) if u.start < citation.answer_end and citation.answer_start < u.end]
        if touched and not any(units[i].modifier for i in touched):
            placed.append((touched, other, citation))

    def walk(position: int, step: int) -> list[tuple[Answer, Citation]]:
        found = []
        while 0 <= position < len(units):
            if units[position].modifier:
                position += step
                continue
            item = next((p for p in placed if position in p[0] and p[1] not in [f[0] for f in found]), None)
            if item is None:
                break
            found.append((item[1], item[2]))
            position = (max(item[0]) if step > 0 else min(item[0])) + step
        return found

    before = walk(min(covered) - 1, -1)
    after = walk(max(covered) + 1, 1)
    return sorted(before + after, key=lambda pair: pair[1].answer_start)


# ---------------------------------------------------------------- the policy


@dataclass(frozen=True)
class Shown:
    answers: list[Answer]  # exactly what the user is shown, best first
    withheld: list[Answer]  # candidates not shown, best first, each with why
    articles_differ: bool = False  # answers include another article's contradicting answer


def _articles(answer: Answer) -> set[str]:
    return {citation.article_id for citation in answer.citations}


def disagreeing(primary: Answer, others: Sequence[Answer], reader_score: Callable[[Answer], float]) -> list[Answer]:
    """Candidates from other articles that contradict ``primary`` (see "Articles differ" above), best first."""
    return [
        other
        for other in others
        if not _articles(other) & _articles(primary)
        and answer_shape(other.text) == answer_shape(primary.text)
        and normalize_answer(other.text) != normalize_answer(primary.text)
        and reader_score(other) >= DIFFER_SHARE * reader_score(primary)
    ]


def _withheld(answer: Answer, reason: str) -> Answer:
    return replace(answer, role="alternative", withheld_because=reason)


def _why_withheld(answer: Answer, primary: Answer, close: Sequence[Answer], asks_several: bool) -> str:
    anchor = primary.citations[0]
    if asks_several and _citation_in(answer, anchor.article_id, anchor.sentence_start) is not None:
        return NOT_A_LIST_ITEM
    return BEYOND_ALTERNATIVES if any(answer is c for c in close) else OUTSIDE_MARGIN


@dataclass(frozen=True)
class ConfidenceModel:
    """Standardised logistic regression over FEATURES."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        z = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coef) + self.intercept)))


@dataclass(frozen=True)
class AnswerPolicy:
    answer_threshold: float  # minimum confidence of the answer
    model: ConfidenceModel | None = None  # None: the fallback (the reader's calibrated score)
    rerank: bool = False  # rank candidates by the model's confidence instead of the reader logit
    alternative_margin: float | None = None  # alternatives within this much confidence of the answer; None = none
    max_alternatives: int = 2
    source: str = "fallback"  # where the parameters came from, for notices and the model card
    report: dict = field(default_factory=dict, compare=False)

    def confidences(self, question: str, candidates: Sequence[Candidate], retrieved: Sequence[Retrieved]) -> np.ndarray:
        if self.model is None or not candidates:
            return np.asarray([c.answer.score for c in candidates], dtype=np.float64)
        return self.model.probabilities(candidate_features(question, candidates, retrieved))

    def decide(self, question: str, candidates: Sequence[Candidate], retrieved: Sequence[Retrieved]) -> Shown:
        """What to show for ``question`` given its candidates (best first by reader logit)."""
        confidence = self.confidences(question, candidates, retrieved)
        order = sorted(
            range(len(candidates)),
            key=lambda i: -(confidence[i] if self.rerank else candidates[i].span_logit),
        )
        scored = [replace(candidates[i].answer, score=float(confidence[i])) for i in order]
        read_as = {id(answer): candidates[i].answer.score for answer, i in zip(scored, order, strict=True)}
        if not scored or scored[0].score < self.answer_threshold:
            return Shown([], [_withheld(a, BELOW_THRESHOLD) for a in scored])
        primary, rest = scored[0], scored[1:]
        several = asks_for_several(question)
        items = list_items(primary, rest) if several else []
        item_answers = [
            replace(a, role="list_item", score=primary.score, citations=(c,), article_count=1) for a, c in items
        ]
        listed = {id(a) for a, _ in items}
        others = [a for a in rest if id(a) not in listed]
        close = [
            a
            for a in others
            if self.alternative_margin is not None and a.score >= primary.score - self.alternative_margin
        ]
        differing = disagreeing(primary, others, lambda answer: read_as[id(answer)])
        shown = [*differing, *(a for a in close if all(a is not d for d in differing))][
            : max(self.max_alternatives, len(differing))
        ]
        alternatives = [replace(a, role="alternative") for a in shown]
        withheld = [
            _withheld(a, _why_withheld(a, primary, close, several)) for a in others if all(a is not c for c in shown)
        ]
        return Shown([primary, *item_answers, *alternatives], withheld, articles_differ=bool(differing))


# ---------------------------------------------------------------- loading


def reader_fingerprint(reader_path: str | Path) -> str | None:
    """sha256 over the reader folder's weights (the full model's, or the adapter's) and calibration (score scaling
    and threshold, not the quality records kept beside them); None when it is not a folder with weights."""
    folder = Path(reader_path)
    weights = next((folder / name for name in READER_WEIGHTS if (folder / name).is_file()), None)
    if weights is None:
        return None
    digest = hashlib.sha256()
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    config_path = folder / READER_CONFIG
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    calibration = {key: config.get(key) for key in ("no_answer_threshold", "score_calibration")}
    digest.update(json.dumps(calibration, sort_keys=True).encode())
    return digest.hexdigest()


def fallback_policy(reader_threshold: float) -> AnswerPolicy:
    return AnswerPolicy(answer_threshold=reader_threshold)


def policy_from_json(record: dict) -> AnswerPolicy:
    model = record["model"]
    if tuple(model["features"]) != FEATURES:
        raise ValueError(f"features {model['features']} are not this version's {list(FEATURES)}")
    confidence = ConfidenceModel(
        tuple(map(float, model["mean"])),
        tuple(map(float, model["scale"])),
        tuple(map(float, model["coef"])),
        float(model["intercept"]),
    )
    if not len(confidence.mean) == len(confidence.scale) == len(confidence.coef) == len(FEATURES):
        raise ValueError("model vectors do not match the features")
    margin = record.get("alternative_margin")
    return AnswerPolicy(
        answer_threshold=float(record["answer_threshold"]),
        model=confidence,
        rerank=bool(record["rerank"]),
        alternative_margin=None if margin is None else float(margin),
        max_alternatives=int(record.get("max_alternatives", 2)),
        source="fitted",
        report=record.get("report", {}),
    )


def load_policy(
    reader_path: str | Path, reader_threshold: float, path: str | Path | None = None
) -> tuple[AnswerPolicy, str | None]:
    """The fitted policy for this reader (``path``, by default its folder's POLICY_FILE), or the fallback and one
    line saying why."""
    path = Path(reader_path) / POLICY_FILE if path is None else Path(path)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if record.get("reader_fingerprint") != reader_fingerprint(reader_path):
            return fallback_policy(reader_threshold), (
                f"the answer policy {path.name} was fitted for another reader; using the reader's own scores"
                " (run python -m qa_bot.training.fit_answer_policy to refit it)"
            )
        return policy_from_json(record), None
    except FileNotFoundError:
        return fallback_policy(reader_threshold), f"no answer policy at {path}; using the reader's own scores"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        return fallback_policy(reader_threshold), (
            f"the answer policy {path} is unusable ({type(error).__name__}: {error}); using the reader's own scores"
        )
