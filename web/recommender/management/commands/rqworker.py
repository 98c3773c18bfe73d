"""``python manage.py rqworker``: run an RQ worker on the app's queue with Django set up."""

import logging

from django.core.management.base import BaseCommand

from web.queue import get_queue, new_redis_client
from web.recommender.worker import ModelWarmWorker

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run an RQ worker for the app's queue (the same Redis as REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Stop once the queue is empty.")
        parser.add_argument("--max-jobs", type=int, default=None, help="Stop after this many jobs.")

    def handle(self, *args, burst: bool = False, max_jobs: int | None = None, **options):
        # A client of its own: RQ raises its socket timeout above the blocking
        # dequeue's, which must not change the shared client the jobs use.
        queue = get_queue(new_redis_client())
        worker = ModelWarmWorker([queue], connection=queue.connection)
        run_id = worker.warm()  # forks inherit the model (see ModelWarmWorker)
        if run_id is not None:  # logged, not printed: under LOG_FORMAT=json the worker's output is JSON lines only
            logger.info("loaded the model of run %d", run_id)
        worker.work(burst=burst, max_jobs=max_jobs, logging_level="INFO")
