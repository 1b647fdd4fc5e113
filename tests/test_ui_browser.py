"""The chat UI in a real browser: Debian's chromium driven by Selenium against `qa-bot serve`."""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as expected
from selenium.webdriver.support.ui import WebDriverWait

from qa_bot.feedback import default_feedback_path
from tests.ui_support import (
    IMAGE_PAYLOAD,
    INJECTED_TITLE,
    MARKDOWN_PAYLOAD,
    REPO,
    SCRIPT_PAYLOAD,
    SEED_ANSWERS,
    SEED_QUESTION,
    SEED_SENTENCE,
    make_site,
    require_bundled_reader,
    running_server,
)

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ANSWER_WAIT_S = 300  # one question on a busy 2-core machine, far above the usual second or two
ARTIFACTS = REPO / "artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, Path]]:
    require_bundled_reader()
    root = tmp_path_factory.mktemp("ui-browser")
    corpus, index = make_site(root)
    with running_server(corpus, index) as url:
        yield url, corpus, index


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail("Debian chromium and chromium-driver are missing; run: bash .ci/install-browser.sh")
    profile = tempfile.mkdtemp(prefix="qa-bot-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1100",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait(driver: WebDriver, seconds: float = 60) -> WebDriverWait:
    return WebDriverWait(driver, seconds, ignored_exceptions=[WebDriverException])


def open_app(driver: WebDriver, url: str) -> None:
    driver.get(url)
    wait(driver).until(expected.element_to_be_clickable((By.CSS_SELECTOR, "#qa-question textarea")))


def ask(driver: WebDriver, question: str) -> WebElement:
    """Type a question, press Ask, and return the reply it gets (the newest bot message)."""
    replies_before = len(driver.find_elements(By.CSS_SELECTOR, ".qa-reply"))
    box = driver.find_element(By.CSS_SELECTOR, "#qa-question textarea")
    box.send_keys(question)
    driver.find_element(By.CSS_SELECTOR, "#qa-ask").click()
    wait(driver, ANSWER_WAIT_S).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".qa-reply")) > replies_before)
    return driver.find_elements(By.CSS_SELECTOR, ".qa-reply")[-1]


def open_tab(driver: WebDriver, name: str) -> None:
    next(tab for tab in driver.find_elements(By.CSS_SELECTOR, "button[role='tab']") if tab.text == name).click()


def open_panel(driver: WebDriver, panel: WebElement) -> None:
    summary = panel.find_element(By.XPATH, "./summary")
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", summary)
    summary.click()
    wait(driver).until(lambda _: panel.get_attribute("open") is not None)


