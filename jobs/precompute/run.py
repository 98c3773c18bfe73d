"""One precompute run, stage by stage, and what a failure leaves behind.

Stages (``Run.stage``): queued (check the parameters) -> load -> matrix ->
fit (item-item's similarity and EASE's Gram chunks run in the pool too) -> compute (score
this shard's chunks in the pool, skipping chunks already recorded as done;
the parent COPYs each chunk and records it in one transaction) -> then,
only in the shard that finishes last: write (cold-start list, similar
movies, fitted model) -> evaluate (only with ``--evaluate``: a second fit
on a stratified 75/25 split, recorded in ``Run.metrics["evaluation"]``) ->
index (primary key, attach as partition) ->
publish (activate + succeeded, one transaction) -> done. Retention runs
after the publish.

On any exception - SIGTERM included, turned into one by the CLI - the run is
marked failed with ``"<stage>: <ExceptionType>: <message>"``, the active run
is left alone, and :class:`JobFailed` is raised. An unnamed one-shard run
also drops its table and fitted model; a named or sharded run keeps its
finished chunks, so that a retried process of it resumes. A SIGKILL
leaves the run ``running`` with a heartbeat that stops advancing: the
progress page shows it as stalled, and a restart with the same run name
resumes it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import numpy as np
from django.db import connection, connections

from jobs.precompute import pool, store
from jobs.precompute.heartbeat import DbHeartbeat
from jobs.precompute.options import JobOptions, check_shards_fit_users
from jobs.precompute.progress import FanOut, ProgressReporter, console_reporter, logs_to
from jobs.precompute.runlock import RunLock
from scoring.base import Scorer
from scoring.evaluation import Interactions, evaluate_scorer
from scoring.evaluation.runner import uses_content
from scoring.matrix import RatingsMatrix
from scoring.popularity import Popularity
from scoring.similarity import chunk_bounds
from scoring.topn import top_n
from web.recommender.models import MovieStats
from web.runs import scores as score_tables
from web.runs.models import Counts, Run, RunLogLine, RunStatus, ShardProgress, Stage
from web.runs.spec import RUN_NAME_KEY

logger = logging.getLogger("jobs.precompute")


class JobFailed(Exception):
    """The run did not succeed; ``status`` is what it was left as (failed or cancelled)."""

    def __init__(self, run_id: int, status: str, error: str) -> None:
        super().__init__(f"precompute run {run_id} {status}: {error}")
        self.run_id, self.status, self.error = run_id, status, error


def run_job(options: JobOptions, *, console: ProgressReporter | None = None) -> int:
    """Run a precompute end to end and return its run id; raise :class:`JobFailed` if it did not succeed.

    Creates the run, or claims the pending run ``options.run_id``
    (:class:`web.runs.models.RunNotPending` if it cannot), unless a
    process of another run is computing
    (:class:`jobs.precompute.runlock.AnotherRunRunning`). ``console``
    replaces the terminal bar / log lines (tests pass a silent reporter).
    """
    lock = RunLock(_new_connection)  # refuses (AnotherRunRunning) while a process of another run holds it
    run = lock.acquire(options, lambda: Run.objects.start(
        shard=options.shard, shards=options.shards, run_id=options.run_id, run_name=options.run_name,
        algorithm=options.algorithm, params=options.params))
    try:
        job = _Job(run, options, console)
        try:
            with logs_to(job.progress):  # the job's log lines reach the progress page, not only the pod's log
                return job.execute()
        finally:
            job.heartbeat.write_log()  # what was logged after the last beat: the outcome, the retention
    finally:
        lock.release()


def _chunk_key(ratings: RatingsMatrix, rows: np.ndarray, bounds: tuple[int, int]) -> tuple[int, int]:
    """A chunk's identity across restarts: its first and last user id."""
    start, stop = bounds
    return int(ratings.user_ids[rows[start]]), int(ratings.user_ids[rows[stop - 1]])


def _new_connection():
    """A fresh DB-API connection from the Django settings, for the heartbeat thread."""
    wrapper = connections["default"]
    return wrapper.get_new_connection(wrapper.get_connection_params())


