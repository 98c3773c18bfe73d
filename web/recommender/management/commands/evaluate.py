"""``manage.py evaluate``: offline top-10 evaluation of the algorithms on a seeded split (docs/evaluation.md)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from scoring import ALGORITHMS, make_scorer
from scoring.evaluation import PROTOCOLS, Interactions, evaluate_scorer, load_movielens
from scoring.evaluation.report import markdown_table, summarise
from web.recommender.models import Rating
from web.runs.spec import parse_param


def _param(text: str) -> tuple[str, Any]:
    try:
        return parse_param(text)
    except ValueError as exc:
        raise CommandError(f"--param {exc}") from exc


def load_database_ratings() -> Interactions:
    """Every rating in the database, with its time, by binary COPY (as the job reads them, plus the timestamp)."""
    users, movies, ratings, times = Rating.objects.columns(with_time=True)
    return Interactions(users=users, movies=movies, ratings=ratings, timestamps=times)


class Command(BaseCommand):
    help = (
        "Split the ratings per user with a seeded protocol (stratified 75/25 or temporal latest 20%), fit each "
        "algorithm on the training part and print precision/recall/nDCG/MAP@10, coverage and fit time on the "
        "held-out part. Reads the database, or a MovieLens folder with --path. Nothing is written."
    )

    def add_arguments(self, parser):
        parser.add_argument("--path", help="a MovieLens folder with ratings.csv (default: the database's ratings)")
        parser.add_argument("--algorithm", action="append", choices=sorted(ALGORITHMS),
                            help="algorithm to evaluate; repeatable (default: every registered one)")
        parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                            help="hyperparameter (JSON value) of the one --algorithm given; repeatable")
        parser.add_argument("--protocol", action="append", choices=sorted(PROTOCOLS),
                            help="split protocol; repeatable (default: both)")
        parser.add_argument("--seeds", type=int, default=1, help="evaluate on seeds 0..N-1 and report mean ± std")
        parser.add_argument("--k", type=int, default=10, help="list length (default: %(default)s)")
        parser.add_argument("--json", action="store_true", help="print one JSON object per (algorithm, seed)")

    def handle(self, *args, path, algorithm, param, protocol, seeds, k, json: bool, **options):
        algorithms = algorithm or sorted(ALGORITHMS)
        params = dict(_param(text) for text in param)
        if params and len(algorithms) != 1:
            raise CommandError("--param needs exactly one --algorithm (whose parameter it is)")
        if seeds < 1 or k < 1:
            raise CommandError(f"--seeds and --k must be >= 1; got --seeds {seeds} --k {k}")
        try:
            scorers = [make_scorer(name, params) for name in algorithms]
            for scorer in scorers:
                scorer.validate_params()
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        data = self._load(path)
        results = []
        for protocol_name in protocol or sorted(PROTOCOLS):
            for seed in range(seeds):
                for scorer in scorers:
                    if options["verbosity"] >= 2:
                        self.stderr.write(f"{protocol_name} seed {seed}: {scorer!r}")
                    try:
                        result = evaluate_scorer(scorer, data, protocol=protocol_name, seed=seed, k=k)
                    except (ValueError, MemoryError, np.linalg.LinAlgError) as exc:
                        raise CommandError(f"{scorer!r} on {protocol_name} seed {seed}: {exc}") from exc
                    results.append(result)
                    if json:
                        self.stdout.write(_json_line(result))
        if not json:
            self._print_tables(results, len(data), k)

    def _load(self, path: str | None) -> Interactions:
        try:
            data = load_movielens(path) if path else load_database_ratings()
        except (FileNotFoundError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        except DatabaseError as exc:
            raise CommandError(f"could not read the ratings: {exc}. Is the database migrated and loaded?") from exc
        if len(data) == 0:
            raise CommandError("there are no ratings to evaluate on: load some (manage.py load_movielens DIR)")
        return data

    def _print_tables(self, results: list[dict[str, Any]], n_ratings: int, k: int) -> None:
        rows = summarise(results, k)
        for protocol_name in sorted({row["protocol"] for row in rows}):
            self.stdout.write(f"\n{protocol_name} split of {n_ratings:,} ratings, top-{k}:\n")
            self.stdout.write(markdown_table([r for r in rows if r["protocol"] == protocol_name], k=k))
        self.stdout.write("")


def _json_line(result: dict[str, Any]) -> str:
    return json.dumps(result, sort_keys=True)
