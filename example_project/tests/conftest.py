"""Fixtures for the demo shop's tests: users, products and a headless Chromium."""

import os
import shutil

import pytest
from django.contrib.auth import get_user_model

from shop.models import Product

#: CI installs Debian's chromium and chromium-driver; override the paths if needed.
CHROMIUM = os.environ.get("CHROMIUM_BINARY", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")


@pytest.fixture
def products(db):
    return [
        Product.objects.create(name=name, slug=slug, price=price)
        for name, slug, price in [
            ("Chef's Knife", "chefs-knife", "89.00"),
            ("Tea Sampler", "tea-sampler", "16.50"),
            ("Enamel Kettle", "enamel-kettle", "44.00"),
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
