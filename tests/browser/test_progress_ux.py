"""The progress page as an operator meets it (issue #19): the history fits 1280 px, a cancel reads as one."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from tests.browser.site import screenshot, sign_in_operator

from web.runs.models import ActiveRun, Run, RunLogLine, RunStatus, Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What an evaluated run records: 17 numbers (scoring/evaluation/runner.py), the headline first in no particular place.
EVALUATION = {
    "k": 10, "users": 610, "unknown_test_users": 0, "fit_seconds": 1.2345, "score_seconds": 0.4321,
    "precision@10": 0.1234, "recall@10": 0.2345, "map@10": 0.0876, "ndcg@10": 0.2137, "hit_rate@10": 0.6543,
    "precision@10_liked": 0.0987, "recall@10_liked": 0.1876, "map@10_liked": 0.0654, "ndcg@10_liked": 0.1765,
    "hit_rate@10_liked": 0.5432, "users_liked": 598, "coverage@10": 0.0712,
}


@pytest.fixture
def operator_page(live_server, browser, django_user_model):
    """A 1280 px wide browser signed in as an operator."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sign_in_operator(page, live_server.url)
    yield page
    context.close()


def _finished(**fields) -> Run:
    now = timezone.now()
    return Run.objects.create(algorithm="popularity", started_at=now, finished_at=now, heartbeat_at=now, **fields)


def test_the_history_shows_the_headline_quality_and_the_rest_on_demand_within_1280px(live_server, operator_page):
    """Item 6: nDCG@10 in the row, the 17 figures behind <details> (kept open across redraws), actions on screen."""
    page = operator_page
    evaluated = [_finished(status=RunStatus.SUCCEEDED, stage=Stage.DONE, users_total=610, users_done=610,
                           metrics={"evaluation": EVALUATION}) for _ in range(3)]
    run = evaluated[0]
    page.reload()
    row = page.locator(f"tr[data-run='{run.pk}']")
    expect(row.locator("td.quality summary .headline")).to_have_text("nDCG@10 0.214")
    expect(row.locator("dl.quality-all")).to_be_hidden()
    table_right = page.locator("#runs").bounding_box()
    panel = page.locator("#runs").locator("xpath=ancestor::section[1]").bounding_box()
    assert table_right["x"] + table_right["width"] <= panel["x"] + panel["width"], "the history is wider than its panel"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    chart = row.locator("td.actions button.chart")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box["x"] + box["width"] <= table_right["x"] + table_right["width"] <= 1280

    row.locator("td.quality summary").click()
    expect(row.locator("dl.quality-all dt")).to_have_count(len(EVALUATION))
    expect(row.locator("dl.quality-all")).to_contain_text("hit_rate@10_liked")
    page.wait_for_timeout(2500)  # two redraws of the table
    expect(row.locator("dl.quality-all")).to_be_visible()
    screenshot(page, "progress-history", full_page=True)


def test_the_history_fits_1280px_with_failed_runs_errors_in_it(live_server, operator_page):
    """A failure's error names a path or a socket (one long word): it pushed the history past its panel, and the
    Actions column out of sight, on the day an operator needs it. The error wraps inside its column instead."""
    page = operator_page
    for _ in range(2):
        _finished(status=RunStatus.SUCCEEDED, stage=Stage.DONE, users_total=610, users_done=610,
                  metrics={"evaluation": EVALUATION})
    failed = _finished(status=RunStatus.FAILED, stage=Stage.QUEUED, error=(
        "queued: ConnectionError: could not queue the run for the worker (Error 2 connecting to "
        "/srv/movielens-recommender/checkouts/main/.local/services/redis/redis.sock. No such file or directory.)"))
    page.reload()
    row = page.locator(f"tr[data-run='{failed.pk}']")
    expect(row.locator(".error")).to_contain_text("redis.sock")
    table = page.locator("#runs").bounding_box()
    panel = page.locator("#runs").locator("xpath=ancestor::section[1]").bounding_box()
    assert table["x"] + table["width"] <= panel["x"] + panel["width"], "the history is wider than its panel"
    chart = row.locator("td.actions button.chart").bounding_box()
    assert chart["x"] + chart["width"] <= panel["x"] + panel["width"]