def test_answer_with_citation_support_view_and_thumbs_up(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, index = site
    open_app(browser, url)
    reply = ask(browser, SEED_QUESTION)

    cards = reply.find_elements(By.CSS_SELECTOR, ".qa-card")
    answers = [card.find_element(By.CSS_SELECTOR, ".qa-answer-text").text for card in cards]
    assert any(name in answer for answer in answers for name in SEED_ANSWERS), answers
    card = next(c for c, a in zip(cards, answers, strict=True) if any(name in a for name in SEED_ANSWERS))
    answer = card.find_element(By.CSS_SELECTOR, ".qa-answer-text").text
    quote = card.find_element(By.CSS_SELECTOR, ".qa-quote")
    assert SEED_SENTENCE in quote.text
    assert quote.find_element(By.CSS_SELECTOR, "mark.qa-answer").text == answer
    assert (
        "Coalition Spokesman: We continue to work with the Peshmerga"
        in card.find_element(By.CSS_SELECTOR, ".qa-meta").text
    )
    assert "confidence" in card.find_element(By.CSS_SELECTOR, ".qa-confidence").text

    # Support view: the passage with the sentence and answer marked, the scores, then the whole article.
    support = card.find_element(By.CSS_SELECTOR, "details.qa-support")
    open_panel(browser, support)
    passage = support.find_element(By.CSS_SELECTOR, ".qa-passage")
    assert SEED_SENTENCE in " ".join(span.text for span in passage.find_elements(By.CSS_SELECTOR, ".qa-cited"))
    assert passage.find_element(By.CSS_SELECTOR, "mark.qa-answer").text == answer
    scores = support.find_element(By.CSS_SELECTOR, "table.qa-scores").text
    for column in ("Dense", "BM25", "Fused", "Reader"):
        assert column in scores
    article_panel = support.find_element(By.CSS_SELECTOR, "details.qa-article")
    open_panel(browser, article_panel)
    article_box = article_panel.find_element(By.CSS_SELECTOR, ".qa-article-text")
    assert "Editing by Karzan Sulaivany" in article_box.get_attribute("textContent")  # the whole article
    # The box opened scrolled to the cited sentence, which sits far below its first screen.
    assert browser.execute_script(
        "const [box, cited] = arguments;"
        "const b = box.getBoundingClientRect(), c = cited.getBoundingClientRect();"
        "return box.scrollTop > 0 && c.top >= b.top && c.bottom <= b.bottom;",
        article_box,
        article_box.find_element(By.CSS_SELECTOR, ".qa-cited"),
    )
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui-answer.png"))

    # Thumbs up lands in the feedback database with the question and the cited answers.
    like = browser.find_elements(By.CSS_SELECTOR, "#qa-chat button[aria-label='Like']")[-1]
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", like)
    like.click()
    feedback_db = default_feedback_path(index)
    wait(browser).until(lambda _: feedback_db.exists() and stored_votes(feedback_db))
    [(question, answers_json, vote)] = stored_votes(feedback_db)
    assert (question, vote) == (SEED_QUESTION, "up")
    stored = json.loads(answers_json)
    assert answer in [a["text"] for a in stored]
    assert all(a["citations"] for a in stored)
    comment_box = browser.find_element(By.CSS_SELECTOR, "#qa-comment-row textarea")
    comment_box.send_keys("Right bases, thanks\n")
    wait(browser).until(lambda _: stored_comments(feedback_db) == ["Right bases, thanks"])


def test_follow_up_question_uses_the_previous_answer(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, _ = site
    open_app(browser, url)
    first = ask(browser, "Who is the Spokesman for the US-led Coalition in Iraq?")
    spokesman = first.find_element(By.CSS_SELECTOR, ".qa-answer-text").text
    assert "Caggins" in spokesman
    follow_up = ask(browser, "Which bases did he say the Coalition consolidated in?")
    assert spokesman in follow_up.find_element(By.CSS_SELECTOR, ".qa-note").text  # "Read as: ... Caggins ..."


def test_injected_markup_renders_as_inert_text(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, _ = site
    open_app(browser, url)
    question = f"What did the harbour inspector write on the crate labels? {SCRIPT_PAYLOAD} {IMAGE_PAYLOAD}"
    ask(browser, question)
    assert browser.find_elements(By.CSS_SELECTOR, ".qa-question")[-1].text == question

    # The article itself, in the table and in the article viewer.
    open_tab(browser, "Articles")
    table = wait(browser).until(expected.visibility_of_element_located((By.CSS_SELECTOR, "table.qa-articles")))
    assert INJECTED_TITLE in table.text
    picker = wait(browser).until(expected.element_to_be_clickable((By.CSS_SELECTOR, "#qa-article-picker input")))
    picker.click()
    picker.send_keys("Harbour notes")
    wait(browser).until(expected.element_to_be_clickable((By.CSS_SELECTOR, "#qa-article-picker li"))).click()
    article = wait(browser).until(
        expected.visibility_of_element_located((By.CSS_SELECTOR, "#qa-article-view .qa-article-text"))
    )
    for payload in (SCRIPT_PAYLOAD, IMAGE_PAYLOAD, MARKDOWN_PAYLOAD):
        assert payload in article.text

    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.find_elements(By.CSS_SELECTOR, ".gradio-container img[src='x'], .gradio-container script") == []
    assert browser.find_elements(By.CSS_SELECTOR, "a[href^='http://example.invalid']") == []


def test_uploaded_article_is_indexed_and_listed(
    site: tuple[str, Path, Path], browser: WebDriver, tmp_path: Path
) -> None:
    url, corpus, _ = site
    upload = tmp_path / "lighthouse-keeper.txt"
    upload.write_text(
        "Lighthouse keeper retires after forty years\n\n"
        "Maren Holt kept the Skarvik lighthouse lit for forty years before retiring in March.\n",
        encoding="utf-8",
    )
    open_app(browser, url)
    open_tab(browser, "Articles")
    wait(browser).until(expected.presence_of_element_located((By.CSS_SELECTOR, "#qa-uploads input[type=file]")))
    browser.find_element(By.CSS_SELECTOR, "#qa-uploads input[type=file]").send_keys(str(upload))
    # gradio shows the file's stem and extension in separate elements, so match on the stem
    wait(browser).until(lambda d: "lighthouse-keeper" in d.find_element(By.ID, "qa-uploads").text)
    browser.find_element(By.ID, "qa-index").click()

    status = wait(browser, ANSWER_WAIT_S).until(
        lambda d: (
            "Index updated" in d.find_element(By.ID, "qa-index-status").text
            and d.find_element(By.ID, "qa-index-status")
        )
    )
    assert "1 added" in status.text
    assert (corpus / "lighthouse-keeper.txt").read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    assert not [p for p in corpus.iterdir() if p.name.startswith(".upload-")]  # no partial copies left
    assert (
        "Lighthouse keeper retires after forty years" in browser.find_element(By.CSS_SELECTOR, "table.qa-articles").text
    )
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui-articles.png"))


def stored_votes(path: Path) -> list[tuple[str, str, str]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT question, answers_json, vote FROM feedback").fetchall()


def stored_comments(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT comment FROM feedback WHERE comment IS NOT NULL")]
