"""The operators' progress page end to end: real RQ worker, real job subprocesses, the real web server, headless Chromium.

Runs are slowed with the job's test hook ``PRECOMPUTE_TEST_CHUNK_DELAY`` and
small chunks, so that a run on a 1,500-user synthetic set takes several
seconds and the page can be watched while it moves.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from playwright.sync_api import expect

from bench.api_load import free_port
from tests.account_helpers import make_operator
from tests.helpers import REPO, database_url, drop_run_tables, start_job, stop_process_group, wait_for
from tests.helpers import run as run_job_in_process
from web.runs.models import ActiveRun, Run

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHUNK_DELAY = 0.4
"""Seconds each 100-user chunk sleeps: 15 chunks make a compute stage of about 6 s."""
PASSWORD = "operator-test-password"


@pytest.fixture
def synthetic_set(tmp_path, transactional_db):
    """1,500 synthetic users rating 300 movies, loaded into the test database."""
    drop_run_tables()
    ActiveRun.objects.get_or_create(id=ActiveRun.SINGLETON_ID)
    call_command("generate_movielens", str(tmp_path / "set"), users=1500, movies=300, ratings=45_000, seed=5, verbosity=0)
    call_command("load_movielens", str(tmp_path / "set"), verbosity=0)
    yield
    drop_run_tables()


@pytest.fixture
def operator(django_user_model):
    return make_operator("operator", password=PASSWORD)[0]


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, DATABASE_URL=database_url(), REDIS_URL=settings.REDIS_URL, PYTHONPATH=str(REPO),
                DJANGO_SETTINGS_MODULE="web.settings", **extra)


def _stop(process: subprocess.Popen) -> None:
    stop_process_group(process)


@pytest.fixture
def worker(tmp_path):
    """``python manage.py rqworker`` on the test database and the tests' Redis database, chunks slowed down."""
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rqworker"], cwd=REPO, env=_env(PRECOMPUTE_TEST_CHUNK_DELAY=str(CHUNK_DELAY)),
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield process
    _stop(process)
    log.close()


def sign_in(page, base_url: str, username: str, password: str = PASSWORD):
    """Sign in through the real login form, asking to land on the progress page."""
    page.goto(f"{base_url}/accounts/login/?next=/progress/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")


RECORD_BAR = """(runId) => {
  window.__sameDocument = true;
  window.__seen = [];
  setInterval(() => {
    const now = document.getElementById('now');
    const bar = now && now.querySelector('progress.main');
    if (bar && now.dataset.run === String(runId)) window.__seen.push(bar.value);
  }, 100);
}"""


def _start_run(page) -> int:
    """Fill the start form (popularity, chunks of 100 users, one worker) and return the new run's id."""
    before = set(Run.objects.values_list("id", flat=True))
    page.select_option("#start-algorithm", "popularity")
    if not page.locator("details.advanced").evaluate("details => details.open"):
        page.click("details.advanced summary")
    page.fill("input[name=chunk_size]", "100")
    page.fill("input[name=workers]", "1")
    page.click("#start-button")
    return wait_for(lambda: next(iter(set(Run.objects.values_list("id", flat=True)) - before), None), 10, "the new run")


def test_operator_starts_a_run_watches_it_finish_then_cancels_another(live_server, page, synthetic_set, operator, worker, tmp_path):
    """Start through the RQ worker, bar moves 0 -> 100 % in place, run serves; a second run is cancelled and the first still serves."""
    sign_in(page, live_server.url, "operator")
    assert page.url.endswith("/progress/")
    page.on("dialog", lambda dialog: dialog.accept())

    first = _start_run(page)
    page.evaluate(RECORD_BAR, first)
    page.wait_for_function("(id) => document.getElementById('now').dataset.run === String(id)", arg=first, timeout=15_000)
    # A screenshot mid-run (docs/screenshots/progress-mid-run.png is made this way: PROGRESS_SCREENSHOT=path).
    page.wait_for_function("() => { const b = document.querySelector('#now progress.main'); return b && b.value > 0.3; }",
                           timeout=60_000)
    shot = Path(os.environ.get("PROGRESS_SCREENSHOT") or tmp_path / "progress-mid-run.png")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000

    page.wait_for_function("(id) => document.getElementById('active-run').textContent === String(id)", arg=first,
                           timeout=90_000)
    page.wait_for_function("() => window.__seen.includes(1)", timeout=10_000)
    seen = page.evaluate("window.__seen")
    intermediate = sorted({value for value in seen if 0 < value < 1})
    assert len(intermediate) >= 3, seen
    assert seen[-1] == 1 and page.evaluate("window.__sameDocument") is True
    assert Run.objects.get(pk=first).status == "succeeded" and ActiveRun.current_run_id() == first
    assert page.locator("#now").get_attribute("data-status") == "succeeded"
    # The job's own log lines reach the page from the database (item 8), the last one after the run published.
    expect(page.locator("#now pre.log")).to_contain_text(f"precompute run {first} succeeded", timeout=10_000)
    assert page.locator("#action-message").is_hidden()  # "Run N created: pending ..." went when the run started

    second = _start_run(page)
    page.wait_for_function(
        "(id) => { const now = document.getElementById('now');"
        " return now.dataset.run === String(id) && now.dataset.status === 'running'"
        " && now.querySelector('progress.main').value > 0; }", arg=second, timeout=60_000)
    page.click("#now button.cancel")
    page.wait_for_function("(id) => { const now = document.getElementById('now');"
                           " return now.dataset.run === String(id) && now.dataset.status === 'cancelled'; }",
                           arg=second, timeout=30_000)
    assert page.locator(f"tr[data-run='{second}'] .status").inner_text() == "cancelled"
    assert page.locator(f"tr[data-run='{second}'] .cancelled-by").inner_text() == "by an operator"
    assert page.locator("#now .now-cancelled").inner_text() == "Cancelled by an operator."
    assert page.locator("#active-run").inner_text() == str(first)
    assert page.locator(f"tr[data-run='{first}'] .badge").inner_text() == "serving"
    assert ActiveRun.current_run_id() == first
    assert page.evaluate("window.__sameDocument") is True


