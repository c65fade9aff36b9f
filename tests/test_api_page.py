"""The question page in a real headless Chromium (Debian's chromium + chromium-driver)."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from index.api import background_server, create_app
from index.errors import BadQuestion
from tests.conftest import MOSCOW_ARTICLE, MOSCOW_Q
from tests.test_api import QUOTE, StubEngine

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does it)",
)
# Set to a path (e.g. docs/screenshot.png) to also keep the Moscow screenshot for the README.
SCREENSHOT_ENV = "NEWSQA_SCREENSHOT"


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="newsqa-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1200,1500", f"--user-data-dir={profile}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _wait(driver, condition, timeout: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _ask(driver, url: str, question: str) -> None:
    from selenium.webdriver.common.by import By

    driver.get(url)
    _wait(driver, lambda d: "Checking" not in d.find_element(By.ID, "status").text)
    box = driver.find_element(By.ID, "question")
    box.clear()
    box.send_keys(question)
    driver.find_element(By.ID, "ask").click()


@pytest.mark.model
def test_moscow_answer_highlights_the_quoted_sentence(browser, corpus_engine, tmp_path):
    from selenium.webdriver.common.by import By

    with background_server(create_app(corpus_engine)) as url:
        _ask(browser, url + "/", MOSCOW_Q)
        marks = _wait(browser, lambda d: [m for m in d.find_elements(By.CSS_SELECTOR, "#citations mark")
                                         if "12 citizens" in m.text])
        status = browser.find_element(By.ID, "status").text
        shot = tmp_path / "page.png"
        browser.save_screenshot(str(shot))
    mark = marks[0]
    assert "October 11, in the center of Moscow detained 12 citizens of Russia" in mark.text
    card = mark.find_element(By.XPATH, "ancestor::li")
    assert card.get_attribute("id") == "cite-1" and "cited" in card.get_attribute("class").split()
    assert MOSCOW_ARTICLE in card.find_element(By.CLASS_NAME, "meta").text
    assert card.find_element(By.CSS_SELECTOR, "td.keyword").text.startswith("#1")
    assert card.find_element(By.CSS_SELECTOR, "td.vector").text.startswith("#1")
    answer = browser.find_element(By.ID, "answer")
    assert "12 citizens" in answer.text
    assert answer.find_element(By.CSS_SELECTOR, "a.marker").get_attribute("href").endswith("#cite-1")
    assert "5 articles" in status and "25 passages" in status
    assert not browser.find_element(By.ID, "key-row").is_displayed()  # no key configured
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get(SCREENSHOT_ENV):
        shutil.copyfile(shot, os.environ[SCREENSHOT_ENV])


def test_article_text_is_shown_as_text_and_offsets_count_code_points(browser):
    from selenium.webdriver.common.by import By

    hostile = '<img src=x onerror="window.pwned=1"> 😀🇺🇦 '
    engine = StubEngine(text=f"{hostile}Intro. {QUOTE} Outro.", title='<b id="injected">bold</b>')
    with background_server(create_app(engine)) as url:
        _ask(browser, url + "/", "who?")
        mark = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#citations mark"))[0]
        citations = browser.find_element(By.ID, "citations")
        assert mark.text == QUOTE  # emoji are 2 UTF-16 units each; the offsets are code points
        assert '<img src=x onerror="window.pwned=1">' in citations.text
        assert '<b id="injected">bold</b>' in citations.text
        assert not browser.find_elements(By.CSS_SELECTOR, "#citations img, #injected")
        assert browser.execute_script("return window.pwned === undefined")
        # A javascript: URL is never made a link; the uncited passage is labelled as such.
        assert not browser.find_elements(By.CSS_SELECTOR, "#citations a[href^='javascript']")
        assert "retrieved, not quoted" in browser.find_element(By.ID, "cite-2").text


def test_bad_question_shows_the_servers_message(browser):
    from selenium.webdriver.common.by import By

    engine = StubEngine(fail=BadQuestion("the question has no words in it; type a question about the news"))
    with background_server(create_app(engine)) as url:
        _ask(browser, url + "/", "???")
        error = _wait(browser, lambda d: d.find_element(By.ID, "error") if d.find_element(By.ID, "error").is_displayed() else None)
        assert error.text == "the question has no words in it; type a question about the news"
        assert browser.find_element(By.ID, "ask").is_enabled()


def test_page_asks_for_the_key_when_the_server_needs_one(browser):
    from selenium.webdriver.common.by import By

    with background_server(create_app(StubEngine(), "page-key")) as url:
        browser.get(url + "/")
        key_box = _wait(browser, lambda d: d.find_element(By.ID, "api-key") if d.find_element(By.ID, "api-key").is_displayed() else None)
        key_box.send_keys("page-key")
        browser.find_element(By.ID, "question").send_keys("who?")
        browser.find_element(By.ID, "ask").click()
        mark = _wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#citations mark"))[0]
        assert mark.text == QUOTE
