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

Each name is imported from its module on first use (PEP 562's module
``__getattr__``): the loader needs Django, and the readers need pandas, which
the web processes that import this package for the events' checks alone
would otherwise load at start-up.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "MovieLensData": "dataset",
    "detect_layout": "detect",
    "read_movielens": "detect",
    "KNOWN_SETS": "download",
    "download_movielens": "download",
    "DownloadError": "errors",
    "IngestError": "errors",
    "BarProgress": "progress",
    "LineProgress": "progress",
    "ProgressCallback": "progress",
    "SHAPES": "synthetic",
    "SyntheticSet": "synthetic",
    "generate_movielens": "synthetic",
    "LoadSummary": "loader",
    "load_movielens": "loader",
    "write_movielens": "loader",
}
"""Where each public name lives, as a module of this package."""

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name in _HOMES:
        return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
