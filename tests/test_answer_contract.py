"""Every citation of every answer, shown or withheld, picks its own text out of its article (the JSON contract)."""

from __future__ import annotations

import pytest

from qa_bot.citations import normalize_answer
from qa_bot.index import sync_index
from qa_bot.pipeline import QABot
from qa_bot.settings import Settings
from tests.conftest import require_bundled_reader

# Held-out-like articles: the same answers recur in other surface forms ("the Air Force" / "air force",
# "a day" / "day", "U.S." / "US"), across sentences, paragraphs and articles, so that merged answers may cite
# several forms (tests/test_citations.py checks such a merge span by span).
ARTICLES = {
    "air-force.txt": """Air power in the region

The Air Force flew its first missions from the base in 1991. Each day, the air force flew two patrols, and on a day
with bad weather it flew none. The U.S. Air Force later moved its tankers to Al-Udeid, some 20 miles from Doha.

In 2003, the Force returned with 40 aircraft. The commander, Gen. Tommy R. Franks, said the force would stay "for
as long as it takes." A day later, the first aircraft landed at Al-Udeid Air Base, in Qatar.

The US and the United Kingdom shared the base; Australia, Canada and France sent liaison officers.""",
    "river-trade.txt": """The river trade

Barges carried grain, timber and coal down the Danube, the Rhine and the Elbe. A barge took a day to pass the
locks at Passau, and two days to reach Vienna.

The trade peaked in the 1890s, when 1,200 barges worked the river. The Danube Commission, founded in 1856,
set the tolls; the commission met in Galatz until 1948.

Steam tugs replaced horses after 1830. The tugs, built in Vienna and Budapest, could tow six barges at once.""",
    "harbour.txt": """The new harbour

The harbour of Tema opened on 10 February 1962, after eight years of building. It was the largest harbour in
West Africa, and its breakwaters are 5.4 km long.

Ships from Liverpool, Rotterdam and Hamburg called at Tema each week. The harbour master, Capt. Ama Owusu, said
a day in port cost a ship about 3,000 pounds.

The day the harbour opened, President Kwame Nkrumah called it "the gateway to a new Ghana." The harbour's first
ship was the MV Accra.""",
}
QUESTIONS = [
    "When did the Air Force fly its first missions?",
    "How many patrols did the air force fly each day?",
    "Where did the U.S. Air Force move its tankers?",
    "How far is Al-Udeid from Doha?",
    "How many aircraft did the Force return with?",
    "Who was the commander?",
    "Which countries sent liaison officers?",
    "Who shared the base?",
    "What did barges carry?",
    "Which rivers did the barges use?",
    "How long did a barge take to pass the locks at Passau?",
    "When did the trade peak?",
    "How many barges worked the river?",
    "When was the Danube Commission founded?",
    "Where did the commission meet?",
    "What replaced horses?",
    "Where were the tugs built?",
    "How many barges could a tug tow?",
    "When did the harbour of Tema open?",
    "How long are the breakwaters?",
    "Which cities did ships come from?",
    "Who was the harbour master?",
    "How much did a day in port cost?",
    "Who called the harbour the gateway to a new Ghana?",
    "What was the harbour's first ship?",
    "How many years did building take?",
    "What was the largest harbour in West Africa?",
    "When did the first aircraft land at Al-Udeid?",
    "What did the commission set?",
    "Who flew patrols from the base?",
    "Who returned to the base?",
    "What took a day to pass the locks?",
    "Which ships called at Tema?",
    "What is the capital of Australia?",
]


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory) -> QABot:
    require_bundled_reader()
    root = tmp_path_factory.mktemp("contract")
    corpus = root / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    settings = Settings(threads=1)
    sync_index(corpus, root / "index", settings, progress=False)
    return QABot.from_index(root / "index", settings)


@pytest.mark.slow
def test_every_citation_picks_its_own_text_out_of_the_article(bot: QABot):
    texts = {a["article_id"]: bot.index.article_text(a["article_id"]) for a in bot.index.list_articles()}
    checked = 0
    for question in QUESTIONS:
        response = bot.ask(question, top_k=8)
        record = response.to_json()
        for answer in record["answers"] + record["withheld"]:
            assert answer["citations"], answer
            key = normalize_answer(answer["text"])
            for citation in answer["citations"]:
                text = texts[citation["article_id"]]
                assert text[citation["answer_start"] : citation["answer_end"]] == citation["text"], (question, citation)
                assert normalize_answer(citation["text"]) == key, (question, answer["text"], citation["text"])
                assert text[citation["sentence_start"] : citation["sentence_end"]] == citation["sentence"]
                assert citation["sentence_start"] <= citation["answer_start"] < citation["answer_end"]
                assert citation["answer_end"] <= citation["sentence_end"]
                checked += 1
            assert answer["article_count"] == len({c["article_id"] for c in answer["citations"]})
    assert checked >= 100, f"only {checked} citations checked"
