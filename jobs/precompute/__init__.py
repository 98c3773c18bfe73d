"""The precompute (PCS) job: every user's top-N unrated movies for one run, published atomically.

Run it with ``python -m jobs.precompute`` (see :mod:`jobs.precompute.cli` and
docs/precompute.md). Modules, one job each:

* :mod:`~jobs.precompute.cli` - command line, Django setup, signals, exit codes.
* :mod:`~jobs.precompute.options` - the options of how a run is computed, their defaults and checks.
* :mod:`~jobs.precompute.run` - the stages, in order, and what a failure does.
* :mod:`~jobs.precompute.store` - the ratings it reads, the run's artefacts besides scores, retention.
* :mod:`~jobs.precompute.pool` - the fork pool that scores chunks of users.
* :mod:`~jobs.precompute.progress` - the progress interface and its terminal/log reporters.
* :mod:`~jobs.precompute.heartbeat` - the throttled database progress writer.
* :mod:`~jobs.precompute.resources` - how many CPUs the container may use.

What a run computes, a run's row and life, and its score tables are
:mod:`web.runs`, shared with the web apps, which never import this package.

This package module imports nothing from Django: ``python -m`` imports it
before :func:`django.setup` runs.
"""
