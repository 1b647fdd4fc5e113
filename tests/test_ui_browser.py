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
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as expected
from selenium.webdriver.support.ui import Select, WebDriverWait

from qa_bot.feedback import default_feedback_path
from tests.ui_support import (
    FERRY_QUESTION,
    FERRY_REPORTS,
    HARVARD_QUESTION,
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


def open_app(driver: WebDriver, url: str, keep_conversation: bool = False) -> None:
    """Load the page; unless told to keep it, without the conversation the browser kept from earlier tests."""
    driver.get(url)
    if not keep_conversation:
        driver.execute_script("localStorage.clear()")
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

    # The answer's citation number opens the whole article in the reading pane, at the cited sentence.
    marker = primary.find_element(By.CSS_SELECTOR, ".qa-card-head button.qa-cite-mark")
    assert marker.text == "[1]"
    pane_text = open_citation(browser, marker)
    assert "Editing by Karzan Sulaivany" in pane_text.get_attribute("textContent")  # the whole article
    assert SEED_SENTENCE in pane_text.find_element(By.CSS_SELECTOR, ".qa-cited").text
    close_pane(browser)

    # Copy gives plain text: the question, the answer and its cited sentence with the article's title.
    copy_button = primary.find_element(By.CSS_SELECTOR, "button.qa-copy")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", copy_button)
    copy_button.click()
    wait(browser).until(lambda d: clipboard_text(d).startswith("Question: "))
    copied = clipboard_text(browser)
    assert copied.splitlines()[0] == f"Question: {SEED_QUESTION}"
    assert copied.splitlines()[1].startswith(f"Answer: {answers[0]}")
    assert SEED_SENTENCE in copied and "Coalition Spokesman: We continue" in copied
    assert "<" not in copied and "&" not in copied

    # A thumb on the answer card is stored with that answer; its reason and comment are sent from the card.
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
    form = primary.find_element(By.CSS_SELECTOR, ".qa-feedback")
    assert form.is_displayed() and "Thanks" in form.text
    form.find_element(By.CSS_SELECTOR, "input.qa-comment").send_keys("Right bases, thanks\n")
    wait(browser).until(lambda _: stored_comments(feedback_db) == ["Right bases, thanks"])
    sent = form.find_element(By.CSS_SELECTOR, ".qa-sent")
    wait(browser).until(lambda _: sent.text == "Thanks, your comment was saved.")
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", reply)
    browser.save_screenshot(str(ARTIFACTS / "ui-answer-1280.png"))


def in_viewport(driver: WebDriver, element: WebElement) -> bool:
    return driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;",
        element,
    )


