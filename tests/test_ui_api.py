"""The server's named endpoint `/ask` (gradio_client) answers exactly like `qa-bot ask --json`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
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


@pytest.mark.parametrize(("sent", "kind"), [(42, "int"), (["Which", "bases?"], "list"), ({"q": "x"}, "dict")])
def test_a_question_that_is_not_text_is_a_one_line_error(client: Client, sent: object, kind: str) -> None:
    with pytest.raises(AppError) as raised:
        client.predict(sent, api_name="/ask")
    message = str(raised.value)
    assert f"the question must be text, not {kind}" in message and "\n" not in message.strip()


def test_a_null_question_is_the_empty_question_error(client: Client) -> None:
    with pytest.raises(AppError, match="the question is empty"):
        client.predict(None, api_name="/ask")


def test_a_lone_surrogate_is_replaced_with_a_notice_not_a_type_error(site: tuple[str, Path]) -> None:
    url, _ = site
    body = b'{"data": ["Who is the Spokesman \\ud800 for the Coalition?"]}'  # a JSON escape of a lone surrogate
    answer = call_raw(url, body)
    assert answer["question"] == "Who is the Spokesman \ufffd for the Coalition?"


def test_undecodable_bytes_are_one_clear_error(site: tuple[str, Path]) -> None:
    url, _ = site
    with pytest.raises(urllib.error.HTTPError) as raised:
        call_raw(url, b'{"data": ["Who is the Spokesman \xff\xfe?"]}')
    assert raised.value.code in (400, 422)


def test_a_huge_question_is_echoed_as_used_not_in_full(client: Client) -> None:
    huge = "Who is the Spokesman for the US-led Coalition in Iraq? " + "very " * 2_000_000  # 10 MB
    answer = client.predict(huge, api_name="/ask")
    assert len(answer["question"]) <= 1000
    assert answer["question"].startswith("Who is the Spokesman for the US-led Coalition in Iraq?")


def call_raw(url: str, body: bytes) -> dict:
    """POST a raw JSON body to /ask through Gradio's REST route and read its one result."""
    request = urllib.request.Request(
        f"{url}gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=120) as response:
        stream = response.read().decode("utf-8")
    events = re.findall(r"event: (\w+)\ndata: (.*)", stream)
    [data] = [data for kind, data in events if kind == "complete"] or [stream]  # heartbeats come and go
    return json.loads(data)[0]