class _Job:
    def __init__(self, run: Run, options: JobOptions, console: ProgressReporter | None) -> None:
        self.run, self.options = run, options
        self.run_id: int = run.pk
        self.heartbeat = DbHeartbeat(
            self.run_id,
            _new_connection,
            run_table=Run._meta.db_table,
            shard_table=ShardProgress._meta.db_table,
            shard=options.shard,
            log_table=RunLogLine._meta.db_table,
        ).start()
        self.shard, self.shards = options.shard, run.shards
        # A named or sharded run outlives one process (a retry resumes it), so a failure keeps its chunks.
        self.keep_on_failure = options.run_name is not None or run.shards > 1
        self.published = False
        label = f"precompute run {self.run_id}" + (f" shard {self.shard}/{self.shards}" if self.shards > 1 else "")
        self.progress = FanOut([self.heartbeat, console if console is not None else console_reporter(label)])
        self.current = Stage.QUEUED
        self.seconds: dict[str, float] = {}
        self.facts: dict[str, Any] = {"workers": 1, "chunk_size": options.chunk_size}
        if options.run_name is not None:
            self.facts[RUN_NAME_KEY] = options.run_name
        self.counts = Counts(users_total=0, users_done=0, rows_written=0)
        self.copy_seconds = 0.0
        self.started = time.perf_counter()
        self.progress.stage(Stage.QUEUED)

    # -- the stages ---------------------------------------------------------
    def execute(self) -> int:
        try:
            self._run_stages()
        except BaseException as exc:  # SIGTERM/Ctrl+C arrive as exceptions too and must fail the run
            self._fail(exc)
        self.progress.close()
        if not self.published:
            return self.run_id  # another shard publishes, and applies the retention
        try:
            dropped = store.apply_retention(self.options.keep_runs)
            if dropped:
                logger.info("precompute run %s: retention dropped runs %s", self.run_id, dropped)
        except Exception as exc:  # housekeeping: the run is published whatever happens here
            logger.warning("precompute run %s: retention failed (the run is published): %s", self.run_id, exc)
        return self.run_id

    def _run_stages(self) -> None:
        recorded = (self.run.algorithm, self.run.parameters) if self.options.run_id else ("", {})
        spec = self.options.spec(*recorded)
        model = spec.make_model()  # a bad parameter fails here, before the load
        Run.objects.record_spec(self.run_id, spec, model, joined=getattr(self.run, "joined", False))

        with self.stage(Stage.LOAD):
            feedback = store.load_ratings()
            # A content-reading model (the hybrid) gets the catalogue too: every movie becomes a column, rated or not.
            content = store.load_content() if uses_content(model) else None
        with self.stage(Stage.MATRIX):
            ratings = RatingsMatrix.from_arrays(feedback.users, feedback.movies, feedback.values, content=content,
                                                dismissed=feedback.dismissed)
            del feedback
            self.facts.update(users=ratings.n_users, movies=ratings.n_items, ratings=ratings.nnz)
            check_shards_fit_users(self.shards, ratings.n_users)  # a shard with no users is a mistake in --shards
        with self.stage(Stage.FIT):
            workers = self.options.workers

            def forked_map(task, chunks):
                return pool.map_forked(task, chunks, workers, self._fork_guard)

            model.fit(ratings, mapper=forked_map if workers > 1 else None)
            # The cold-start list always comes from popularity, whatever the run's algorithm.
            popular = model if isinstance(model, Popularity) else Popularity().fit(ratings)

        # This shard's users: a fixed rule on the user id, so every shard (and a restart) agrees without talking.
        rows = np.flatnonzero(ratings.user_ids % self.shards == self.shard)
        chunks = chunk_bounds(len(rows), self.options.chunk_size)
        self.counts.users_total = len(rows)
        self.facts.update(shard=self.shard, shards=self.shards)
        with self.stage(Stage.COMPUTE, total=len(rows)):
            score_tables.create_run_table(self.run_id)
            done = score_tables.done_chunks(self.run_id, self.shard)
            keys = {bounds: _chunk_key(ratings, rows, bounds) for bounds in chunks}
            stale = sorted(set(done) - set(keys.values()))
            if stale:  # the ratings changed since those chunks were written: redo their users
                score_tables.discard_chunks(self.run_id, self.shard, self.shards, stale)
                done = {key: value for key, value in done.items() if key not in stale}
            todo = [bounds for bounds in chunks if keys[bounds] not in done]
            skipped = [done[keys[bounds]] for bounds in chunks if keys[bounds] in done]
            if skipped:
                users, written = (sum(column) for column in zip(*skipped, strict=True))
                self.counts.users_done += users
                self.counts.rows_written += written
                self.progress.advance(users, written)
                logger.info("precompute run %s shard %s: resuming, %s of %s chunks already done",
                            self.run_id, self.shard, len(skipped), len(chunks))
            self.facts.update(chunks=len(chunks), chunks_resumed=len(skipped),
                              workers=max(1, min(self.options.workers, len(todo))))
            results = pool.compute(model, ratings, spec.top_n, todo, self.facts["workers"], self._fork_guard(), rows)
            with closing(results):
                for chunk in results:
                    started = time.perf_counter()
                    first, last = keys[(chunk.start, chunk.stop)]
                    score_tables.write_chunk(self.run_id, self.shard, chunk, users=chunk.users, first_user=first, last_user=last)
                    self.copy_seconds += time.perf_counter() - started
                    self.counts.users_done += chunk.users
                    self.counts.rows_written += len(chunk)
                    self.progress.advance(chunk.users, len(chunk))
                    self.heartbeat.raise_if_cancelled()

        with self.heartbeat.paused():  # no beat in flight with counts older than these
            finished_last = Run.objects.finish_shard(self.run_id, self.shard, self.counts)
        if not finished_last:
            logger.info("precompute run %s: shard %s of %s done; the last shard to finish publishes the run",
                        self.run_id, self.shard, self.shards)
            self.progress.stage(Stage.DONE)
            self.heartbeat.close()
            return
        with self.stage(Stage.WRITE):
            items, scores = top_n(popular.scores_[None, :], None, spec.popular)
            found = items[0] >= 0
            store.write_popular(self.run_id, ratings.movie_ids[items[0][found]], scores[0][found])
            MovieStats.refresh()  # the catalogue's counts and averages, with the ratings made on the site since
            if hasattr(model, "neighbours_"):
                self.facts["similar_rows"] = store.write_similar(
                    self.run_id, ratings.movie_ids, model.neighbours_, model.similarities_)
            self.facts["model_bytes"] = store.write_fitted_model(self.run_id, model)
        if self.options.evaluate:
            with self.stage(Stage.EVALUATE):
                self.facts["evaluation"] = self._evaluate(model, ratings)
        with self.stage(Stage.INDEX):
            score_tables.index_and_attach(self.run_id)
        with self.stage(Stage.PUBLISH):
            self.heartbeat.close()  # no beat may land after the final status
            Run.objects.publish(self.run_id, self.metrics())
            self.published = True
        # The whole run's figures (all its shards', from its start), not this process's share.
        run = Run.objects.get(pk=self.run_id)
        logger.info(
            "precompute run %s succeeded: %s users, %s rows in %.1f s; it is now the active run",
            self.run_id, f"{run.users_done:,}", f"{run.rows_written:,}", run.duration.total_seconds(),
        )

    @staticmethod
    def _evaluate(model: Scorer, ratings: RatingsMatrix) -> dict[str, Any]:
        """The run's own offline figures: a copy of its model on the stratified split of the same ratings."""
        result = evaluate_scorer(model, Interactions.from_matrix(ratings), protocol="stratified", seed=0, k=10,
                                 content=ratings.content)
        logger.info("precompute: %s on a stratified 75/25 split: nDCG@10 %.4f, precision@10 %.4f",
                    result["algorithm"], result["ndcg@10"], result["precision@10"])
        return result

    @contextmanager
    def stage(self, stage: str, total: int | None = None) -> Iterator[None]:
        """Enter ``stage``: report it, time it, and stop here if an operator cancelled the run."""
        self.heartbeat.raise_if_cancelled()
        self.current = stage
        self.progress.stage(stage, total)
        time.sleep(pool.stage_pause_from_env(stage))  # test hook: 0 unless PRECOMPUTE_TEST_PAUSE_AT names this stage
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = round(time.perf_counter() - started, 3)

    @contextmanager
    def _fork_guard(self) -> Iterator[None]:
        # A forked child must not inherit an open connection: two processes on one socket corrupt it.
        with self.heartbeat.paused():
            connections.close_all()
            yield

    def metrics(self) -> dict[str, Any]:
        """What the run records in ``Run.metrics``: seconds per stage, sizes and how it was computed."""
        return {
            "seconds": dict(self.seconds),
            "copy_seconds": round(self.copy_seconds, 3),
            "total_seconds": round(self._elapsed(), 3),
            "rows": self.counts.rows_written,
            **self.facts,
        }

    def _elapsed(self) -> float:
        return time.perf_counter() - self.started

    # -- failure ------------------------------------------------------------
    def _fail(self, exc: BaseException) -> None:
        error = f"{self.current}: {type(exc).__name__}: {exc}"
        status = RunStatus.FAILED
        self.heartbeat.close()
        self.progress.close()
        try:
            # The exception may have hit mid-statement; start the bookkeeping on a fresh connection.
            connection.close()
            status = Run.objects.fail(self.run_id, self.current, error, self.metrics(), self.shard)
            if status == RunStatus.SUCCEEDED:
                logger.warning("precompute run %s was stopped after it was published: %s", self.run_id, error)
                return
            if not self.keep_on_failure or status == RunStatus.CANCELLED:
                store.drop_run_data(self.run_id)
        except Exception as cleanup:  # report the original error; this one goes to the log
            logger.error("precompute run %s: could not record the failure or drop its data: %s", self.run_id, cleanup)
        logger.error("precompute run %s %s: %s", self.run_id, status, error)
        raise JobFailed(self.run_id, status, error) from exc
