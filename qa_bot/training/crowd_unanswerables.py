"""Unanswerable questions shaped like the crowd-written ones of SQuAD 2.0, made from SQuAD v1 by rules.

Rajpurkar et al. (2018, Table 3) sorted crowd-written unanswerables into negation, antonym, entity swap, mutual
exclusion, impossible condition and other neutral questions. The older edits (qa_bot.training.adversarial) cover
entity swap and antonym only, which is why a reader that refuses them still answers most crowd questions. Here
each category has a rule, and categories are drawn in the paper's proportions:

* negation: "not" put before the question's main verb ("When did the war not end?");
* antonym and entity swap: adversarial.unanswerable_question (a word or name the paragraph uses is replaced);
* mutual exclusion: the gold answer excluded ("... other than Erbil?") when the paragraph names it once;
* impossible condition: a year the paragraph never reaches added as a condition ("... in 1642?");
* other neutral: a question from another paragraph of the same article (on topic, not answered here).

    python -m qa_bot.training.crowd_unanswerables --squad ../shared/data/squad-train-v1.0.json.gz --sample 100
    python -m qa_bot.training.crowd_unanswerables --squad ... --sample 1000 --write-dev artifacts/crowd-dev.json
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from lemminflect import getAllLemmas, getInflection

from qa_bot.squad import SquadExample, iter_examples, load_squad, split_articles
from qa_bot.training.adversarial import AnswerPools, mine_pools, unanswerable_question
from qa_bot.training.squad_data import wrong_paragraph_examples
from qa_bot.training.statements import BE_FORMS, DETERMINERS, DO_FORMS, MODALS

# Shares of the unanswerable categories among crowd-written SQuAD 2.0 questions (Table 3, answerable noise left out).
CATEGORY_SHARES = {
    "negation": 9,
    "antonym": 20,
    "entity_swap": 21,
    "mutual_exclusion": 15,
    "impossible_condition": 4,
    "other_neutral": 24,
}
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-2][0-9])\b")
_NEGATED = re.compile(r"\b(not|never|no|n't|without)\b", re.IGNORECASE)
_WORD = re.compile(r"\S+")


def negated(question: str) -> str | None:
    """ "not" before the main verb after an auxiliary ("did X end" -> "did X not end"; "was X founded" -> "was X
    not founded"; "is X" -> "is not X")."""
    if _NEGATED.search(question):
        return None
    words = [(m.start(), m.group().lower().strip("?,")) for m in _WORD.finditer(question)]
    for index, (_, word) in enumerate(words[1:5], start=1):
        if word in BE_FORMS or word in DO_FORMS or word in MODALS:
            forms = ("VBN",) if word in BE_FORMS else ("VB",) if word in DO_FORMS else ("VB", "VBN")
            verb = _main_verb_after(words, index + 1, forms)
            if verb is None and word in BE_FORMS and index + 1 < len(words):
                verb = words[index + 1][0]  # "is" as the main verb: "What is not the name ..."
            return None if verb is None else question[:verb] + "not " + question[verb:]
    return None


def _main_verb_after(words: list[tuple[int, str]], first: int, forms: tuple[str, ...]) -> int | None:
    """Where the auxiliary's main verb starts: the first word in one of ``forms`` (base VB, participle VBN)."""
    for (start, word), (_, before) in zip(words[first:], words[first - 1 :]):
        if word.isalpha() and word.islower() and before not in DETERMINERS and _is_verb_form(word, forms):
            return start
    return None


def _is_verb_form(word: str, forms: tuple[str, ...]) -> bool:
    return any(
        word in (getInflection(lemma, form) or ()) for lemma in getAllLemmas(word).get("VERB", ()) for form in forms
    )


def with_impossible_condition(question: str, context: str, rng: random.Random) -> str | None:
    """A year condition that the paragraph's years never reach, on a question that names no time of its own."""
    years = [int(y) for y in _YEAR.findall(context)]
    if not years or _YEAR.search(question) or question.lower().startswith(("when", "what year", "how long")):
        return None
    year = min(years) - rng.randint(40, 300) if rng.random() < 0.5 else max(years) + rng.randint(5, 40)
    if not 1000 <= year <= 2030 or not question.endswith("?"):
        return None
    return f"{question[:-1].rstrip()} in {year}?"


def excluding_the_answer(example: SquadExample) -> str | None:
    """The gold answer ruled out, when the paragraph names it once and lists nothing else beside it."""
    answer = example.answers[0]
    start = example.answer_start
    around = example.context[max(0, start - 40) : start + len(answer) + 40]
    if example.context.count(answer) != 1 or "," in around or " and " in around or len(answer.split()) > 4:
        return None
    if not example.question.endswith("?") or example.question.lower().startswith(("when", "how many", "how much")):
        return None
    return f"{example.question[:-1].rstrip()} other than {answer}?"


def _rules(pools: AnswerPools) -> dict[str, Callable[[SquadExample, random.Random], str | None]]:
    def swapped(kinds: set[str]) -> Callable[[SquadExample, random.Random], str | None]:
        def edit(example: SquadExample, rng: random.Random) -> str | None:
            made = unanswerable_question(example.question, example.context, pools, rng)
            return made[0] if made and made[1] in kinds else None

        return edit

    return {
        "negation": lambda example, rng: negated(example.question),
        "antonym": swapped({"antonym"}),
        "entity_swap": swapped({"name", "number"}),
        "mutual_exclusion": lambda example, rng: excluding_the_answer(example),
        "impossible_condition": lambda example, rng: with_impossible_condition(example.question, example.context, rng),
    }


def crowd_unanswerables(articles: list[dict], count: int, seed: int) -> list[SquadExample]:
    """About ``count`` no-answer examples from ``articles``, the categories in the crowd's proportions."""
    if count <= 0:
        return []
    examples = [e for e in iter_examples(articles) if e.answer_start >= 0]
    pools = mine_pools(examples)
    rng = random.Random(seed)
    total = sum(CATEGORY_SHARES.values())
    made: list[SquadExample] = []
    for category, rule in _rules(pools).items():
        quota = round(count * CATEGORY_SHARES[category] / total)
        for example in rng.sample(examples, len(examples)):
            if quota == 0:
                break
            if question := rule(example, rng):
                made.append(_no_answer(example, question, category))
                quota -= 1
    neutral = round(count * CATEGORY_SHARES["other_neutral"] / total)
    others = wrong_paragraph_examples(articles, 1.0, seed + 1)
    made += [replace(e, qid=e.qid.replace("-neg", "-crowd-other_neutral")) for e in rng.sample(others, neutral)]
    return made


def _no_answer(example: SquadExample, question: str, category: str) -> SquadExample:
    return replace(example, qid=f"{example.qid}-crowd-{category}", question=question, answers=(), answer_start=-1)


def write_dev(articles: list[dict], count: int, seed: int, path: Path) -> int:
    """A SQuAD 2.0-style file for ``qa-bot eval PATH --mode reader`` (answered and refused rates): ``count``
    crowd-style unanswerables with every question of the paragraphs they are about. Returns how many were made."""
    made = crowd_unanswerables(articles, count, seed)
    about = {(e.article, e.context) for e in made}
    by_paragraph: dict[tuple[str, str], list[dict]] = {}
    for example in [e for e in iter_examples(articles) if (e.article, e.context) in about] + made:
        answers = [{"text": example.answers[0], "answer_start": example.answer_start}] if example.answers else []
        qa = {"id": example.qid, "question": example.question, "answers": answers, "is_impossible": not answers}
        by_paragraph.setdefault((example.article, example.context), []).append(qa)
    titles: dict[str, list[dict]] = {}
    for (title, context), qas in by_paragraph.items():
        titles.setdefault(title, []).append({"context": context, "qas": qas})
    data = [{"title": title, "paragraphs": paragraphs} for title, paragraphs in titles.items()]
    path.write_text(json.dumps({"version": "crowd-style-unanswerables", "data": data}), encoding="utf-8")
    return len(made)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Crowd-style unanswerables: a sample to read by hand, or a dev file")
    parser.add_argument("--squad", required=True)
    parser.add_argument("--sample", type=int, default=100, help="how many unanswerables")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--heldout", action="store_true", help="from the held-out articles instead of training")
    parser.add_argument("--write-dev", type=Path, help="write a held-out SQuAD 2.0-style dev file here")
    args = parser.parse_args(argv)
    train, heldout = split_articles(load_squad(args.squad), 0.1, 13)
    if args.write_dev:
        made = write_dev(heldout, args.sample, args.seed, args.write_dev)
        print(f"wrote {args.write_dev}: the held-out questions and {made} crowd-style unanswerables")
        return
    for example in crowd_unanswerables(heldout if args.heldout else train, args.sample, args.seed):
        category = example.qid.rsplit("-crowd-", 1)[1]
        print(f"[{category}] {example.question}\n    context: {example.context[:300]}\n")


if __name__ == "__main__":
    main()
