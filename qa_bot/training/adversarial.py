"""Robustness data for the reader: AddSent-style distractor sentences and edited unanswerable questions.

Built from SQuAD articles by rules alone, so the training set comes from the training split and the dev set
from the held-out articles, and no model is involved:

* **Distractors** (Jia & Liang 2017, AddSent; varied as in AddSentDiverse, Wang & Bansal 2018): the question is
  perturbed (its names swapped for other names, its numbers changed, or a word replaced by its antonym), turned
  into a statement whose wh-phrase is filled by a fake answer of the same question type, and inserted at a random
  sentence boundary of the paragraph. The statement shares the question's words but answers a different question,
  so the label stays the real answer.
* **Unanswerables** (SQuAD 2.0 style): one name, number or antonym-bearing word of the question that the paragraph
  uses is replaced by one the paragraph does not use, so the paragraph stays on topic but no longer answers. They
  are labelled no-answer.
* **Question echoes** (the seed failure: "The government of Iraq ... condemned attacks on Iraqi bases that host
  Coalition troops" read as the answer to "Which bases host Coalition troops?"): a subject question's predicate
  becomes a relative clause ("bases that host Coalition troops") inside a sentence about some other name ("X has
  strongly condemned attacks on the bases that host Coalition troops."). Inserted into the question's own
  paragraph the label stays the real answer; inserted into another paragraph of its article, which does not
  answer, the label is no-answer, so the echoing name is never the answer on its own.

Fake answers and replacement names are mined from the training answers by question type (who, when, how many,
where ...), which keeps them the same kind of thing as the real answer.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

import blingfire
from lemminflect import getAllLemmas, getInflection

from qa_bot.answer_policy import question_type
from qa_bot.citations import normalize_answer
from qa_bot.squad import SquadExample
from qa_bot.training.statements import (
    BE_FORMS,
    DETERMINERS,
    DO_FORMS,
    MODALS,
    is_finite_verb,
    is_tensed_verb,
    to_statement,
)

ANTONYMS = {
    "first": "last",
    "largest": "smallest",
    "biggest": "smallest",
    "highest": "lowest",
    "most": "least",
    "before": "after",
    "earliest": "latest",
    "oldest": "newest",
    "longest": "shortest",
    "increase": "decrease",
    "increased": "decreased",
    "north": "south",
    "east": "west",
    "northern": "southern",
    "eastern": "western",
    "major": "minor",
    "best": "worst",
    "early": "late",
    "maximum": "minimum",
    "upper": "lower",
    "inner": "outer",
    "positive": "negative",
    "win": "lose",
    "won": "lost",
    "larger": "smaller",
    "more": "less",
    "private": "public",
    "modern": "ancient",
    "western": "eastern",
    "southern": "northern",
}
ANTONYMS |= {
    "last": "first",
    "smallest": "largest",
    "lowest": "highest",
    "least": "most",
    "after": "before",
    "latest": "earliest",
    "newest": "oldest",
    "shortest": "longest",
    "decrease": "increase",
    "decreased": "increased",
    "south": "north",
    "west": "east",
    "minor": "major",
    "worst": "best",
    "late": "early",
    "minimum": "maximum",
    "lower": "higher",
    "outer": "inner",
    "negative": "positive",
    "lose": "win",
    "lost": "won",
    "smaller": "larger",
    "fewer": "more",
    "less": "more",
    "public": "private",
    "ancient": "modern",
}

PLACE_PREPOSITIONS = {"in", "at", "from", "near", "to", "across", "throughout"}
_CAPITALISED_RUN = re.compile(r"\b[A-Z][\w.-]*(?:\s+(?:of|the|de|da|del|von|van|for)?\s*[A-Z][\w.-]*)*")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")


@dataclass(frozen=True)
class AnswerPools:
    """Training answers by question type, and capitalised names by the type of question they answered."""

    by_type: dict[str, list[str]]
    names: dict[str, list[str]]  # question type -> capitalised answers
    name_types: dict[str, str]

    def fake_answer(self, kind: str, avoid: str, rng: random.Random) -> str | None:
        pool = self.by_type.get(kind) or self.by_type["what"]
        for _ in range(40):
            candidate = rng.choice(pool)
            if _disjoint(candidate, avoid) and _fits_kind(candidate, kind):
                return candidate
        return None

    def other_name(self, name: str, avoid: str, rng: random.Random, before: str = "") -> str | None:
        """A name of the same kind: the kind it answered in training, else a place after in/at/from, else a person."""
        width = len(name.split())
        kind = self.name_types.get(name) or ("where" if before.lower() in PLACE_PREPOSITIONS else "who")
        pool = self.names.get(kind, [])
        if not pool:
            return None
        for _ in range(40):
            candidate = rng.choice(pool)
            if abs(len(candidate.split()) - width) <= 1 and _disjoint(candidate, avoid + " " + name):
                return candidate
        return None


def _fits_kind(answer: str, kind: str) -> bool:
    """Fake answers of the asked-for kind: a count has a number, a person a capitalised name, a time a digit."""
    if kind in ("how many", "how much"):
        return bool(re.search(r"\d", answer)) and len(answer.split()) <= 3
    if kind in ("who", "where"):
        return answer[0].isupper() and not re.search(r"\d", answer)
    if kind == "when":
        return bool(re.search(r"\d", answer))
    return True


def _disjoint(candidate: str, text: str) -> bool:
    """True when no token of ``candidate`` (normalised) occurs in ``text``."""
    words = set(normalize_answer(text).split())
    tokens = normalize_answer(candidate).split()
    return bool(tokens) and not words.intersection(tokens)


def _is_name(answer: str, context: str) -> bool:
    """Capitalised words that stay capitalised inside a sentence of their paragraph (not a sentence opener)."""
    words = answer.split()
    if not all(word[0].isupper() for word in words if len(word) > 3) or re.search(r"\d", answer):
        return False
    if words[0].endswith("ly") or words[0].endswith("ist"):
        return False
    return bool(re.search(r"[a-z,] " + re.escape(answer), context))


def mine_pools(examples: Iterable[SquadExample]) -> AnswerPools:
    by_type: dict[str, set[str]] = defaultdict(set)
    names: dict[str, set[str]] = defaultdict(set)
    for example in examples:
        if example.answer_start < 0:
            continue
        answer = example.answers[0].strip().rstrip(".,;:")
        if not answer or len(answer.split()) > 6:
            continue
        kind = answer_kind(example.question)
        by_type[kind].add(answer)
        if _is_name(answer, example.context):
            names[kind].add(answer)
    name_types = {name: kind for kind, values in names.items() for name in values}
    return AnswerPools(
        {kind: sorted(values) for kind, values in by_type.items()},
        {kind: sorted(values) for kind, values in names.items()},
        name_types,
    )


_KIND_OF_NOUN = {
    "when": {"year", "years", "date", "time", "century", "decade", "month", "day", "period", "era", "age"},
    "where": {"city", "country", "state", "place", "region", "town", "continent", "location", "area", "island"},
    "how many": {"percentage", "percent", "number", "amount", "population"},
    "who": {"person", "man", "woman", "king", "president", "leader", "author", "emperor", "queen", "artist"},
}


def answer_kind(question: str) -> str:
    """The question type, with "what year"/"which city"/... folded into when/where/how many/who."""
    kind = question_type(question)
    if kind in ("what", "which"):
        match = re.search(rf"\b{kind}\s+(\w+)", question.lower())
        noun = match.group(1) if match else ""
        for folded, nouns in _KIND_OF_NOUN.items():
            if noun in nouns:
                return folded
    return kind


# ---------------------------------------------------------------- question edits


def _capitalised_runs(question: str) -> list[re.Match]:
    """Names in the question, not counting its first word (capitalised because it starts the sentence)."""
    first_word_end = len(question.split(" ", 1)[0])
    return [m for m in _CAPITALISED_RUN.finditer(question) if m.start() > first_word_end - 1 and m.start() > 0]


def _changed_number(number: str, rng: random.Random) -> str:
    digits = number.replace(",", "")
    try:
        value = float(digits)
    except ValueError:
        return number
    if digits.isdigit() and 1500 <= value <= 2030:  # a year: move it a little, never past the data's time
        return str(min(2015, int(value) + rng.choice([-1, 1]) * rng.randint(3, 40)))
    changed = value * rng.choice([0.5, 2, 3, 1.5, 0.25]) + rng.randint(1, 9)
    return f"{int(changed):,}" if "," in number else str(int(changed)) if "." not in digits else f"{changed:.1f}"


def _edits(question: str, context: str, pools: AnswerPools, rng: random.Random, in_context: bool) -> list[tuple]:
    """Candidate (start, end, replacement, kind) edits of the question.

    ``in_context``: only words the paragraph itself uses (for unanswerables: the swap then breaks the match).
    """
    edits = []
    names = _capitalised_runs(question)
    for match in names:
        if in_context and match.group() not in context:
            continue
        before = question[: match.start()].split()[-1:] or [""]
        other = pools.other_name(match.group(), context, rng, before[0])
        if other:
            edits.append((match.start(), match.end(), other, "name"))
    for match in _NUMBER.finditer(question):
        if in_context and match.group() not in context:
            continue
        changed = _changed_number(match.group(), rng)
        if changed != match.group() and changed not in context:
            edits.append((match.start(), match.end(), changed, "number"))
    named_in_context = any(m.group() in context for m in names)
    for match in re.finditer(r"\b[a-z]+\b", question):
        antonym = ANTONYMS.get(match.group())
        if not antonym or _beside_name_or_choice(question, match):
            continue
        if in_context and (named_in_context or not re.search(rf"\b{match.group()}\b", context)):
            continue  # a name the paragraph uses still pins the answer down, whatever the adjective says
        if not re.search(rf"\b{antonym}\b", context, re.IGNORECASE):
            edits.append((match.start(), match.end(), antonym, "antonym"))
    return edits


def _beside_name_or_choice(question: str, match: re.Match) -> bool:
    """ "Kanye West" (part of a name) and "higher or lower" (a choice) are not edited."""
    before = question[: match.start()].split()[-1:]
    after = question[match.end() :].split()[:1]
    neighbours = before + after
    return any(word[:1].isupper() for word in neighbours) or any(word.strip(",?") == "or" for word in neighbours)


def _apply(question: str, edits: Sequence[tuple]) -> str:
    for start, end, replacement, _ in sorted(edits, reverse=True):
        question = question[:start] + replacement + question[end:]
    return question


def perturb_question(question: str, context: str, pools: AnswerPools, rng: random.Random) -> str | None:
    """AddSent step 1: every name and number changed (an antonym when there is neither); None if nothing to change."""
    edits = _edits(question, context, pools, rng, in_context=False)
    strong = [edit for edit in edits if edit[3] != "antonym"]
    pinned = [m for m in [*_capitalised_runs(question), *_NUMBER.finditer(question)] if m.group() in context]
    if any(not any(edit[0] == m.start() for edit in strong) for m in pinned):
        return None  # a name or number the paragraph uses would survive: the statement could answer the question
    chosen = strong or edits[:1]
    return _apply(question, chosen) if chosen else None


def unanswerable_question(
    question: str, context: str, pools: AnswerPools, rng: random.Random
) -> tuple[str, str] | None:
    """One name, number or antonym that the paragraph uses swapped for one it does not: (question, kind)."""
    edits = _edits(question, context, pools, rng, in_context=True)
    if not edits:
        return None
    edit = rng.choice(edits)
    return _apply(question, [edit]), edit[3]


# ---------------------------------------------------------------- examples


def _boundaries(context: str) -> list[int]:
    """Character positions between sentences, plus the start and the end of the paragraph."""
    ends = [end for _, end in blingfire.text_to_sentences_and_offsets(context)[1]]
    outside_quotes = [end for end in ends if 0 < end < len(context) and context[:end].count('"') % 2 == 0]
    return sorted({0, len(context), *outside_quotes})


def insert_sentence(context: str, sentence: str, position: int) -> tuple[str, int]:
    """The paragraph with ``sentence`` added at a sentence boundary; returns (text, characters added before pos)."""
    if position == 0:
        return f"{sentence} {context}", len(sentence) + 1
    if position >= len(context):
        return f"{context.rstrip()} {sentence}", 0
    return f"{context[:position].rstrip()} {sentence} {context[position:].lstrip()}", 0


def distractor(
    example: SquadExample, pools: AnswerPools, rng: random.Random, suffix: str = "adv"
) -> SquadExample | None:
    """The example with one AddSent-style distractor sentence inserted; the real answer stays the label."""
    perturbed = perturb_question(example.question, example.context, pools, rng)
    if not perturbed:
        return None
    gold = " ".join(example.answers)
    fake = pools.fake_answer(answer_kind(example.question), example.context + " " + gold, rng)
    if not fake:
        return None
    sentence = to_statement(perturbed, fake)
    if not sentence or not _disjoint_answer(sentence, example.answers):
        return None
    return _with_sentence(example, sentence, rng, f"{example.qid}-{suffix}")


ECHO_FRAMES = (
    "has strongly condemned attacks on",
    "has repeatedly criticised",
    "said it would investigate",
    "has written at length about",
    "was asked about",
    "issued a statement on",
    "raised concerns about",
    "publicly praised",
    "denied any link to",
    "met officials to discuss",
)
ECHO_APPOSITIVES = ("the leaders", "officials said", "a spokesman said", "according to reports", "a statement said")
_ECHO_MARK = "Qqechoqq"


def echo_phrase(question: str) -> str | None:
    """A subject question as a noun phrase that repeats its words: "Which bases host Coalition troops?" ->
    "the bases that host Coalition troops", "Who founded X?" -> "those who founded X"; None for other shapes."""
    statement = to_statement(question, _ECHO_MARK)
    if not statement or not statement.startswith(_ECHO_MARK + " "):
        return None
    predicate = statement[len(_ECHO_MARK) + 1 :].rstrip(".")
    asked = question.strip().rstrip("?").strip()
    verb, *rest = predicate.split()
    following = [word.lower() for word in rest[:2]]
    misread = any(w in DO_FORMS or w in BE_FORMS or w in MODALS for w in following) or is_tensed_verb(
        rest[0] if rest else ""
    )
    if not asked.endswith(predicate) or not is_finite_verb(verb) or misread:
        return None  # "What tree leaves did X ...", "Which court case featured ...": a noun was read as the verb
    wh_word, _, noun = asked[: -len(predicate)].strip().partition(" ")
    wh_word = wh_word.lower()
    if noun and wh_word in ("which", "what"):
        plain = not noun.endswith("ly") and noun.split()[0].lower() not in DETERMINERS
        return f"the {noun} that {predicate}" if plain else None
    if wh_word == "who":  # agreement: "Who presents X?" -> "the one who presents X"
        lemma = (getAllLemmas(verb).get("VERB") or (verb,))[0]
        singular = verb != lemma and verb in (getInflection(lemma, "VBZ") or ())
        return f"the one who {predicate}" if singular else f"those who {predicate}"
    if wh_word == "what" and not noun:
        return f"what {predicate}"
    return None


def echo_sentence(
    question: str, avoid: str, pools: AnswerPools, rng: random.Random, frames: Sequence[str] = ECHO_FRAMES
) -> str | None:
    """A sentence about another name that repeats the question's words without answering it."""
    phrase = echo_phrase(question)
    if not phrase:
        return None
    pool = pools.names.get(rng.choice(("who", "who", "what", "where"))) or pools.names.get("who", [])
    if not pool:
        return None
    name = next((n for n in (rng.choice(pool) for _ in range(40)) if _disjoint(n, avoid + " " + question)), None)
    if not name:
        return None
    subject = f"{name}, {rng.choice(ECHO_APPOSITIVES)}," if rng.random() < 0.3 else name
    return f"{subject[0].upper()}{subject[1:]} {rng.choice(frames)} {phrase}."


