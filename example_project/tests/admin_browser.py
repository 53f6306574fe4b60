"""Helpers for the admin's browser tests: log in, fit 1280 px, screenshots.

Set ``ORDER_UPDATES_SCREENSHOTS`` to a folder (``docs/_static``) to save the
screenshots the merchant guide shows; without it, pages are still checked to
fit the 1280 px wide window.
"""

import os
from pathlib import Path

from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

SCREENSHOTS = os.environ.get("ORDER_UPDATES_SCREENSHOTS", "")


def wait(browser, condition, timeout=15):
    # A preview frame reloading while a condition reads it leaves a stale
    # element: read it again on the next poll, as a person would look again.
    return WebDriverWait(
        browser,
        timeout,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    ).until(condition)


def admin_login(browser, live_server, username, password):
    browser.get(live_server.url + "/admin/login/")
    browser.find_element(By.ID, "id_username").send_keys(username)
    browser.find_element(By.ID, "id_password").send_keys(password)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait(browser, EC.presence_of_element_located((By.ID, "user-tools")))


def message_texts(browser):
    """The admin's messages on the current page (read in one go: the page may be
    replaced by the next one meanwhile).
    """
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('.messagelist li'))"
        ".map(function (item) { return item.textContent.trim(); })"
    )


def fits_and_snap(browser, name):
    """Assert the page needs no horizontal scrolling at 1280 px; save a screenshot."""
    overflow = browser.execute_script(
        "return document.documentElement.scrollWidth - window.innerWidth"
    )
    assert overflow <= 0, "%s is %d px wider than the window" % (name, overflow)
    # The admin scrolls a wide change list inside its box: that is cut off too.
    inner = browser.execute_script(
        "return Array.from(document.querySelectorAll('.results, .ou-editor, "
        ".ou-dashboard, .ou-table'))"
        ".filter(function (box) { return box.scrollWidth > box.clientWidth + 1; })"
        ".map(function (box) { return box.className + ' ' + box.id; })"
    )
    assert not inner, "%s scrolls sideways in: %s" % (name, inner)
    if SCREENSHOTS and name:
        folder = Path(SCREENSHOTS)
        folder.mkdir(parents=True, exist_ok=True)
        size = browser.get_window_size()
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1280, min(max(height + 140, 700), 2200))
        browser.save_screenshot(str(folder / ("%s.png" % name)))
        browser.set_window_size(size["width"], size["height"])
