"""Questions turned into statements by rules (lemminflect's inflection tables, no model): the core of the
distractor and echo sentences in `qa_bot.training.adversarial`."""

from __future__ import annotations

import re

from lemminflect import getAllLemmas, getInflection

from qa_bot.answer_policy import question_type

WH_WORDS = {"what", "which", "who", "whom", "whose", "when", "where", "why", "how"}
DO_FORMS = {"did": "VBD", "does": "VBZ", "do": "VBP"}
BE_FORMS = {"is", "was", "are", "were"}
PREPOSITIONS = {"in", "on", "at", "during", "by", "from", "to", "for", "of", "with", "since", "after", "before"}
DETERMINERS = {"the", "a", "an", "its", "his", "her", "their", "this", "that", "these", "those", "our"}
PERFECT = {"has", "have", "had"}
MODALS = {"has", "have", "had", "can", "could", "will", "would", "should", "may", "might", "must"}
# Question kinds whose fake answer takes the wh-phrase's own place ("F wrote X"), not a phrase at the end.
IN_PLACE_KINDS = ("what", "which", "who", "how many", "how much")
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _is_base_verb(word: str) -> bool:
    return word.islower() and word in getAllLemmas(word).get("VERB", ())


def _is_participle(word: str) -> bool:
    if not word.islower():
        return False
    lemmas = getAllLemmas(word).get("VERB", ())
    return any(word in (getInflection(lemma, "VBN") or ()) + (getInflection(lemma, "VBG") or ()) for lemma in lemmas)


def is_finite_verb(word: str) -> bool:
    if not word.islower():
        return False
    lemmas = getAllLemmas(word).get("VERB", ())
    return any(
        word in (getInflection(lemma, "VBD") or ()) + (getInflection(lemma, "VBZ") or ()) or word == lemma
        for lemma in lemmas
    )


def is_tensed_verb(word: str) -> bool:
    """Past or third-person form ("increased", "happens"): after a bare wh-word it is the verb, not a noun."""
    lemmas = getAllLemmas(word).get("VERB", ())
    return word.islower() and any(
        word in (getInflection(lemma, "VBD") or ()) + (getInflection(lemma, "VBZ") or ()) for lemma in lemmas
    )


def _time_phrase(fake: str) -> str:
    first = fake.split()[0]
    if first in MONTHS or re.match(r"\d{1,2}(st|nd|rd|th)?$", first) and len(fake.split()) > 1:
        return f"on {fake}"
    if first.lower() in ("in", "on", "at", "during", "by", "around", "after", "before"):
        return fake
    return f"in {fake}"


def _tail_for(kind: str, fake: str) -> str:
    if kind == "when":
        return _time_phrase(fake)
    if kind == "where":
        return fake if fake.split()[0].lower() in ("in", "at", "on", "near") else f"in {fake}"
    if kind == "why":
        return f"because of {fake}"
    if kind == "other":
        return f"by {fake}"
    return fake


def to_statement(question: str, fake: str) -> str | None:
    """A question turned into a statement whose wh-phrase is ``fake``; None when no rule fits.

    Rules cover the common SQuAD shapes: subject questions ("Who wrote X?" -> "F wrote X."), do-support
    ("When did X sign Y?" -> "X signed Y in F."), be and passives ("What is X?" -> "X is F.",
    "Where was X born?" -> "X was born in F."), modals and perfects ("What has X become?" -> "X has become F.").
    """
    words = question.strip().rstrip("?").strip().split()
    lowered = [w.lower() for w in words]
    wh_at = next((i for i, w in enumerate(lowered) if w in WH_WORDS), None)
    if wh_at is None or len(words) < 3:
        return None
    kind = question_type(question)
    phrase_end, noun_phrase = _wh_phrase(words, lowered, wh_at)
    if lowered[wh_at] == "how" and not noun_phrase and kind == "other":
        return None  # "how did X ..." asks for a manner: no same-type fake answer
    rest = words[phrase_end:]
    if not rest:  # "X leads to what?": the fake answer takes the wh-word's place
        return " ".join(words[:wh_at] + [fake]) + "." if wh_at >= 2 and not noun_phrase else None
    counted = " ".join([fake] + noun_phrase) if kind in ("how many", "how much") else fake
    statement = _statement(rest, kind, fake, counted)
    if statement and wh_at:
        statement = _with_lead(statement, words[:wh_at], fake)
    if not statement:
        return None
    text = re.sub(r"\s+([,.;:])", r"\1", " ".join(statement))
    return text[0].upper() + text[1:] + "."


