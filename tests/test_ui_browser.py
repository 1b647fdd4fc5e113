"""The chat UI in a real browser: Debian's chromium driven by Selenium against `qa-bot serve`."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import tempfile
import time
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


def chat_scroller(driver: WebDriver) -> WebElement:
    return driver.find_element(By.CSS_SELECTOR, "#qa-chat .bubble-wrap")


def top_is_in_view(driver: WebDriver, element: WebElement) -> bool:
    """The element's first line is inside the chat's visible area."""
    return driver.execute_script(
        "const [box, el] = arguments; const b = box.getBoundingClientRect(), e = el.getBoundingClientRect();"
        "return e.top >= b.top - 1 && e.top + 20 <= b.bottom;",
        chat_scroller(driver),
        element,
    )


def clipboard_text(driver: WebDriver) -> str:
    return driver.execute_async_script("navigator.clipboard.readText().then(arguments[0], e => arguments[0](`${e}`))")


def test_reply_opens_at_its_top_with_one_answer_copy_and_a_vote_per_card(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, index = site
    browser.set_window_size(1280, 820)
    open_app(browser, url)
    browser.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": url.rstrip("/"), "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    ask(browser, "Who is the Spokesman for the US-led Coalition in Iraq?")  # earlier history above the reply
    reply = ask(browser, SEED_QUESTION)
    time.sleep(1)  # let any scrolling settle
    assert top_is_in_view(browser, reply)

    # One prominent answer; alternatives (if any) folded away under "Other possible answers".
    [primary] = reply.find_elements(By.CSS_SELECTOR, ".qa-primary")
    answers = [a.text for a in primary.find_elements(By.CSS_SELECTOR, ".qa-answer-text")]
    assert any(name in answer for answer in answers for name in SEED_ANSWERS), answers
    for others in reply.find_elements(By.CSS_SELECTOR, "details.qa-others"):
        assert others.get_attribute("open") is None
        assert not any(card.is_displayed() for card in others.find_elements(By.CSS_SELECTOR, ".qa-alternative"))
    assert "answers found" not in reply.text
    assert re.fullmatch(r"(likely|possible|unsure) \d+%", primary.find_element(By.CSS_SELECTOR, ".qa-confidence").text)
    quote = primary.find_element(By.CSS_SELECTOR, ".qa-quote")
    assert SEED_SENTENCE in quote.text
    assert quote.find_element(By.CSS_SELECTOR, "mark.qa-answer").text == answers[0]
    assert (
        "Coalition Spokesman: We continue to work with the Peshmerga"
        in primary.find_element(By.CSS_SELECTOR, ".qa-meta").text
    )

    # Support view: the passage with the sentence and answer marked, the scores, then the whole article.
    support = primary.find_element(By.CSS_SELECTOR, "details.qa-support")
    open_panel(browser, support)
    passage = support.find_element(By.CSS_SELECTOR, ".qa-passage")
    assert SEED_SENTENCE in " ".join(span.text for span in passage.find_elements(By.CSS_SELECTOR, ".qa-cited"))
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

    # Copy gives plain text: the question, the answer and its cited sentence with the article's title.
    copy_button = primary.find_element(By.CSS_SELECTOR, "button.qa-copy")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", copy_button)
    copy_button.click()
    wait(browser).until(lambda d: clipboard_text(d).startswith("Q: "))
    copied = clipboard_text(browser)
    assert copied.splitlines()[0] == f"Q: {SEED_QUESTION}"
    assert copied.splitlines()[1].startswith(f"A: {answers[0]}")
    assert SEED_SENTENCE in copied and "Coalition Spokesman: We continue" in copied
    assert "<" not in copied and "&" not in copied

    # A thumb on the answer card is stored with that answer, and thanks appear on the card.
    like = primary.find_element(By.CSS_SELECTOR, "button.qa-vote[title='Good answer']")
    like.click()
    feedback_db = default_feedback_path(index)
    wait(browser).until(lambda _: feedback_db.exists() and stored_votes(feedback_db))
    [(answer_id, question, answers_json, vote)] = stored_votes(feedback_db)
    assert (question, vote) == (SEED_QUESTION, "up")
    assert answer_id.endswith(":0")  # the first card of its reply
    stored = json.loads(answers_json)
    assert [a["text"] for a in stored] == answers
    assert stored[0]["role"] == "answer" and stored[0]["citations"]
    assert primary.find_element(By.CSS_SELECTOR, ".qa-thanks").is_displayed()
    assert "Thanks" in browser.find_element(By.ID, "qa-vote-thanks").text
    comment_box = browser.find_element(By.CSS_SELECTOR, "#qa-comment-row textarea")
    comment_box.send_keys("Right bases, thanks\n")
    wait(browser).until(lambda _: stored_comments(feedback_db) == ["Right bases, thanks"])
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", reply)
    browser.save_screenshot(str(ARTIFACTS / "ui-answer-1280.png"))


BROKEN_WORDS = """
const broken = [];
for (const element of arguments[0]) {
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    for (const match of node.data.matchAll(/\\S+/g)) {
      const range = document.createRange();
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      if (tops.size > 1) broken.push(match[0]);
    }
  }
}
return broken;
"""


def test_narrow_screen_keeps_the_question_box_visible_and_words_whole(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, _ = site
    browser.set_window_size(400, 800)
    try:
        open_app(browser, url)
        reply = ask(browser, SEED_QUESTION)
        time.sleep(1)
        assert top_is_in_view(browser, reply)  # the reply is taller than the chat here
        box = browser.find_element(By.CSS_SELECTOR, "#qa-question textarea")
        assert browser.execute_script(
            "const r = arguments[0].getBoundingClientRect(); return r.top >= 0 && r.bottom <= window.innerHeight;", box
        )
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        titles = reply.find_elements(By.CSS_SELECTOR, ".qa-answer-text, .qa-title")
        assert titles and browser.execute_script(BROKEN_WORDS, titles) == []
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "ui-answer-400.png"))
    finally:
        browser.set_window_size(1280, 1100)


def test_follow_up_question_uses_the_previous_answer(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, _ = site
    open_app(browser, url)
    first = ask(browser, "Who is the Spokesman for the US-led Coalition in Iraq?")
    spokesman = first.find_element(By.CSS_SELECTOR, ".qa-answer-text").text
    assert "Caggins" in spokesman
    follow_up = ask(browser, "Which bases did he say the Coalition consolidated in?")
    assert spokesman in follow_up.find_element(By.CSS_SELECTOR, ".qa-read-as").text  # "Read as: ... Caggins ..."


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


def index_status(driver: WebDriver, needle: str) -> WebElement:
    return wait(driver, ANSWER_WAIT_S).until(
        lambda d: needle in d.find_element(By.ID, "qa-index-status").text and d.find_element(By.ID, "qa-index-status")
    )


def test_uploaded_article_answers_a_question_and_can_be_removed_to_the_trash(
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

    status = index_status(browser, "Index updated")
    assert "1 added" in status.text
    assert (corpus / "lighthouse-keeper.txt").read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    assert not [p for p in corpus.iterdir() if p.name.startswith(".upload-")]  # no partial copies left
    table = browser.find_element(By.CSS_SELECTOR, "table.qa-articles")
    assert "Lighthouse keeper retires after forty years" in table.text
    assert re.search(r"\d{4}-\d{2}-\d{2}", table.text)  # a date for every article, the file's when it has none
    search = browser.find_element(By.CSS_SELECTOR, "#qa-article-search textarea, #qa-article-search input")
    search.send_keys("lighthouse")
    wait(browser).until(lambda d: "Coalition" not in d.find_element(By.CSS_SELECTOR, "#qa-articles").text)
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "ui-articles.png"))

    # The new article answers a question about it.
    open_tab(browser, "Ask")
    reply = ask(browser, "Who kept the Skarvik lighthouse lit?")
    assert "Maren Holt" in reply.find_element(By.CSS_SELECTOR, ".qa-primary .qa-answer-text").text

    # Removal asks first, then moves the file to the corpus trash and drops it from the index.
    open_tab(browser, "Articles")
    picker = wait(browser).until(expected.element_to_be_clickable((By.CSS_SELECTOR, "#qa-article-picker input")))
    picker.click()
    picker.send_keys("Lighthouse")
    wait(browser).until(expected.element_to_be_clickable((By.CSS_SELECTOR, "#qa-article-picker li"))).click()
    wait(browser).until(expected.element_to_be_clickable((By.ID, "qa-remove"))).click()
    confirm = wait(browser).until(expected.element_to_be_clickable((By.ID, "qa-confirm-remove")))
    assert "lighthouse-keeper.txt" in browser.find_element(By.ID, "qa-confirm-row").text
    assert (corpus / "lighthouse-keeper.txt").exists()  # nothing happens before the confirmation
    confirm.click()
    index_status(browser, "Removed")
    assert not (corpus / "lighthouse-keeper.txt").exists()
    [trashed] = (corpus / ".trash").rglob("lighthouse-keeper.txt")
    assert trashed.read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    assert "Lighthouse keeper" not in browser.find_element(By.CSS_SELECTOR, "#qa-articles").text


def stored_votes(path: Path) -> list[tuple[str, str, str, str]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT answer_id, question, answers_json, vote FROM feedback").fetchall()


def stored_comments(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT comment FROM feedback WHERE comment IS NOT NULL")]
