"""Fixtures for the demo shop's tests: users, products and a headless Chromium.

Two session-wide arrangements let a real Celery worker process join in
(``test_demo_worker.py``): on SQLite the test database is a file, not memory, so
another process can open it; and the demo's filesystem broker writes to a folder
of the test session, never to the developer's ``var/broker/``.
"""

import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model

from demo_site.celery import app as celery_app
from demo_site.settings import filesystem_broker_options
from shop.models import Product

#: CI installs Debian's chromium and chromium-driver; override the paths if needed.
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix, tmp_path_factory
):
    """On SQLite, a test database file that a worker process can open too."""
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        folder = tmp_path_factory.mktemp("db")
        database.setdefault("TEST", {})["NAME"] = str(folder / "test.sqlite3")


@pytest.fixture(scope="session", autouse=True)
def demo_var_dir(tmp_path_factory):
    """The session's stand-in for ``var/``: tasks the tests queue land here.

    Whatever ``CELERY_BROKER_URL`` says, the tests use the demo's own broker.
    """
    var_dir = tmp_path_factory.mktemp("var")
    celery_app.conf.broker_url = "filesystem://localhost//"
    celery_app.conf.broker_transport_options = filesystem_broker_options(var_dir)
    return var_dir


@pytest.fixture
def products(db):
    return [
        Product.objects.create(name=name, slug=slug, price=price)
        for name, slug, price in [
            ("Chef's Knife", "chefs-knife", Decimal("89.00")),
            ("Tea Sampler", "tea-sampler", Decimal("16.50")),
            ("Enamel Kettle", "enamel-kettle", Decimal("44.00")),
        ]
    ]


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user(
        "alice",
        "alice@example.com",
        "alice-password",
        first_name="Alice",
        last_name="Schmidt",
    )


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", "bob@example.com", "bob")


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium driven by Selenium; fails (never skips) if missing."""
    missing = [
        "%s (%s)" % (path, variable)
        for path, variable in [
            (CHROMIUM, "CHROMIUM_BINARY"),
            (CHROMEDRIVER, "CHROMEDRIVER"),
        ]
        if not (os.path.isfile(path) and os.access(path, os.X_OK))
    ]
    if missing:
        pytest.fail(
            "The browser tests need Chromium and its driver, which were not found: "
            "%s. Install them (Debian/Ubuntu: apt-get install chromium "
            "chromium-driver) or point the environment variables at them."
            % ", ".join(missing),
            pytrace=False,
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = CHROMIUM
    for argument in [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=en-US",
        "--window-size=1280,900",
        "--user-data-dir=%s" % (tmp_path / "chromium-profile"),
    ]:
        options.add_argument(argument)
    # Both paths are given explicitly, so Selenium Manager never downloads anything.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "chromium-profile", ignore_errors=True)


#: axe-core, installed from the npm registry by `make test-browser`
#: (example_project/package.json).
AXE_SCRIPT = Path(__file__).resolve().parent.parent / (
    "node_modules/axe-core/axe.min.js"
)
#: Where the browser tests keep their screenshots (kept for people to look at).
SCREENSHOTS = Path(
    os.environ.get("SCREENSHOT_DIR")
    or Path(__file__).resolve().parent.parent / "var" / "screenshots"
)


@pytest.fixture
def check_accessibility(browser):
    """Run axe-core on the browser's page; fail on serious or critical findings."""
    if not AXE_SCRIPT.is_file():
        pytest.fail(
            "The accessibility checks need axe-core: run `make test-browser`, or "
            "`npm ci` in example_project/ (%s is missing)." % AXE_SCRIPT,
            pytrace=False,
        )
    source = AXE_SCRIPT.read_text()

    def check(context=""):
        browser.execute_script(source)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']})"
            ".then(r => done(r.violations)).catch(e => done(String(e)));"
        )
        assert isinstance(result, list), result
        bad = [
            "%s (%s): %s"
            % (
                item["id"],
                item["impact"],
                "; ".join(node["html"][:120] for node in item["nodes"][:3]),
            )
            for item in result
            if item["impact"] in ("serious", "critical")
        ]
        assert not bad, "%s %s" % (context or browser.current_url, bad)
        return result

    return check


@pytest.fixture
def screenshot(browser):
    """Save the page at phone (360 px) and desktop (1280 px) widths as PNGs."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name):
        paths = []
        for width in (360, 1280):
            browser.set_window_size(width, 900)
            height = browser.execute_script(
                "return document.documentElement.scrollHeight"
            )
            browser.set_window_size(width, min(max(height, 600), 4000))
            path = SCREENSHOTS / ("%s-%d.png" % (name, width))
            browser.save_screenshot(str(path))
            paths.append(path)
        browser.set_window_size(1280, 900)
        return paths

    return take
