"""The load test of ``make loadtest`` in short: a few seconds at a low rate, with a precompute publishing in the middle.

Same stack and client as bench/loadtest.py (the web server + RQ worker on a scratch
database with ml-latest-small); the long run and its figures are
``make loadtest`` (docs/reliability.md, "Load").
"""

from __future__ import annotations

import os

import pytest

from bench.loadtest import run_load, scratch_stack

pytestmark = [pytest.mark.e2e, pytest.mark.movielens]


@pytest.fixture(scope="module")
def stack(movielens_small, tmp_path_factory):
    """The web server and the worker on a scratch database with ml-latest-small, one run published, four accounts."""
    logs = tmp_path_factory.mktemp("load-logs")
    with scratch_stack(movielens_small, accounts=4, redis_db=int(os.environ.get("E2E_REDIS_DB", "14")), logs=logs) as stack:
        yield stack


def test_short_load_with_publish_loses_nothing(stack):
    """Reads, searches, ratings and events at 10 requests/s around a publish: no error; every acknowledged rating is
    stored, and every accepted event exactly once."""
    result = run_load(stack, seconds=4, rate=10, publish_at=1, max_seconds=120)

    assert result.job_returncode == 0, result.job_output[-3000:]
    assert result.run_after != result.run_before, "the precompute in the middle did not publish a new run"
    assert result.job_seconds[1] < result.load_seconds, "the publish did not happen while the load ran"
    assert sum(result.samples.errors.values()) == 0, result.samples.error_examples
    assert all(result.samples.requests.get(kind, 0) > 0 for kind in ("recommendations", "search", "rate", "events")), \
        result.samples.requests
    assert result.ledger.acknowledged > 0
    assert result.lost == []
    assert result.stored == len(result.ledger.last)
    assert result.unacknowledged_rows == 0
    assert result.ledger.events_accepted and result.ledger.events_other == []
    assert result.events_lost == [] and result.events_stored_once == len(result.ledger.events_accepted)
    assert result.events_unacknowledged == 0
