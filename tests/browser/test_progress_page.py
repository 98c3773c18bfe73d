"""The progress page updates itself from the JSON feed, without a reload."""

import pytest
from django.utils import timezone

from web.runs.models import Run, RunStatus, ShardProgress, Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_progress_bar_moves_without_reloading_the_page(live_server, operator_page):
    """A run's bar, counts, stage and shard follow the database while the page stays loaded."""
    page = operator_page
    run = Run.objects.create(
        algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
        users_total=200, users_done=20, started_at=timezone.now(), heartbeat_at=timezone.now(),
    )
    ShardProgress.objects.create(run=run, shard=0, host="precompute-abc", users_total=200, users_done=20)
    page.reload()
    row = page.locator(f"tr[data-run='{run.pk}']")
    assert row.locator(".users").inner_text() == "20 / 200"
    assert page.locator("#now .shard .host").inner_text() == "#0 precompute-abc"
    page.evaluate("window.__sameDocument = true")

    Run.objects.filter(pk=run.pk).update(users_done=150, stage=Stage.WRITE, heartbeat_at=timezone.now())
    ShardProgress.objects.filter(run=run).update(users_done=150, heartbeat_at=timezone.now())
    page.wait_for_function(
        # An arrow function, not a bare expression: Playwright evaluates a bare string with eval, which the CSP forbids.
        f"() => document.querySelector(\"tr[data-run='{run.pk}'] .users\").textContent === '150 / 200'", timeout=10_000
    )
    assert page.locator("#now .stage").inner_text() == "Write"
    assert page.locator("#now li.stage-current").get_attribute("data-stage") == "write"
    assert float(page.locator("#now progress.main").get_attribute("value")) == pytest.approx(0.75)
    assert page.locator("#now .shard .count").inner_text() == "150 / 200"
    assert page.evaluate("window.__sameDocument") is True


def test_failed_run_shows_its_error(live_server, operator_page):
    """A failed run is shown as failed with the stage and exception, not a bare status."""
    page = operator_page
    run = Run.objects.create(
        algorithm="popularity", status=RunStatus.FAILED, stage=Stage.COMPUTE,
        error="compute: ValueError: boom", started_at=timezone.now(), finished_at=timezone.now(),
    )
    page.wait_for_selector(f"tr[data-run='{run.pk}']", timeout=10_000)
    row = page.locator(f"tr[data-run='{run.pk}']")
    assert row.locator(".status").inner_text() == "failed"
    assert "ValueError: boom" in row.locator(".error").inner_text()
    assert page.locator("#now .now-error").inner_text() == "Error in stage compute: ValueError: boom"


def test_charts_are_inline_svg_from_the_app(live_server, operator_page):
    """Both charts load as SVG images from the app itself (no CDN), for the run in the Now panel."""
    page = operator_page
    run = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                             started_at=timezone.now(), finished_at=timezone.now())
    page.reload()
    page.wait_for_function(
        "() => [...document.querySelectorAll('#charts img')].every((img) => img.complete && img.naturalWidth > 0)",
        timeout=10_000,
    )
    sources = page.eval_on_selector_all("#charts img", "imgs => imgs.map((img) => img.src)")
    assert sources[0].startswith(f"{live_server.url}/progress/runs/{run.pk}/throughput.svg")
    assert sources[1].startswith(f"{live_server.url}/progress/durations.svg")


def test_an_idle_page_polls_with_its_etag_gets_304s_and_still_sees_a_change(live_server, operator_page):
    """With every run finished the poller's requests name the feed's ETag and are answered 304; the chart link still
    redraws from the feed held; a new run still arrives on the next poll."""
    page = operator_page
    older = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                               started_at=timezone.now(), finished_at=timezone.now())
    newer = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                               started_at=timezone.now(), finished_at=timezone.now())
    answers = []
    page.on("response", lambda response: answers.append((response.status, response.request.headers.get("if-none-match")))
            if response.url.endswith("/api/runs") else None)
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#runs tr[data-run]').length === 2", timeout=10_000)
    page.wait_for_timeout(3500)  # about three polls at one a second

    not_modified = [sent for status, sent in answers if status == 304]
    assert len(not_modified) >= 2 and all(not_modified), answers
    assert page.locator("#feed-state").inner_text().startswith("Updated")

    assert page.locator("#chart-run").inner_text() == str(newer.pk)
    page.locator(f"tr[data-run='{older.pk}'] button.chart").click()
    page.wait_for_function(f"() => document.getElementById('chart-run').textContent === '{older.pk}'", timeout=5_000)

    newest = Run.objects.create(algorithm="popularity", status=RunStatus.FAILED, stage=Stage.COMPUTE, error="boom",
                                started_at=timezone.now(), finished_at=timezone.now())
    page.wait_for_selector(f"tr[data-run='{newest.pk}']", timeout=10_000)
