"""How many worker processes the job may use: the container's CPU quota, not the host's cores.

In Kubernetes ``os.cpu_count()`` reports the node's cores; a pod limited to
2 CPUs that starts 32 processes is throttled and slower than with 2.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

WORKERS_ENV = "PRECOMPUTE_WORKERS"
"""Environment variable that sets the default ``--workers``."""

CGROUP_ROOT = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs allowed by the cgroup (v2 ``cpu.max``, else v1 ``cpu.cfs_quota_us``); None if unlimited or unknown."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        if quota != "max":
            return int(quota) / int(period)
        return None
    except (OSError, ValueError):
        pass
    try:
        quota_us = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


def available_cpus(root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may use: the affinity mask, capped by the cgroup quota (rounded up), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def default_workers(environ: dict[str, str] | None = None) -> int:
    """``PRECOMPUTE_WORKERS`` if set, else :func:`available_cpus`; a bad value is a ``ValueError``."""
    environ = os.environ if environ is None else environ
    value = environ.get(WORKERS_ENV, "").strip()
    if not value:
        return available_cpus()
    try:
        workers = int(value)
    except ValueError:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1; got {value!r}") from None
    if workers < 1:
        raise ValueError(f"{WORKERS_ENV} must be a whole number >= 1; got {value!r}")
    return workers