def open_citation(driver: WebDriver, link: WebElement) -> WebElement:
    """Click a link into the reading pane (one click); returns the pane's text once the marked part is in view."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", link)
    link.click()
    text = wait(driver).until(expected.visibility_of_element_located((By.CSS_SELECTOR, "#qa-pane .qa-pane-text")))
    wait(driver).until(lambda d: in_viewport(d, d.find_element(By.CSS_SELECTOR, "#qa-pane .qa-cited")))
    return text


def close_pane(driver: WebDriver) -> None:
    driver.find_element(By.ID, "qa-pane-close").click()
    wait(driver).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#qa-pane .qa-pane-text"))


def scrollers(driver: WebDriver, root: WebElement) -> list[str]:
    """Elements under ``root`` (itself included) that scroll vertically."""
    return driver.execute_script(
        "const found = [];"
        "for (const el of [arguments[0], ...arguments[0].querySelectorAll('*')]) {"
        "  const s = getComputedStyle(el);"
        "  if (/(auto|scroll)/.test(s.overflowY) && el.scrollHeight > el.clientHeight) found.push(el.className);"
        "}"
        "return found;",
        root,
    )


def test_a_citation_opens_the_whole_article_at_the_cited_sentence_in_one_pane(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, _ = site
    browser.set_window_size(1280, 900)
    open_app(browser, url)
    reply = ask(browser, HARVARD_QUESTION)
    [primary] = reply.find_elements(By.CSS_SELECTOR, ".qa-primary")
    sources = primary.find_element(By.CSS_SELECTOR, "ol.qa-sources")
    assert re.match(r"\[1\]\s+Harvard University", sources.text), sources.text
    # One click on [1] in the source list: the pane shows the article with the cited sentence in view.
    pane_text = open_citation(browser, sources.find_element(By.CSS_SELECTOR, "button.qa-cite-mark"))
    cited = pane_text.find_element(By.CSS_SELECTOR, ".qa-cited").text
    assert cited in primary.find_element(By.CSS_SELECTOR, ".qa-quote").text
    assert "the largest of any university in the world" in pane_text.get_attribute("textContent")
    pane = browser.find_element(By.ID, "qa-pane")
    assert scrollers(browser, pane) in ([], ["qa-pane-text"])  # one scroller at most
    assert pane.get_attribute("role") == "dialog"
    assert browser.switch_to.active_element == browser.find_element(By.ID, "qa-pane-close")
    browser.switch_to.active_element.send_keys(Keys.ESCAPE)  # Escape closes it too
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#qa-pane .qa-pane-text"))


def test_the_support_view_shows_every_passage_and_candidate_read(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, _ = site
    open_app(browser, url)
    reply = ask(browser, HARVARD_QUESTION)
    support = reply.find_element(By.CSS_SELECTOR, "details.qa-support")
    open_panel(browser, support)  # the one click
    passages = support.find_elements(By.CSS_SELECTOR, "table.qa-passages tbody tr")
    assert len(passages) >= 3
    for row in passages:
        cells = [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]
        assert re.fullmatch(r"\d+", cells[0]) and re.fullmatch(r"#\d+ · \d\.\d{4}", cells[4])  # fused rank, score
        assert all(re.fullmatch(r"#\d+ · -?[\d.]+|—", cell) for cell in cells[2:4]), cells  # dense, BM25
    assert any(row.text.count("#") >= 3 for row in passages)  # the best passage was found by both retrievers
    candidates = support.find_elements(By.CSS_SELECTOR, "table.qa-candidates tbody tr")
    shown = [row for row in candidates if "qa-shown" in row.get_attribute("class")]
    withheld = [row for row in candidates if "qa-withheld" in row.get_attribute("class")]
    assert shown and len(withheld) >= 2
    answer = reply.find_element(By.CSS_SELECTOR, ".qa-primary .qa-answer-text").text
    assert shown[0].text.startswith(answer.split("[")[0].strip())
    years = {row.find_element(By.CSS_SELECTOR, "td.qa-candidate").text for row in candidates}
    assert len(years & {"1636", "1638", "1639", "1869", "1879", "1900", "1909", "1999"}) >= 3
    for row in withheld:
        assert re.search(r"withheld: (below the answer threshold|outside the margin|beyond|in the answer)", row.text)
        assert re.search(r"(likely|possible|unsure) \d+%", row.text)
    # A row opens its article at that passage.
    pane_text = open_citation(browser, passages[-1].find_element(By.CSS_SELECTOR, "button.qa-open"))
    assert pane_text.find_element(By.CSS_SELECTOR, ".qa-cited").text
    close_pane(browser)


def test_a_no_answer_takes_a_vote_a_reason_and_a_comment_in_view(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, index = site
    browser.set_window_size(1280, 900)
    open_app(browser, url)
    reply = ask(browser, "What colour are the seats in the Skarvik lighthouse canteen?")
    assert "I couldn't find this in the articles." in reply.text
    assert reply.find_elements(By.CSS_SELECTOR, "details.qa-support")
    down = reply.find_element(By.CSS_SELECTOR, "button.qa-vote[title='It should have answered']")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", down)
    down.click()
    feedback_db = default_feedback_path(index)
    wait(browser).until(
        lambda _: any(q.startswith("What colour") and v == "down" for _, q, _, v in stored_votes(feedback_db))
    )
    form = reply.find_element(By.CSS_SELECTOR, ".qa-feedback")
    Select(form.find_element(By.CSS_SELECTOR, "select.qa-reason")).select_by_visible_text("should have answered")
    form.find_element(By.CSS_SELECTOR, "input.qa-comment").send_keys("The canteen article is missing")
    send = form.find_element(By.CSS_SELECTOR, "button.qa-send")
    assert in_viewport(browser, send)  # no scrolling between the vote and its Send
    send.click()
    sent = form.find_element(By.CSS_SELECTOR, ".qa-sent")
    wait(browser).until(lambda _: sent.text == "Thanks, your comment was saved.")
    assert in_viewport(browser, sent)
    assert "should have answered: The canteen article is missing" in stored_comments(feedback_db)


def test_cards_agree_with_their_words_icons_keep_their_shape_and_labels_are_short(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, _ = site
    open_app(browser, url)
    for question in (HARVARD_QUESTION, SEED_QUESTION, FERRY_QUESTION):
        ask(browser, question)
    badges = browser.find_elements(By.CSS_SELECTOR, ".qa-confidence")
    assert badges
    for badge in badges:
        text = badge.get_attribute("textContent")  # alternatives may be folded away
        word, number = re.fullmatch(r"(likely|possible|unsure) (\d+)%", text).groups()
        expected_word = "likely" if int(number) >= 70 else "possible" if int(number) >= 45 else "unsure"
        assert word == expected_word, text
        assert f"qa-{word}" in badge.get_attribute("class")
    view_boxes = browser.execute_script(
        "return [...document.querySelectorAll('#qa-chat svg')].map(icon => icon.getAttribute('viewBox'))"
    )
    assert len(view_boxes) >= 6 and all(view_boxes), view_boxes  # the thumbs' glyphs are drawn whole
    thumbs = [icon for icon in browser.find_elements(By.CSS_SELECTOR, "svg.qa-icon") if icon.is_displayed()]
    assert thumbs and all(icon.size == {"width": 16, "height": 16} for icon in thumbs)
    labels = browser.execute_script(
        "return [...document.querySelectorAll('#qa-chat [aria-label]')].map(e => e.getAttribute('aria-label'))"
    )
    assert len(labels) >= 6 and max(map(len, labels)) < 500 and not any("<" in label for label in labels)


def test_articles_that_differ_are_shown_newest_first(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, _ = site
    open_app(browser, url)
    reply = ask(browser, FERRY_QUESTION)
    differ = reply.find_element(By.CSS_SELECTOR, ".qa-differ")
    lines = differ.find_elements(By.TAG_NAME, "li")
    assert differ.text.startswith("Articles differ:")
    newest, oldest = sorted(FERRY_REPORTS, key=lambda report: report["date"], reverse=True)
    assert [line.text.split(" — ")[0] for line in lines] == ["Nineteen", "Twelve"]
    assert newest["title"] in lines[0].text and newest["date"] in lines[0].text
    assert oldest["title"] in lines[1].text and oldest["date"] in lines[1].text
    assert len(reply.find_elements(By.CSS_SELECTOR, ".qa-primary")) == 1
    assert reply.find_element(By.CSS_SELECTOR, ".qa-alternative").is_displayed()  # the other side is not hidden


def test_a_reload_restores_the_conversation_and_export_writes_it_as_markdown(
    site: tuple[str, Path, Path], browser: WebDriver, tmp_path: Path
) -> None:
    url, _, _ = site
    open_app(browser, url)
    browser.find_element(By.ID, "qa-new-chat").click()
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".qa-reply"))
    ask(browser, HARVARD_QUESTION)
    before = [r.text for r in browser.find_elements(By.CSS_SELECTOR, ".qa-reply")]
    open_app(browser, url, keep_conversation=True)
    wait(browser).until(lambda d: [r.text for r in d.find_elements(By.CSS_SELECTOR, ".qa-reply")] == before)
    # The restored conversation still works: a follow-up sees the earlier turn and a vote is taken.
    follow_up = ask(browser, "Who was its first benefactor?")
    assert follow_up.find_elements(By.CSS_SELECTOR, ".qa-primary, .qa-nothing")
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    export = browser.find_element(By.ID, "qa-export")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", export)
    export.click()
    wait(browser).until(lambda _: [p for p in tmp_path.glob("*.md")])
    [markdown] = tmp_path.glob("*.md")
    text = markdown.read_text(encoding="utf-8")
    assert f"## {HARVARD_QUESTION}" in text and "## Who was its first benefactor?" in text
    assert "**Answer:** 1636 \\[1\\]" in text and re.search(
        r"^- \\\[1\\\] “.*1636.*Harvard University", text, re.MULTILINE
    )
    browser.find_element(By.ID, "qa-new-chat").click()
    wait(browser).until(lambda d: not d.find_elements(By.CSS_SELECTOR, ".qa-reply"))
    open_app(browser, url, keep_conversation=True)
    time.sleep(2)
    assert not browser.find_elements(By.CSS_SELECTOR, ".qa-reply")  # New chat is kept across a reload too


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
        assert in_viewport(browser, browser.find_element(By.ID, "qa-new-chat"))
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "ui-answer-400.png"))
        open_tab(browser, "Articles")
        dates = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.qa-articles td.qa-date"))
        lines = browser.execute_script(
            "return arguments[0].map(cell => { const range = document.createRange(); range.selectNodeContents(cell);"
            " return new Set([...range.getClientRects()].map(r => Math.round(r.bottom))).size; })",
            dates,
        )
        assert set(lines) == {1}  # one line each: "2026-12-03 (file)" is never broken
        assert browser.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
        table = browser.find_element(By.CSS_SELECTOR, "table.qa-articles")  # its long markup title wraps inside
        assert browser.execute_script("return arguments[0].getBoundingClientRect().right <= window.innerWidth", table)
    finally:
        browser.set_window_size(1280, 1100)


def test_example_questions_are_ones_the_bot_answers_confidently(
    site: tuple[str, Path, Path], browser: WebDriver
) -> None:
    url, _, _ = site
    open_app(browser, url)
    examples = wait(browser).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#qa-chat button.example"))
    replies_before = len(browser.find_elements(By.CSS_SELECTOR, ".qa-reply"))
    examples[0].click()
    wait(browser, ANSWER_WAIT_S).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".qa-reply")) > replies_before)
    reply = browser.find_elements(By.CSS_SELECTOR, ".qa-reply")[-1]
    badge = reply.find_element(By.CSS_SELECTOR, ".qa-primary .qa-confidence")
    assert badge.text.startswith("likely"), badge.text


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
    reply = ask(browser, question)
    assert browser.find_elements(By.CSS_SELECTOR, ".qa-question")[-1].text == question

    # The article in the reading pane, opened from the support view.
    support = reply.find_element(By.CSS_SELECTOR, "details.qa-support")
    open_panel(browser, support)
    rows = support.find_elements(By.CSS_SELECTOR, "table.qa-passages button.qa-open")
    harbour = next(row for row in rows if row.text.startswith("Harbour notes"))
    assert harbour.text == INJECTED_TITLE
    pane_text = open_citation(browser, harbour)
    for payload in (SCRIPT_PAYLOAD, IMAGE_PAYLOAD, MARKDOWN_PAYLOAD):
        assert payload in pane_text.text
    close_pane(browser)

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
    picker = browser.find_element(By.CSS_SELECTOR, "#qa-article-picker input")
    picker.click()  # the read/remove choice offers what the table shows
    wait(browser).until(
        lambda d: (
            [li.text for li in d.find_elements(By.CSS_SELECTOR, "#qa-article-picker li")]
            == ["Lighthouse keeper retires after forty years"]
        )
    )
    picker.send_keys(Keys.ESCAPE)
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
    status = index_status(browser, "Removed")
    assert not (corpus / "lighthouse-keeper.txt").exists()
    [trashed] = (corpus / ".trash").rglob("lighthouse-keeper.txt")
    assert trashed.read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    assert "Lighthouse keeper" not in browser.find_element(By.CSS_SELECTOR, "#qa-articles").text
    assert str(corpus.parent) not in status.text and ".trash" not in status.text  # no server paths

    # Undo brings the file back from the trash, unchanged, and the article back into the index.
    wait(browser).until(expected.element_to_be_clickable((By.ID, "qa-undo-remove"))).click()
    index_status(browser, "Restored lighthouse-keeper.txt")
    assert (corpus / "lighthouse-keeper.txt").read_text(encoding="utf-8") == upload.read_text(encoding="utf-8")
    assert not trashed.exists()
    wait(browser).until(lambda d: "Lighthouse keeper" in d.find_element(By.CSS_SELECTOR, "#qa-articles").text)
    assert not [button for button in browser.find_elements(By.ID, "qa-undo-remove") if button.is_displayed()]


def table_column(driver: WebDriver, column: int) -> list[str]:
    return [
        row.find_elements(By.TAG_NAME, "td")[column].text
        for row in driver.find_elements(By.CSS_SELECTOR, "table.qa-articles tbody tr")
    ]


def test_the_article_table_sorts_by_any_column(site: tuple[str, Path, Path], browser: WebDriver) -> None:
    url, _, _ = site
    open_app(browser, url)
    open_tab(browser, "Articles")
    wait(browser).until(expected.visibility_of_element_located((By.CSS_SELECTOR, "table.qa-articles")))
    dates = table_column(browser, 2)
    assert dates == sorted(dates, reverse=True)  # newest first to begin with
    title = browser.find_element(By.CSS_SELECTOR, "table.qa-articles th button[value='0']")
    title.click()
    titles = table_column(browser, 0)
    assert len(titles) >= 4 and titles == sorted(titles, key=str.lower)
    title.click()
    assert table_column(browser, 0) == sorted(titles, key=str.lower, reverse=True)
    browser.find_element(By.CSS_SELECTOR, "table.qa-articles th button[value='3']").click()
    passages = [int(n) for n in table_column(browser, 3)]
    assert passages == sorted(passages)


def stored_votes(path: Path) -> list[tuple[str, str, str, str]]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute("SELECT answer_id, question, answers_json, vote FROM feedback").fetchall()


def stored_comments(path: Path) -> list[str]:
    with closing(sqlite3.connect(path)) as connection:
        return [row[0] for row in connection.execute("SELECT comment FROM feedback WHERE comment IS NOT NULL")]
