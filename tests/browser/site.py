"""What the site's browser tests share: ml-latest-small with a published run, an RQ worker process, screenshots."""

from __future__ import annotations

import io
import os
import tempfile
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connection, transaction

from tests.account_helpers import make_operator
from tests.helpers import REPO, database_url, run, stop_process_group
from tests.reliability.snapshot import stored
from web.runs.models import ActiveRun, Run

# The browser tests photograph the main pages; `SCREENSHOTS_DIR=docs/screenshots make test`
# refreshes the pictures linked from the README, a plain run keeps the work tree clean.
SCREENSHOTS = Path(os.environ.get("SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "movielens-screenshots")
"""Where the tests save pictures of the main pages (linked from the README)."""


class SiteSnapshot:
    """ml-latest-small and its published run, loaded once and copied back for each later test.

    Loading the set and running EASE took seconds for every browser test.
    The first :meth:`load` does both and keeps, in memory, the rows of every
    table they changed (score and similar-movie partitions included); a later
    call finds the database flushed by the previous test (pytest-django
    truncates every table, the partitions stay) and copies those rows back.
    If a table is gone (a test dropped the run's partitions), it loads again.
    """

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.run_id: int | None = None

    def load(self, movielens: Path) -> Run:
        if self.run_id is not None and set(self.rows) <= _plain_tables():
            self._copy_back()
            return Run.objects.get(pk=self.run_id)
        self.rows, self.run_id = {}, None
        before = _table_states()
        ActiveRun.objects.get_or_create(id=ActiveRun.SINGLETON_ID)
        call_command("load_movielens", str(movielens), quiet=True)
        published = run()
        changed = [table for table, state in _table_states().items() if before.get(table) != state]
        with connection.cursor() as cursor:
            for table in changed:
                buffer = io.BytesIO()
                cursor.copy_expert(f'COPY "{table}" TO STDOUT (FORMAT binary)', buffer)
                self.rows[table] = buffer.getvalue()
        self.run_id = published.pk
        return published

    def _copy_back(self) -> None:
        # One transaction: Django's foreign keys are checked at commit, so the order of the tables does not matter.
        with transaction.atomic(), connection.cursor() as cursor:
            for table, rows in self.rows.items():
                cursor.execute(f'DELETE FROM "{table}"')  # e.g. a row that a migration's data step left
                cursor.copy_expert(f'COPY "{table}" FROM STDIN (FORMAT binary)', io.BytesIO(rows))


def _plain_tables() -> set[str]:
    """Tables that hold rows (partitioned parents hold none) in the public schema."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
        return {name for (name,) in cursor.fetchall()}


def _table_states() -> dict[str, tuple[int, str]]:
    return stored(tuple(sorted(_plain_tables())))


SITE = SiteSnapshot()
"""The browser tests' one copy of the loaded site."""


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


OPERATOR_PASSWORD = "op-test-password"
"""The password of the operator ``op`` that :func:`sign_in_operator` makes."""


def sign_in_operator(page, base_url: str) -> None:
    """Make the operator ``op`` and sign in through the form, landing on the progress page."""
    make_operator("op", OPERATOR_PASSWORD)
    page.goto(f"{base_url}/accounts/login/?next=/progress/")
    page.fill("input[name=username]", "op")
    page.fill("input[name=password]", OPERATOR_PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")


def sign_in(page, base_url: str, username: str, password: str = MEMBER_PASSWORD) -> None:
    """Sign in through the form and wait for where signing in lands: the member's own recommendations."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base_url}/me/")
