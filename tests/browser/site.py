"""What the site's browser tests share: ml-latest-small with a published run, an RQ worker process, screenshots."""

from __future__ import annotations

import os
import tempfile
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command

from tests.helpers import REPO, database_url, run, stop_process_group
from web.runs.models import ActiveRun, Run

# The browser tests photograph the main pages; `SCREENSHOTS_DIR=docs/screenshots make test`
# refreshes the pictures linked from the README, a plain run keeps the work tree clean.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "movielens-screenshots")
"""Where the tests save pictures of the main pages (linked from the README)."""


def load_site(movielens: Path) -> Run:
    """ml-latest-small in the test database and one published run of the default algorithm (EASE)."""
    ActiveRun.objects.get_or_create(id=ActiveRun.SINGLETON_ID)
    call_command("load_movielens", str(movielens), quiet=True)
    return run()


def start_worker() -> subprocess.Popen:
    """``python manage.py rqworker`` on the test database and the tests' Redis database, as the deployment runs it."""
    env = dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, PYTHONPATH=str(REPO))
    return subprocess.Popen(
        [sys.executable, "manage.py", "rqworker"], cwd=REPO, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )


def stop_worker(worker: subprocess.Popen) -> None:
    stop_process_group(worker, timeout=15)


def screenshot(page, name: str, full_page: bool = False) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


MEMBER_PASSWORD = "a-long-test-passw0rd"
"""The password of the members the browser tests make."""


def sign_in(page, base_url: str, username: str, password: str = MEMBER_PASSWORD) -> None:
    """Sign in through the form and wait for where signing in lands: the member's own recommendations."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/me/")
