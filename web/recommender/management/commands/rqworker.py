"""``python manage.py rqworker``: run an RQ worker on the app's queue with Django set up."""

from django.core.management.base import BaseCommand
from django.db import connections
from rq import Worker

from web.queue import get_queue, new_redis_client


class Command(BaseCommand):
    help = "Run an RQ worker for the app's queue (the same Redis as REDIS_URL)."

    def add_arguments(self, parser):
        parser.add_argument("--burst", action="store_true", help="Stop once the queue is empty.")
        parser.add_argument("--max-jobs", type=int, default=None, help="Stop after this many jobs.")

    def handle(self, *args, burst: bool = False, max_jobs: int | None = None, **options):
        # A client of its own: RQ raises its socket timeout above the blocking
        # dequeue's, which must not change the shared client the jobs use.
        queue = get_queue(new_redis_client())
        # Every job runs in a fork of this process: the active run's model
        # loaded here is inherited by each fork instead of being read and
        # unpickled again for every rating.
        from web.recommender.tasks import warm_model_cache

        run_id = warm_model_cache()
        if run_id is not None:
            self.stdout.write(f"loaded the model of run {run_id}")
        # The worker forks a work horse per job: a DB connection opened in the
        # parent would be shared by the children, so none may stay open here.
        connections.close_all()
        worker = Worker([queue], connection=queue.connection)
        worker.work(burst=burst, max_jobs=max_jobs, logging_level="INFO")
