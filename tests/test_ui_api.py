"""The server's named endpoint `/ask` (gradio_client) answers exactly like `qa-bot ask --json`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.ui_support import SEED_ANSWERS, SEED_QUESTION, ask_json, make_site, require_bundled_reader, running_server

pytestmark = pytest.mark.slow

SPOKESMAN_QUESTION = "Who is the Spokesman for the US-led Coalition in Iraq?"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    require_bundled_reader()
    root = tmp_path_factory.mktemp("ui-api")
    corpus, index = make_site(root)
    with running_server(corpus, index) as url:
        yield url, index


@pytest.fixture(scope="module")
def client(site: tuple[str, Path]) -> Client:
    return Client(site[0], verbose=False)


def without_latency(response: dict) -> dict:
    return {key: value for key, value in response.items() if key != "latency_ms"}


def test_api_answer_matches_the_cli(site: tuple[str, Path], client: Client) -> None:
    _, index = site
    via_api = client.predict(SEED_QUESTION, api_name="/ask")
    assert any(name in answer["text"] for answer in via_api["answers"] for name in SEED_ANSWERS)
    assert all(answer["citations"] for answer in via_api["answers"])
    assert without_latency(via_api) == without_latency(ask_json(SEED_QUESTION, index))


def test_concurrent_callers_get_the_answers_a_single_caller_gets(client: Client) -> None:
    questions = [SEED_QUESTION, SPOKESMAN_QUESTION] * 10  # 20 users at once
    alone = {q: without_latency(client.predict(q, api_name="/ask")) for q in set(questions)}
    jobs = [client.submit(question, api_name="/ask") for question in questions]
    together = [without_latency(job.result()) for job in jobs]
    assert together == [alone[question] for question in questions]


def test_empty_question_is_a_one_line_error(client: Client) -> None:
    with pytest.raises(AppError, match="the question is empty"):
        client.predict("   ", api_name="/ask")


def test_ask_is_the_only_public_endpoint(client: Client) -> None:
    api = client.view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/ask"]
    assert not api["unnamed_endpoints"]
    assert [p["parameter_name"] for p in api["named_endpoints"]["/ask"]["parameters"]] == ["question"]
