"""The worker count follows the container's CPU quota, not the host's cores."""

import os

import pytest

from jobs.precompute.resources import available_cpus, cgroup_cpu_quota, default_workers


def test_cgroup_v2_quota(tmp_path):
    """cgroup v2 ``cpu.max`` "150000 100000" is 1.5 CPUs; "max" is no limit."""
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_quota(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_cgroup_v1_quota(tmp_path):
    """cgroup v1 quota/period gives the CPUs; a quota of -1 is no limit."""
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("200000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert cgroup_cpu_quota(tmp_path) == 2.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert cgroup_cpu_quota(tmp_path) is None


def test_available_cpus_rounds_the_quota_up_and_caps_at_the_affinity(tmp_path):
    """A 0.5-CPU quota still gets one worker; a quota above the cores gets the cores."""
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert available_cpus(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("100000000 100000\n")
    assert available_cpus(tmp_path) == len(os.sched_getaffinity(0))


def test_env_overrides_and_bad_env_is_refused():
    """PRECOMPUTE_WORKERS sets the default; a non-number or 0 is a ValueError that repeats it."""
    assert default_workers({"PRECOMPUTE_WORKERS": "3"}) == 3
    assert default_workers({}) >= 1
    with pytest.raises(ValueError, match="PRECOMPUTE_WORKERS must be a whole number >= 1; got 'two'"):
        default_workers({"PRECOMPUTE_WORKERS": "two"})
    with pytest.raises(ValueError, match="got '0'"):
        default_workers({"PRECOMPUTE_WORKERS": "0"})
