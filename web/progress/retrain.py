"""The worker's retraining check: start the next run when enough interactions arrived (``RETRAIN_THRESHOLD``).

Queued by :func:`web.runs.retrain.request_check` after a write that stored
ratings or events; it creates the run through the page's own path
(:meth:`~web.runs.models.RunQuerySet.create_pending`, in
:func:`web.runs.retrain.claim_due_run`) and hands it to the configured
launcher, as the page's "start" does. docs/decisions.md, "Retraining on a policy".
"""

from __future__ import annotations

import logging

from web.progress import launcher
from web.runs import retrain

logger = logging.getLogger(__name__)


def retrain_if_due() -> int | None:
    """Start a run if the threshold is crossed and none is pending or running; the new run's id, else None."""
    retrain.clear_check_pending()
    launcher.fail_lost_queued_runs()  # a run whose job Redis lost is pending for ever and would hold this back
    run = retrain.claim_due_run()
    if run is None:
        return None
    logger.info("retraining: %s; started run %s (%s)", run.metrics.get("started_by", ""), run.pk, run.algorithm)
    try:
        launcher.launch(run, [])
    except launcher.LaunchFailed:
        logger.exception("retraining: run %s could not be started", run.pk)  # marked failed with the reason
    return run.pk