def test_a_cancelled_run_reads_as_a_cancel_and_the_created_notice_goes_when_the_run_starts(live_server, operator_page):
    """Item 7: "Cancelled by an operator", calm; "Run N created: pending ..." is withdrawn once the run has moved on."""
    page = operator_page
    cancelled = _finished(status=RunStatus.CANCELLED, stage=Stage.WRITE,
                          error="write: RunCancelled: run 3 was cancelled by an operator")
    failed = _finished(status=RunStatus.FAILED, stage=Stage.COMPUTE, error="compute: ValueError: boom")
    page.reload()
    row = page.locator(f"tr[data-run='{cancelled.pk}']")
    expect(row.locator(".status")).to_have_text("cancelled")
    expect(row.locator(".cancelled-by")).to_have_text("by an operator")
    expect(row.locator(".error")).to_have_count(0)
    assert "RunCancelled" not in row.inner_text()
    expect(page.locator(f"tr[data-run='{failed.pk}'] .error")).to_have_text("Error in stage compute: ValueError: boom")

    page.select_option("#start-algorithm", "popularity")
    page.click("#start-button")
    notice = page.locator("#action-message")
    expect(notice).to_contain_text("created: pending until the worker starts it")
    created = Run.objects.latest("pk")
    Run.objects.filter(pk=created.pk).update(status=RunStatus.CANCELLED, stage=Stage.LOAD, finished_at=timezone.now(),
                                             error="load: RunCancelled: run was cancelled by an operator")
    expect(notice).to_be_hidden(timeout=10_000)
    expect(page.locator("#now .now-cancelled")).to_have_text("Cancelled by an operator.")
    expect(page.locator("#now .now-error")).to_have_count(0)


def test_a_run_started_from_the_page_can_be_evaluated(live_server, operator_page, redis_conn, settings):
    """Item 8 (first half): the start form's "Evaluate" box queues the job with --evaluate, unticked it does not."""
    from rq import Queue

    page = operator_page
    page.select_option("#start-algorithm", "popularity")
    page.check("#start-evaluate")
    page.click("#start-button")
    expect(page.locator("#action-message")).to_contain_text("created")
    evaluated = Run.objects.latest("pk")
    # The page then redraws its runs with the new one, which can move the form under the next click: wait for it.
    expect(page.locator(f"tr[data-run='{evaluated.pk}']").first).to_be_visible()
    page.uncheck("#start-evaluate")
    page.click("#start-button")
    expect(page.locator("#action-message")).to_contain_text(f"Run {evaluated.pk + 1} created")
    plain = Run.objects.latest("pk")
    args = {job.args[0]: job.args[1] for job in Queue(settings.RQ_QUEUE, connection=redis_conn).jobs}
    assert args == {evaluated.pk: ["--evaluate"], plain.pk: []}


def test_quality_is_compared_with_the_serving_run_and_the_log_shows_its_last_lines(live_server, operator_page):
    """Item 8 (second half): a run's nDCG@10 beside the serving run's, and the job's last log lines on the page."""
    page = operator_page
    serving = _finished(status=RunStatus.SUCCEEDED, stage=Stage.DONE, metrics={"evaluation": EVALUATION})
    better = _finished(status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                       metrics={"evaluation": EVALUATION | {"ndcg@10": 0.2500}})
    ActiveRun.objects.update_or_create(id=ActiveRun.SINGLETON_ID, defaults={"run": serving})
    RunLogLine.objects.bulk_create(RunLogLine(run=better, line=f"12:00:{n:02} INFO line {n}") for n in range(15))
    page.reload()
    row = page.locator(f"tr[data-run='{better.pk}']")
    expect(row.locator("td.quality .versus")).to_have_text("vs 0.214 serving (+0.036)")
    expect(page.locator(f"tr[data-run='{serving.pk}'] td.quality .versus")).to_have_count(0)
    now_log = page.locator("#now pre.log")  # the newest run is the Now panel's: its last ten lines
    expect(now_log).to_have_text("\n".join(f"12:00:{n:02} INFO line {n}" for n in range(5, 15)))
    row.locator("details.log summary").click()
    expect(row.locator("details.log pre")).to_contain_text("line 14")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
