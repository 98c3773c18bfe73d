"""The job's command-line options, their defaults and checks.

What determines a run's result (algorithm, hyperparameters, ``top_n``,
``popular``) and how a pending run's record combines with the command line
is :mod:`web.runs.spec`, shared with the progress page; this module adds
how the job computes it (workers, chunk size, shards, retention).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.base import require_whole_number
from web.runs.spec import SMALLINT_MAX, RunSpec, resolve

DEFAULT_CHUNK_SIZE = 1_000
"""Users per pool task: big enough to amortise the task overhead, small enough for memory."""
DEFAULT_KEEP_RUNS = 3
"""Finished runs whose scores are kept (the active run is kept besides)."""


@dataclass(frozen=True)
class JobOptions:
    """What ``python -m jobs.precompute`` was asked to do.

    ``algorithm``, ``top_n`` and ``popular`` are None when not given, so that
    a pending run's recorded values (``--run-id``) can fill them in; ``params``
    given here override the run's recorded hyperparameters.
    """

    algorithm: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    top_n: int | None = None
    popular: int | None = None
    workers: int = 1
    chunk_size: int = DEFAULT_CHUNK_SIZE
    run_id: int | None = None
    keep_runs: int = DEFAULT_KEEP_RUNS
    shard: int = 0
    """This process's shard, 0-based (an Indexed Job's ``JOB_COMPLETION_INDEX``)."""
    shards: int = 1
    """How many shards the run has (``JOB_COMPLETIONS``); shard i scores the users with ``user_id % shards == i``."""
    run_name: str | None = None
    """The name the shards and restarts of one run share (``--run-name`` / ``PRECOMPUTE_RUN_NAME``)."""
    evaluate: bool = False
    """Also measure the algorithm offline and record it in ``Run.metrics["evaluation"]`` (the publishing shard)."""

    def __post_init__(self) -> None:
        require_whole_number("workers", self.workers, 1)
        require_whole_number("chunk_size", self.chunk_size, 1)
        require_whole_number("keep_runs", self.keep_runs, 0)
        require_whole_number("shards", self.shards, 1, SMALLINT_MAX)
        require_whole_number("shard", self.shard, 0, self.shards - 1)
        if self.run_id is not None:
            require_whole_number("run_id", self.run_id, 1)
        if self.run_name is not None and not (isinstance(self.run_name, str) and 0 < len(self.run_name.strip()) <= 200):
            raise ValueError(f"run_name must be a non-blank name of at most 200 characters; got {self.run_name!r}")
        if self.shards > 1 and self.run_name is None and self.run_id is None:
            raise ValueError(
                f"a run of {self.shards} shards needs --run-name (or PRECOMPUTE_RUN_NAME) or --run-id, "
                "so that the shards agree on one run"
            )
        if self.run_name is not None and self.run_id is not None:
            raise ValueError("give --run-name or --run-id, not both")

    def spec(self, recorded_algorithm: str = "", recorded: dict[str, Any] | None = None) -> RunSpec:
        """These options combined with a pending run's recorded algorithm and parameters (the command line wins)."""
        return resolve(recorded_algorithm, recorded, algorithm=self.algorithm, params=self.params,
                       top_n=self.top_n, popular=self.popular)


def check_shards_fit_users(shards: int, users: int) -> None:
    """Refuse a run split into more shards than there are users with ratings (``ValueError``).

    Only known once the ratings are loaded, so the job calls it after the
    load: such a run would start shards (pods) that can have nothing to do,
    which is a mistake in ``--shards`` / ``JOB_COMPLETIONS``, not a plan.
    """
    if shards > users:
        raise ValueError(
            f"more shards than users: {shards} shards for {users:,} users with ratings; "
            f"use --shards {max(users, 1)} or fewer"
        )