def test_non_operators_get_403_and_anonymous_visitors_sign_in(live_server, page, django_user_model):
    """A signed-in user who is not an operator gets 403 on the page and its feed; an anonymous one is sent to sign in."""
    response = page.goto(f"{live_server.url}/progress/")
    assert page.url == f"{live_server.url}/accounts/login/?next=/progress/" and response.status == 200
    django_user_model.objects.create_user("visitor", password=PASSWORD)
    sign_in(page, live_server.url, "visitor")
    assert page.goto(f"{live_server.url}/progress/").status == 403
    assert page.goto(f"{live_server.url}/api/runs").status == 403


def test_killed_job_is_shown_stalled_while_the_previous_run_serves(live_server, page, synthetic_set, operator, settings):
    """SIGKILL of a running job (no supervisor left to report it): the page says stalled within the threshold."""
    settings.PROGRESS_STALL_SECONDS = 3
    serving = run_job_in_process(top_n=10)
    job = start_job("--chunk-size", "100", "--workers", "1", chunk_delay=CHUNK_DELAY)
    try:
        killed = wait_for(lambda: Run.objects.filter(status="running", stage="compute", users_done__gt=0)
                          .values_list("id", flat=True).first(), 60, "the job to be computing")
        sign_in(page, live_server.url, "operator")
        page.wait_for_function("(id) => document.getElementById('now').dataset.run === String(id)", arg=killed,
                               timeout=10_000)
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    killed_at = time.monotonic()
    page.wait_for_function("() => document.getElementById('now').dataset.status === 'stalled'", timeout=15_000)
    # The stall is visible within the threshold plus one poll and one heartbeat interval.
    assert time.monotonic() - killed_at < settings.PROGRESS_STALL_SECONDS + 4
    assert "stalled, last heard" in page.locator("#now .status").text_content()
    assert page.locator("#active-run").inner_text() == str(serving.pk)
    assert ActiveRun.current_run_id() == serving.pk


def _web_server(port: int, log) -> subprocess.Popen:
    """`python -m web.serve`, the command the web Deployment runs, with one worker."""
    process = subprocess.Popen(
        [sys.executable, "-m", "web.serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=REPO, env=_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.2)
    _stop(process)
    pytest.fail("the web server did not start listening")


def test_page_follows_the_same_run_across_a_web_server_restart(page, synthetic_set, operator, tmp_path):
    """The web server is stopped and started again mid-run; the open page carries on with the same run and a larger count."""
    port = free_port()
    log = open(tmp_path / "web.log", "w")
    web = _web_server(port, log)
    job = start_job("--chunk-size", "50", "--workers", "1", chunk_delay=0.5)
    try:
        run_id = wait_for(lambda: Run.objects.filter(status="running", stage="compute", users_done__gt=0)
                          .values_list("id", flat=True).first(), 60, "the job to be computing")
        sign_in(page, f"http://127.0.0.1:{port}", "operator")
        page.evaluate("window.__sameDocument = true")
        page.wait_for_function("(id) => document.getElementById('now').dataset.run === String(id)", arg=run_id,
                               timeout=10_000)
        before = int(page.locator("#now .users").inner_text().split(" / ")[0].replace(",", ""))

        _stop(web)
        page.wait_for_function("() => document.getElementById('progress-app').dataset.error !== undefined", timeout=10_000)
        web = _web_server(port, log)
        page.wait_for_function(
            "([id, before]) => { const app = document.getElementById('progress-app');"
            " const now = document.getElementById('now');"
            " const done = parseInt(now.querySelector('.users').textContent.split(' / ')[0].replace(/,/g, ''));"
            " return app.dataset.error === undefined && now.dataset.run === String(id) && done > before; }",
            arg=[run_id, before], timeout=20_000)
        assert page.evaluate("window.__sameDocument") is True
    finally:
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        _stop(web)
        log.close()