def _with_sentence(example: SquadExample, sentence: str, rng: random.Random, qid: str) -> SquadExample | None:
    """The example with ``sentence`` at a random sentence boundary, the answer (if any) kept at its new offsets."""
    position = rng.choice(_boundaries(example.context))
    if example.answer_start < 0:
        return replace(example, qid=qid, context=insert_sentence(example.context, sentence, position)[0])
    answer_end = example.answer_start + len(example.answers[0])
    if example.answer_start < position < answer_end:
        position = example.answer_start  # never split the answer
    text, shift = insert_sentence(example.context, sentence, position)
    if position > 0 and position <= example.answer_start:
        start = text.find(example.answers[0], example.answer_start)
    else:
        start = example.answer_start + shift
    if start < 0 or text[start : start + len(example.answers[0])] != example.answers[0]:
        return None
    return replace(example, qid=qid, context=text, answer_start=start)


def echo(
    example: SquadExample, pools: AnswerPools, rng: random.Random, frames: Sequence[str] = ECHO_FRAMES
) -> SquadExample | None:
    """The example (own paragraph, real answer; or a wrong paragraph, no answer) with a question-echo sentence."""
    sentence = echo_sentence(example.question, example.context + " " + " ".join(example.answers), pools, rng, frames)
    if not sentence or not _disjoint_answer(sentence, example.answers):
        return None
    return _with_sentence(example, sentence, rng, f"{example.qid}-echo")


