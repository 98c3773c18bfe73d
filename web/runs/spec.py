"""What a run is asked to compute: its settings, their defaults and checks, and the job's command line.

``Run.parameters`` holds what determines a run's result: the job-level
settings named in :data:`JOB_PARAMETERS` (``top_n``, ``popular``) and the
algorithm's hyperparameters (``damping``, ...), in one flat JSON object,
e.g. ``{"top_n": 100, "popular": 500, "damping": 5.0}``. How the result was
computed (workers, chunk size) does not change it and goes to ``Run.metrics``.

No Django import: the job's command line checks a run's settings before
Django is set up, and the progress page checks a start form with the same code.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from scoring.base import Scorer, require_whole_number
from scoring.registry import DEFAULT_ALGORITHM, make_scorer

__all__ = [
    "DEFAULT_ALGORITHM", "DEFAULT_POPULAR", "DEFAULT_TOP_N", "JOB_MODULE", "JOB_PARAMETERS", "MAX_TOP_N",
    "RUN_NAME_ENV", "RUN_NAME_KEY", "SMALLINT_MAX", "RunSpec", "job_command", "parse_param", "resolve",
]

SMALLINT_MAX = 32_767
"""The largest PostgreSQL ``smallint``: the type of a score's ``rank`` and of a run's ``shards``."""
DEFAULT_TOP_N = 100
"""Movies stored per user."""
MAX_TOP_N = SMALLINT_MAX
"""``rank`` is a smallint column."""
DEFAULT_POPULAR = 500
"""Length of the run's cold-start list (PopularMovie rows)."""
JOB_PARAMETERS = ("top_n", "popular")
"""Keys of ``Run.parameters`` that belong to the job (each an option of its own); every other key is a hyperparameter."""
RUN_NAME_KEY = "run_name"
"""Key in ``Run.metrics`` of the name that shards (and restarts) of one run share (``--run-name``)."""
RUN_NAME_ENV = "PRECOMPUTE_RUN_NAME"
"""The environment variable that gives the job its run name (the launcher sets it to the Kubernetes Job's name)."""
JOB_MODULE = "jobs.precompute"
"""The job's module: ``python -m jobs.precompute`` is how a worker, a pod or an operator starts a run."""


@dataclass(frozen=True)
class RunSpec:
    """The settings that determine a run's result, after combining the command line and the run's record."""

    algorithm: str
    model_params: dict[str, Any]
    top_n: int
    popular: int

    def __post_init__(self) -> None:
        require_whole_number("top_n", self.top_n, 1, MAX_TOP_N)
        require_whole_number("popular", self.popular, 1)

    def make_model(self) -> Scorer:
        """The unfitted scorer, its hyperparameters validated (``ValueError`` says which and what was given)."""
        model = make_scorer(self.algorithm, self.model_params)
        model.validate_params()
        return model

    def run_parameters(self, model: Scorer) -> dict[str, Any]:
        """What to store in ``Run.parameters``: the job settings and every hyperparameter, defaults included."""
        return {"top_n": self.top_n, "popular": self.popular, **model.get_params()}


def resolve(
    recorded_algorithm: str = "",
    recorded: dict[str, Any] | None = None,
    *,
    algorithm: str | None = None,
    params: dict[str, Any] | None = None,
    top_n: int | None = None,
    popular: int | None = None,
) -> RunSpec:
    """Combine what was asked now (the keyword arguments) with a run's recorded algorithm and parameters.

    Precedence: a value asked now, then the run's record, then the default.
    ``ValueError`` (from :class:`RunSpec`) names a bad job setting.
    """
    recorded = dict(recorded or {})
    job = {key: recorded.pop(key) for key in JOB_PARAMETERS if key in recorded}
    return RunSpec(
        algorithm=algorithm or recorded_algorithm or DEFAULT_ALGORITHM,
        model_params={**recorded, **(params or {})},
        top_n=top_n if top_n is not None else job.get("top_n", DEFAULT_TOP_N),
        popular=popular if popular is not None else job.get("popular", DEFAULT_POPULAR),
    )


def parse_param(text: str) -> tuple[str, Any]:
    """``NAME=VALUE`` of a ``--param`` option: the value read as JSON, a bare word as a string; else ``ValueError``."""
    name, sep, raw = text.partition("=")
    if not sep or not name.strip():
        raise ValueError(f"expected NAME=VALUE; got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw  # a bare word is a string
    return name.strip(), value


def job_command(run_id: int | None = None, *args: str, python: str | None = None) -> list[str]:
    """The argv that runs the job, e.g. ``job_command(5)`` for the pending run 5 (what the RQ job executes)."""
    argv = [python or sys.executable, "-m", JOB_MODULE]
    if run_id is not None:
        argv += ["--run-id", str(int(run_id))]
    return argv + list(args)
