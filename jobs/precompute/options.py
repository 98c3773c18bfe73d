"""The job's options, their defaults, and how a pending run's recorded settings combine with them.

``Run.parameters`` holds what determines a run's result: the job-level
settings named in :data:`JOB_PARAMETERS` (``top_n``, ``popular``) and the
algorithm's hyperparameters (``damping``, ...), in one flat JSON object,
e.g. ``{"top_n": 100, "popular": 500, "damping": 5.0}``. How the result was
computed (workers, chunk size) does not change it and goes to ``Run.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scoring.base import Scorer
from scoring.registry import DEFAULT_ALGORITHM, make_scorer

__all__ = ["DEFAULT_ALGORITHM", "JobOptions", "RunSpec", "resolve"]
DEFAULT_TOP_N = 100
"""Movies stored per user."""
MAX_TOP_N = 32_767
"""``rank`` is a smallint column."""
DEFAULT_POPULAR = 500
"""Length of the run's cold-start list (PopularMovie rows)."""
DEFAULT_CHUNK_SIZE = 1_000
"""Users per pool task: big enough to amortise the task overhead, small enough for memory."""
DEFAULT_KEEP_RUNS = 3
"""Finished runs whose scores are kept (the active run is kept besides)."""

JOB_PARAMETERS = ("top_n", "popular")
"""Keys of ``Run.parameters`` that belong to the job; every other key is a hyperparameter."""


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
        _check_int("workers", self.workers, 1)
        _check_int("chunk_size", self.chunk_size, 1)
        _check_int("keep_runs", self.keep_runs, 0)
        _check_int("shards", self.shards, 1, 32_767)
        _check_int("shard", self.shard, 0, self.shards - 1)
        if self.run_id is not None:
            _check_int("run_id", self.run_id, 1)
        if self.run_name is not None and not (isinstance(self.run_name, str) and 0 < len(self.run_name.strip()) <= 200):
            raise ValueError(f"run_name must be a non-blank name of at most 200 characters; got {self.run_name!r}")
        if self.shards > 1 and self.run_name is None and self.run_id is None:
            raise ValueError(
                f"a run of {self.shards} shards needs --run-name (or PRECOMPUTE_RUN_NAME) or --run-id, "
                "so that the shards agree on one run"
            )
        if self.run_name is not None and self.run_id is not None:
            raise ValueError("give --run-name or --run-id, not both")


@dataclass(frozen=True)
class RunSpec:
    """The settings that determine a run's result, after combining the options and the run's record."""

    algorithm: str
    model_params: dict[str, Any]
    top_n: int
    popular: int

    def __post_init__(self) -> None:
        _check_int("top_n", self.top_n, 1, MAX_TOP_N)
        _check_int("popular", self.popular, 1)

    def make_model(self) -> Scorer:
        """The unfitted scorer, its hyperparameters validated (``ValueError`` says which and what was given)."""
        model = make_scorer(self.algorithm, self.model_params)
        model.validate_params()
        return model

    def run_parameters(self, model: Scorer) -> dict[str, Any]:
        """What to store in ``Run.parameters``: the job settings and every hyperparameter, defaults included."""
        return {"top_n": self.top_n, "popular": self.popular, **model.get_params()}


def resolve(options: JobOptions, recorded_algorithm: str = "", recorded: dict[str, Any] | None = None) -> RunSpec:
    """Combine the command line with a pending run's recorded algorithm and parameters.

    Precedence: a value given on the command line, then the run's record, then the default.
    """
    recorded = dict(recorded or {})
    job = {key: recorded.pop(key) for key in JOB_PARAMETERS if key in recorded}
    return RunSpec(
        algorithm=options.algorithm or recorded_algorithm or DEFAULT_ALGORITHM,
        model_params={**recorded, **options.params},
        top_n=options.top_n if options.top_n is not None else job.get("top_n", DEFAULT_TOP_N),
        popular=options.popular if options.popular is not None else job.get("popular", DEFAULT_POPULAR),
    )


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


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be a whole number {bound}; got {value!r}")