def _disjoint_answer(sentence: str, answers: Sequence[str]) -> bool:
    normalised = f" {normalize_answer(sentence)} "
    return not any(f" {normalize_answer(a)} " in normalised for a in answers if normalize_answer(a))


def unanswerable(example: SquadExample, pools: AnswerPools, rng: random.Random) -> tuple[SquadExample, str] | None:
    edited = unanswerable_question(example.question, example.context, pools, rng)
    if not edited:
        return None
    question, kind = edited
    return replace(example, qid=f"{example.qid}-unans-{kind}", question=question, answers=(), answer_start=-1), kind


def _made_from(
    examples: Sequence[SquadExample],
    count: int,
    seed: int,
    make: Callable[[SquadExample, random.Random], object],
    answerable_only: bool = True,
) -> list[SquadExample]:
    """Up to ``count`` examples made by ``make`` (from the answerable ones only, unless told), in a seeded order."""
    rng = random.Random(seed)
    made = []
    for example in rng.sample(list(examples), len(examples)):
        if len(made) >= count:
            break
        if (example.answer_start >= 0 or not answerable_only) and (new := make(example, rng)):
            made.append(new)
    return made


def distractor_examples(
    examples: Sequence[SquadExample], pools: AnswerPools, count: int, seed: int
) -> list[SquadExample]:
    return _made_from(examples, count, seed, lambda example, rng: distractor(example, pools, rng))


def unanswerable_examples(
    examples: Sequence[SquadExample], pools: AnswerPools, count: int, seed: int
) -> list[SquadExample]:
    def edited(example: SquadExample, rng: random.Random) -> SquadExample | None:
        made = unanswerable(example, pools, rng)
        return made[0] if made else None

    return _made_from(examples, count, seed, edited)


def echo_examples(examples: Sequence[SquadExample], pools: AnswerPools, count: int, seed: int) -> list[SquadExample]:
    """Question echoes in the questions' own paragraphs (label: the real answer)."""
    return _made_from(examples, count, seed, lambda example, rng: echo(example, pools, rng))


def echo_negative_examples(
    negatives: Sequence[SquadExample], pools: AnswerPools, count: int, seed: int
) -> list[SquadExample]:
    """Question echoes in wrong paragraphs of the question's article (label: no answer)."""
    return _made_from(negatives, count, seed, lambda example, rng: echo(example, pools, rng), answerable_only=False)
