"""Runs and their scores: one home below the web apps and the precompute job.

* :mod:`~web.runs.spec` - what a run computes: settings, defaults, checks, the job's command line (no Django).
* :mod:`~web.runs.models` - the run, shard and active-run rows, and a run's life as manager methods.
* :mod:`~web.runs.scores` - the per-run score tables: schema, partitions and the one writer of score rows.
* :mod:`~web.runs.locks` - the advisory locks the shards of one run serialise on.

The progress app, the recommender app and ``jobs/`` import this package;
it imports none of them (docs/decisions.md, "Layout").
"""
