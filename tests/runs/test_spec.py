"""What a run computes (web.runs.spec): defaults, precedence, checks, --param and the job's command line."""

from __future__ import annotations

import sys

import pytest

from web.runs.spec import DEFAULT_ALGORITHM, DEFAULT_POPULAR, DEFAULT_TOP_N, MAX_TOP_N, job_command, parse_param, resolve


def test_nothing_asked_and_nothing_recorded_gives_the_defaults():
    """With no record and no request, the run uses the default algorithm, top N and popular list."""
    spec = resolve()
    assert (spec.algorithm, spec.model_params, spec.top_n, spec.popular) == (
        DEFAULT_ALGORITHM, {}, DEFAULT_TOP_N, DEFAULT_POPULAR)


def test_what_is_asked_wins_over_the_record_which_wins_over_the_defaults():
    """A value asked now beats the run's recorded one; a recorded one beats the default."""
    recorded = {"top_n": 7, "popular": 30, "damping": 2.0, "k": 5}
    spec = resolve("item_knn", recorded, top_n=9, params={"damping": 4.0})
    assert (spec.algorithm, spec.top_n, spec.popular) == ("item_knn", 9, 30)
    assert spec.model_params == {"damping": 4.0, "k": 5}
    assert resolve("item_knn", recorded, algorithm="popularity").algorithm == "popularity"


@pytest.mark.parametrize("top_n", [0, MAX_TOP_N + 1, 2.5, True])
def test_a_top_n_outside_the_rank_column_is_refused(top_n):
    """top_n must be a whole number that a smallint rank holds; the message names it and the value."""
    with pytest.raises(ValueError, match=rf"top_n must be a whole number in \[1, {MAX_TOP_N}\]; got {top_n!r}"):
        resolve(top_n=top_n)


def test_run_parameters_record_the_job_settings_and_every_hyperparameter():
    """What a run records: top_n, popular and the scorer's parameters with their defaults."""
    spec = resolve("popularity", {"damping": 3.0}, top_n=5)
    assert spec.run_parameters(spec.make_model()) == {"top_n": 5, "popular": DEFAULT_POPULAR, "damping": 3.0}


@pytest.mark.parametrize(("text", "expected"), [
    ("damping=10", ("damping", 10)),
    ("l2= 2.5", ("l2", 2.5)),
    (" name =word", ("name", "word")),
    ("keep=[1, 2]", ("keep", [1, 2])),
])
def test_a_param_is_read_as_json_else_as_a_string(text, expected):
    """--param NAME=VALUE: the value as JSON when it parses, else the bare word."""
    assert parse_param(text) == expected


@pytest.mark.parametrize("text", ["k", "=3", " =3"])
def test_a_param_without_a_name_and_value_is_refused(text):
    """A --param that is not NAME=VALUE is a ValueError that repeats it."""
    with pytest.raises(ValueError, match=rf"expected NAME=VALUE; got {text!r}"):
        parse_param(text)


def test_job_command_is_the_jobs_module_with_the_run_id():
    """job_command(run_id) is what the RQ task runs to start a pending run."""
    assert job_command(12) == [sys.executable, "-m", "jobs.precompute", "--run-id", "12"]
    assert job_command(None, "--workers", "2", python="python") == ["python", "-m", "jobs.precompute", "--workers", "2"]
