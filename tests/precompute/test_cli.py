"""The command line: options, parameters, and refusals before any run exists."""

import sys

import pytest

from jobs.precompute.cli import parse_options


def test_options_and_params_are_parsed():
    """Every option lands in JobOptions; --param values are JSON where they parse."""
    options = parse_options(["--algorithm", "popularity", "--param", "damping=7.5", "--top-n", "20",
                             "--popular", "50", "--workers", "3", "--chunk-size", "10", "--keep-runs", "1"])
    assert (options.algorithm, options.params, options.top_n, options.popular) == ("popularity", {"damping": 7.5}, 20, 50)
    assert (options.workers, options.chunk_size, options.keep_runs, options.run_id) == (3, 10, 1, None)


def test_unset_options_stay_unset_for_a_pending_run():
    """Without --algorithm/--top-n the pending run's recorded values can apply (None here)."""
    options = parse_options(["--run-id", "5", "--workers", "1"])
    assert (options.run_id, options.algorithm, options.top_n, options.popular) == (5, None, None, None)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--algorithm", "popularity", "--param", "damping=-1"], "damping must be a finite number >= 0; got -1"),
        (["--algorithm", "popularity", "--param", "k=3"], "popularity does not take parameter(s) k; it accepts: damping"),
        (["--param", "keep_weights=0"], "keep_weights must be an integer >= 1; got 0"),
        (["--shards", "2"], "a run of 2 shards needs --run-name (or PRECOMPUTE_RUN_NAME) or --run-id"),
        (["--shard", "2", "--shards", "2", "--run-name", "x"], "shard must be a whole number in [0, 1]; got 2"),
        (["--run-name", "x", "--run-id", "3"], "give --run-name or --run-id, not both"),
        (["--top-n", "0"], "top_n must be a whole number in [1, 32767]; got 0"),
        (["--workers", "0"], "workers must be a whole number >= 1; got 0"),
        (["--algorithm", "svd"], "invalid choice: 'svd'"),
        (["--param", "damping"], "expected NAME=VALUE; got 'damping'"),
    ],
)
def test_bad_options_exit_2_with_the_reason(argv, message, capsys):
    """A bad option exits with status 2 and says what was wrong, before touching the database."""
    with pytest.raises(SystemExit) as exit_info:
        parse_options(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_shard_and_run_name_come_from_the_indexed_job_environment(monkeypatch):
    """JOB_COMPLETION_INDEX, JOB_COMPLETIONS and PRECOMPUTE_RUN_NAME fill --shard, --shards and --run-name."""
    monkeypatch.setenv("JOB_COMPLETION_INDEX", "1")
    monkeypatch.setenv("JOB_COMPLETIONS", "3")
    monkeypatch.setenv("PRECOMPUTE_RUN_NAME", "precompute-20261125")
    options = parse_options(["--workers", "1"])
    assert (options.shard, options.shards, options.run_name) == (1, 3, "precompute-20261125")
    assert parse_options(["--workers", "1", "--shard", "0"]).shard == 0  # the command line wins


@pytest.mark.parametrize(("value", "evaluate"), [("1", True), ("on", True), ("0", False), ("no", False), ("", False)])
def test_precompute_evaluate_takes_the_settings_words(monkeypatch, value, evaluate):
    """PRECOMPUTE_EVALUATE reads as the settings' booleans do: 1/0, true/false, yes/no, on/off (unset: off)."""
    monkeypatch.setenv("PRECOMPUTE_EVALUATE", value)
    assert parse_options(["--workers", "1"]).evaluate is evaluate


def test_a_mistyped_precompute_evaluate_is_refused_not_read_as_off(monkeypatch, capsys):
    """A typo would otherwise skip the evaluation the operator asked for, without a word."""
    monkeypatch.setenv("PRECOMPUTE_EVALUATE", "ture")
    with pytest.raises(SystemExit) as exit_info:
        parse_options(["--workers", "1"])
    assert exit_info.value.code == 2
    assert "PRECOMPUTE_EVALUATE must be 1/0, true/false, yes/no or on/off; got 'ture'" in capsys.readouterr().err
