"""Why a run cannot go on, one exception per condition (no Django import: the job's heartbeat thread raises one)."""

from __future__ import annotations


class RunNotPending(Exception):
    """``--run-id`` named a run that does not exist or is no longer pending (or a run name that cannot be joined)."""


class RunCancelled(Exception):
    """An operator cancelled the run (its status became ``cancelled``) while the job worked on it."""


class RollbackRefused(Exception):
    """The run cannot be served again: it did not succeed, or its scores were dropped by retention."""
