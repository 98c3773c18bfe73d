"""Bad options to ``python -m jobs.precompute``: a clear message, a non-zero exit, the active run unchanged.

After a published run, each bad argument list goes through the command's own
``main`` against the test database, all rows in one process
(``precompute_refusals``) to spare a start-up per row: it must exit non-zero
with a message naming the problem, and the runs, the active-run pointer and
the stored scores must be exactly as before. The rows that run a job to its
end start ``python -m jobs.precompute`` itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers import REPO, database_url
from tests.reliability.precompute_refusals import RUN_STATE
from tests.reliability.snapshot import published, stored  # noqa: F401  (published: a fixture)
from web.runs.scores import run_tables

BAD_OPTIONS = [
    # (arguments, exit code, words of the message on stderr)
    (["--algorithm", "item_knn", "--param", "k=0"], 2, "k must be"),
    (["--algorithm", "item_knn", "--param", "k=-5"], 2, "k must be"),
    (["--algorithm", "user_knn", "--param", "k=0"], 2, "k must be"),
    (["--algorithm", "user_knn", "--param", "k=-1"], 2, "k must be"),
    (["--algorithm", "item_knn", "--param", "k=abc"], 2, "k must be"),
    (["--algorithm", "item_knn", "--param", "k=1.5"], 2, "k must be"),
    (["--algorithm", "item_knn", "--param", "damping=-1"], 2, "damping"),
    (["--algorithm", "item_knn", "--param", "k"], 2, "expected NAME=VALUE"),
    (["--algorithm", "item_knn", "--param", "=3"], 2, "expected NAME=VALUE"),
    (["--algorithm", "item_knn", "--param", "neighbours=10"], 2, "does not take parameter(s) neighbours"),
    (["--algorithm", "nosuch"], 2, "invalid choice: 'nosuch'"),
    (["--algorithm", ""], 2, "invalid choice"),
    (["--shards", "0"], 2, "shards must be a whole number in [1, 32767]"),
    (["--shards", "-2"], 2, "shards must be a whole number in [1, 32767]"),
    (["--shards", "2", "--shard", "2", "--run-name", "bad"], 2, "shard must be a whole number in [0, 1]"),
    (["--shards", "2", "--shard", "5", "--run-name", "bad"], 2, "shard must be a whole number in [0, 1]"),
    (["--shard", "-1"], 2, "shard must be a whole number in [0, 0]"),
    (["--shards", "3"], 2, "needs --run-name"),
    (["--shards", "abc"], 2, "invalid int value: 'abc'"),
    (["--top-n", "0"], 2, "top_n must be"),
    (["--top-n", "-10"], 2, "top_n must be"),
    (["--top-n", "40000"], 2, "top_n must be"),
    (["--popular", "0"], 2, "popular must be"),
    (["--workers", "0"], 2, "workers must be"),
    (["--workers", "-1"], 2, "workers must be"),
    (["--chunk-size", "0"], 2, "chunk_size must be"),
    (["--keep-runs", "-1"], 2, "keep_runs must be"),
    (["--run-id", "0"], 2, "run_id must be"),
    (["--run-id", "999999"], 2, "999999"),
    (["--run-name", "   "], 2, "run_name must be"),
    (["--shards", "40000", "--run-name", "too-many"], 2, "shards must be a whole number in [1, 32767]"),
]

ROW_IDS = [" ".join(a) or "none" for a, _, _ in BAD_OPTIONS]


def _run_job(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DATABASE_URL=database_url(), PYTHONPATH=str(REPO), PRECOMPUTE_WORKERS="1")
    return subprocess.run([sys.executable, "-m", "jobs.precompute", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def refusals(published_once) -> dict[str, dict]:
    """Each bad argument list through the job's ``main`` in one process (tests/reliability/precompute_refusals.py)
    after the published run: ``{row id: {"code", "stdout", "stderr", "unchanged"}}``."""
    env = dict(os.environ, DATABASE_URL=database_url(), PYTHONPATH=str(REPO), PRECOMPUTE_WORKERS="1")
    result = subprocess.run([sys.executable, "-m", "tests.reliability.precompute_refusals"], cwd=REPO, env=env,
                            input=json.dumps([args for args, _, _ in BAD_OPTIONS]), capture_output=True, text=True, check=False,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return dict(zip(ROW_IDS, json.loads(result.stdout), strict=True))


@pytest.mark.parametrize(("args", "code", "words"), BAD_OPTIONS, ids=ROW_IDS)
def test_bad_options_are_refused_and_the_active_run_stays(refusals, args, code, words):
    """The job exits with ``code`` and says ``words``; no run is created, claimed or activated, no score table added."""
    refused = refusals[" ".join(args) or "none"]
    assert refused["code"] == code, refused
    assert words in refused["stderr"], refused["stderr"][-2000:]
    assert "Traceback" not in refused["stderr"]
    assert refused["unchanged"], f"{args} changed the runs' state or score tables"


def test_more_shards_than_users_fails_the_run_and_the_active_run_stays(published):  # noqa: F811
    """31 shards over the 30 users: only the ratings tell, so the run is created, fails saying why, and nothing is published."""
    from web.runs.models import ActiveRun, Run

    active, tables = ActiveRun.current_run_id(), run_tables()
    result = _run_job("--shards", "31", "--run-name", "more-shards-than-users", "--algorithm", "popularity")
    assert result.returncode == 1, (result.returncode, result.stdout[-1000:], result.stderr[-2000:])
    assert "more shards than users: 31 shards for 30 users" in result.stderr, result.stderr[-2000:]
    assert ActiveRun.current_run_id() == active == published.pk
    assert Run.objects.order_by("-pk").first().status == "failed"
    assert run_tables() == tables


def test_the_control_run_with_good_options_publishes(published):  # noqa: F811
    """The control: the same command with good options exits 0 and changes the active run."""
    before = stored(RUN_STATE)
    result = _run_job("--algorithm", "popularity", "--top-n", "5")
    assert result.returncode == 0, result.stderr[-2000:]
    assert stored(RUN_STATE) != before
