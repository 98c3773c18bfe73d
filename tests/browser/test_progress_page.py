"""The progress page updates itself from the JSON feed, without a reload."""

import pytest
from django.utils import timezone

from web.progress.models import Run, RunStatus, Stage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_progress_bar_moves_without_reloading_the_page(live_server, page):
    """A run's bar, counts and stage follow the database while the page stays loaded."""
    run = Run.objects.create(
        algorithm="popularity", status=RunStatus.RUNNING, stage=Stage.COMPUTE,
        users_total=200, users_done=20, started_at=timezone.now(), heartbeat_at=timezone.now(),
    )
    page.goto(f"{live_server.url}/progress/")
    row = page.locator(f"tr[data-run='{run.pk}']")
    assert row.locator(".users").inner_text() == "20 / 200"
    page.evaluate("window.__sameDocument = true")

    Run.objects.filter(pk=run.pk).update(users_done=150, stage=Stage.WRITE, heartbeat_at=timezone.now())
    page.wait_for_function(
        f"document.querySelector(\"tr[data-run='{run.pk}'] .users\").textContent === '150 / 200'", timeout=10_000
    )
    assert row.locator(".stage").inner_text() == "write"
    assert float(row.locator("progress").get_attribute("value")) == pytest.approx(0.75)
    assert page.evaluate("window.__sameDocument") is True


def test_failed_run_shows_its_error(live_server, page):
    """A failed run is shown as failed with the stage and exception, not a bare status."""
    run = Run.objects.create(
        algorithm="popularity", status=RunStatus.FAILED, stage=Stage.COMPUTE,
        error="compute: ValueError: boom", started_at=timezone.now(), finished_at=timezone.now(),
    )
    page.goto(f"{live_server.url}/progress/")
    row = page.locator(f"tr[data-run='{run.pk}']")
    assert row.locator(".status").inner_text() == "failed"
    assert "ValueError: boom" in row.locator(".error").inner_text()
