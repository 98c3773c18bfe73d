"""The progress app's models are the runs' (:mod:`web.runs.models`), registered under this app's label.

They are defined in :mod:`web.runs`, below this app, the recommender app and
the job, and keep the label ``progress``: their tables, migrations (here, in
``migrations/``), permissions and admin URLs did not move. Importing them
here is what registers them when Django loads this app.
"""

from __future__ import annotations

from web.runs.models import ActiveRun, Run, RunLogLine, RunSample, ShardProgress

__all__ = ["ActiveRun", "Run", "RunLogLine", "RunSample", "ShardProgress"]
