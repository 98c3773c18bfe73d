"""The precompute series of /metrics are what PostgreSQL holds about the runs when scraped."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from tests.helpers import run
from tests.observability.conftest import samples, value
from web.runs.models import ActiveRun, Run, RunSample, RunStatus, Stage
from web.recommender.models import Rating

P = "movielens_precompute"


@pytest.fixture
def scrape(client, settings):
    settings.ALLOWED_HOSTS = ["testserver"]
    return lambda: client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()


@pytest.fixture
def runs(db):
    """Two succeeded runs (the older one served), one failed, and one running in its compute stage at 10 users/s."""
    now = timezone.now()
    old = Run.objects.create(algorithm="popularity", status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                             finished_at=now - timedelta(hours=30), metrics={"seconds": {"load": 1.5, "compute": 7.25}})
    last = Run.objects.create(algorithm="itemknn", status=RunStatus.SUCCEEDED, stage=Stage.DONE,
                              finished_at=now - timedelta(hours=2), metrics={"seconds": {"load": 2.0, "compute": 30.0, "write": 4.5}})
    Run.objects.create(algorithm="ease", status=RunStatus.FAILED, stage=Stage.FIT, finished_at=now - timedelta(hours=1))
    running = Run.objects.create(algorithm="userknn", status=RunStatus.RUNNING, stage=Stage.COMPUTE, users_total=1000,
                                 users_done=100, started_at=now - timedelta(seconds=60), heartbeat_at=now - timedelta(seconds=7))
    start = now - timedelta(seconds=60)
    RunSample.objects.bulk_create([
        RunSample(run=running, at=start, stage=Stage.LOAD, users_done=0, rows_written=0),
        RunSample(run=running, at=start + timedelta(seconds=20), stage=Stage.COMPUTE, users_done=0, rows_written=0),
        RunSample(run=running, at=start + timedelta(seconds=30), stage=Stage.COMPUTE, users_done=100, rows_written=1000),
    ])
    ActiveRun.objects.update_or_create(id=ActiveRun.SINGLETON_ID, defaults={"run": old, "activated_at": now - timedelta(hours=29)})
    return {"old": old, "last": last, "running": running, "now": now}


def test_runs_by_status_are_the_table_counts(runs, scrape):
    """One series per status, each the number of rows with that status."""
    text = scrape()
    for status in RunStatus.values:
        assert value(text, f"{P}_runs", status=status) == Run.objects.filter(status=status).count()


def test_the_served_run_and_the_last_success(runs, scrape):
    """The served run is named with its algorithm; ages are measured from the rows' times."""
    text = scrape()
    old = runs["old"]
    assert value(text, f"{P}_active_run_info", run_id=str(old.pk), algorithm="popularity") == 1
    assert value(text, f"{P}_active_run_age_seconds") == pytest.approx(29 * 3600, abs=60)
    assert value(text, f"{P}_last_success_age_seconds") == pytest.approx(2 * 3600, abs=60)
    assert value(text, f"{P}_stage_seconds", run="last_success", stage="compute") == 30.0
    assert value(text, f"{P}_stage_seconds", run="last_success", stage="write") == 4.5


def test_the_running_run(runs, scrape):
    """The running run's id, stage, age, heartbeat age, users/s from its samples and per-stage seconds so far."""
    text = scrape()
    running = runs["running"]
    assert value(text, f"{P}_running_run_info", run_id=str(running.pk), algorithm="userknn", stage="compute") == 1
    assert value(text, f"{P}_running_run_age_seconds") == pytest.approx(60, abs=30)
    assert value(text, f"{P}_running_run_heartbeat_age_seconds") == pytest.approx(7, abs=30)
    assert value(text, f"{P}_running_run_users_per_second") == pytest.approx(10.0)
    assert value(text, f"{P}_running_run_users", state="done") == 100
    assert value(text, f"{P}_running_run_users", state="total") == 1000
    assert value(text, f"{P}_stage_seconds", run="running", stage="load") == pytest.approx(20.0)
    assert value(text, f"{P}_stage_seconds", run="running", stage="compute") == pytest.approx(40.0, abs=30)


def test_no_run_series_when_nothing_runs_or_succeeded(db, scrape):
    """Before any run: zero per status, and no running-run, served-run or last-success series (nothing to alert on by mistake)."""
    ActiveRun.objects.filter(id=ActiveRun.SINGLETON_ID).update(run=None)
    text = samples(scrape())
    names = {name for name, _ in text}
    assert not names & {f"{P}_running_run_info", f"{P}_active_run_info", f"{P}_last_success_age_seconds",
                        f"{P}_running_run_heartbeat_age_seconds"}
    assert text[(f"{P}_runs", (("status", "running"),))] == 0
    assert text[("movielens_runs_scrape_ok", ())] == 1


def test_ratings_stored_follow_the_table(catalogue, scrape):
    """The ratings series is PostgreSQL's row estimate, which ANALYZE makes exact."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {Rating._meta.db_table}")
    assert value(scrape(), "movielens_table_rows", table="ratings") == Rating.objects.count() > 0


def test_a_precompute_run_moves_the_run_series(catalogue, scrape):
    """A real run of the job: one more succeeded run, it is the served one, its stage times are the last success's."""
    before = scrape()
    finished = run(algorithm="popularity", top_n=5)
    after = scrape()
    succeeded = f"{P}_runs"
    assert value(after, succeeded, status="succeeded") == value(before, succeeded, status="succeeded") + 1
    assert value(after, f"{P}_active_run_info", run_id=str(finished.pk), algorithm="popularity") == 1
    assert value(after, f"{P}_last_success_age_seconds") < 60
    for stage, seconds in finished.metrics["seconds"].items():
        assert value(after, f"{P}_stage_seconds", run="last_success", stage=stage) == pytest.approx(seconds)