def _wh_phrase(words: list[str], lowered: list[str], wh_at: int) -> tuple[int, list[str]]:
    """Where the wh-phrase ends, and its noun words: "how many brigades", "what year", "which bases", or the
    wh-word alone."""
    head = lowered[wh_at]
    phrase_end = wh_at + 1
    noun_phrase: list[str] = []
    if head == "how" and phrase_end < len(words) and lowered[phrase_end] in ("many", "much"):
        phrase_end += 1
    if head in ("which", "whose") and phrase_end < len(words):
        noun_phrase.append(words[phrase_end])  # "which bases": the next word is the noun, even if it can be a verb
        phrase_end += 1
    if head in ("what", "which", "whose", "how"):
        while (
            phrase_end < len(words)
            and lowered[phrase_end] not in DO_FORMS
            and lowered[phrase_end] not in BE_FORMS
            and lowered[phrase_end] not in MODALS
            and not (is_finite_verb(lowered[phrase_end]) if noun_phrase else is_tensed_verb(lowered[phrase_end]))
            and len(noun_phrase) < 4
        ):
            noun_phrase.append(words[phrase_end])
            phrase_end += 1
    return phrase_end, noun_phrase


def _statement(rest: list[str], kind: str, fake: str, counted: str) -> list[str] | None:
    """The words after the wh-phrase reordered into a statement, by the auxiliary they open with."""
    aux = rest[0].lower()
    if aux in DO_FORMS:
        return _do_support(rest, kind, fake, counted)
    if aux in BE_FORMS or aux in MODALS:
        return _be_or_modal(rest, kind, fake, counted)
    if kind in IN_PLACE_KINDS and is_finite_verb(aux):
        return [counted] + rest  # a subject question: the fake answer does what was asked about
    return None


def _do_support(rest: list[str], kind: str, fake: str, counted: str) -> list[str] | None:
    """ "When did X sign Y" -> "X signed Y in F": the verb takes the tense of do."""
    body = rest[1:]
    verb_at = next(
        (i for i in range(1, len(body)) if _is_base_verb(body[i]) and body[i - 1].lower() not in DETERMINERS), None
    )
    if verb_at is None:
        return None
    inflected = (getInflection(body[verb_at], DO_FORMS[rest[0].lower()]) or (body[verb_at],))[0]
    subject, tail = body[:verb_at], body[verb_at + 1 :]
    if kind in IN_PLACE_KINDS:
        return subject + [inflected, counted] + tail
    return subject + [inflected] + tail + [_tail_for(kind, fake)]


def _be_or_modal(rest: list[str], kind: str, fake: str, counted: str) -> list[str] | None:
    """ "Where was X born" -> "X was born in F", "What is X" -> "X is F", "What has X become" -> "X has become F"."""
    aux, body = rest[0].lower(), rest[1:]
    verb_at = next(
        (
            i
            for i in range(1, len(body))
            if _is_participle(body[i]) or (aux in MODALS - PERFECT and _is_base_verb(body[i]))
        ),
        None,
    )
    if verb_at is not None:
        subject, tail = body[:verb_at], body[verb_at:]
        filler = counted if kind in IN_PLACE_KINDS else _tail_for(kind, fake)
        return subject + [rest[0]] + tail + [filler]
    if aux in BE_FORMS and body and kind in IN_PLACE_KINDS:
        return body + [rest[0], counted]
    if aux in BE_FORMS and body and kind in ("where", "when"):
        return body + [rest[0], _tail_for(kind, fake)]
    if aux in PERFECT and kind in ("what", "which", "who"):
        return [counted] + rest  # "Who had the support of X?": "had" is the main verb
    return None


def _with_lead(statement: list[str], prefix: list[str], fake: str) -> list[str] | None:
    """The words before the wh-phrase, kept where a statement can hold them; None when it cannot."""
    lead = " ".join(prefix)
    if lead.endswith(","):  # "According to X, what ..." keeps its lead clause
        return [lead] + statement
    preposition = prefix[0].lower()
    if len(prefix) == 1 and preposition in PREPOSITIONS and fake in statement:  # "In what year did ..." -> "... in F."
        return [w for w in statement if w != fake] + [f"{preposition} {fake}"]
    return None
