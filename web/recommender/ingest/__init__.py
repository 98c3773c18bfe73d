"""Ingest of MovieLens sets: read and validate the files, write them with COPY, fetch or synthesise sets.

Plain functions, no management-command code (the commands in
``web/recommender/management/commands`` only parse options and call these):

* :func:`read_movielens` (path) -> :class:`MovieLensData`: detect the layout,
  parse and validate; raises :class:`IngestError` naming file, line and reason.
* :func:`load_movielens` (path) -> :class:`LoadSummary`: read, then write in
  one transaction, idempotently (:func:`write_movielens` is the write half).
* :func:`download_movielens` (name, dest_dir) -> Path: fetch a GroupLens zip,
  verify its checksum, extract atomically.
* :func:`generate_movielens` (dest_dir, users, movies, ratings, seed): a
  synthetic set in the ml-latest-small CSV layout.

Only the loader needs Django; it is imported on first use so that the reader,
the download and the generator work from a plain script.
"""

from __future__ import annotations

from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.detect import detect_layout, read_movielens
from web.recommender.ingest.download import KNOWN_SETS, download_movielens
from web.recommender.ingest.errors import DownloadError, IngestError
from web.recommender.ingest.progress import BarProgress, LineProgress, ProgressCallback
from web.recommender.ingest.synthetic import SHAPES, SyntheticSet, generate_movielens

_LOADER_NAMES = {"LoadSummary", "load_movielens", "write_movielens"}

__all__ = [
    "KNOWN_SETS",
    "SHAPES",
    "BarProgress",
    "DownloadError",
    "IngestError",
    "LineProgress",
    "LoadSummary",
    "MovieLensData",
    "ProgressCallback",
    "SyntheticSet",
    "detect_layout",
    "download_movielens",
    "generate_movielens",
    "load_movielens",
    "read_movielens",
    "write_movielens",
]


def __getattr__(name: str):
    if name in _LOADER_NAMES:
        from web.recommender.ingest import loader  # on first use: the loader needs Django, the rest does not

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
