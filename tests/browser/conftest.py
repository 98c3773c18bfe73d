"""Headless Debian Chromium driven by Playwright (never Playwright's own browser download)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.browser.site import SITE, sign_in_operator
from tests.helpers import drop_run_tables
from tests.recommender.similar import drop_similar_tables

# Playwright's sync API runs an event loop in this thread; Django's async-safety
# check would otherwise refuse the ORM calls the tests make between page actions.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail("Debian's chromium is not installed: `make test` installs it (scripts/install-chromium.sh)")
    return path


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def operator_page(live_server, page):
    """The page's browser, signed in as an operator through the login form, on the progress page."""
    sign_in_operator(page, live_server.url)
    return page


@pytest.fixture
def site(movielens_small, redis_conn):
    """ml-latest-small and a published run (EASE) in the test database (the live server's)."""
    return SITE.load(movielens_small)


@pytest.fixture(scope="package", autouse=True)
def site_tables(django_db_blocker):
    """The site's score and similar-movie partitions outlive each test (flushes empty them); dropped at the end."""
    yield
    with django_db_blocker.unblock():
        drop_similar_tables()
        drop_run_tables()
