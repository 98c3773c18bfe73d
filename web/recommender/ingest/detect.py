"""Tell the layout of a MovieLens folder from its files, and read it."""

from __future__ import annotations

from pathlib import Path

from web.recommender.ingest import format_1m, format_100k, format_csv
from web.recommender.ingest.dataset import MovieLensData
from web.recommender.ingest.errors import IngestError
from web.recommender.ingest.progress import ProgressCallback

LAYOUTS = {
    "csv": (format_csv.RATINGS.name, format_csv.read),
    "ml-100k": (format_100k.DATA.name, format_100k.read),
    "ml-1m": (format_1m.RATINGS.name, format_1m.read),
}
"""Layout name -> (the ratings file that identifies it, its reader)."""

_EXPECTED = (
    "ratings.csv + movies.csv (ml-latest-small, ml-latest, ml-25m, ml-32m), "
    "u.data + u.item (ml-100k) or ratings.dat + movies.dat (ml-1m)"
)


def detect_layout(folder: Path | str) -> str:
    """``"csv"``, ``"ml-100k"`` or ``"ml-1m"`` for ``folder``; :class:`IngestError` when none fits."""
    folder = Path(folder)
    if not folder.is_dir():
        raise IngestError(str(folder), None, "is not a folder; expected a MovieLens folder holding " + _EXPECTED)
    for layout, (ratings_file, _) in LAYOUTS.items():
        if (folder / ratings_file).is_file():
            return layout
    raise IngestError(str(folder), None, "holds no MovieLens files; expected " + _EXPECTED)


def read_movielens(folder: Path | str, *, progress: ProgressCallback | None = None) -> MovieLensData:
    """Read and validate every file of the set in ``folder``; nothing touches the database."""
    folder = Path(folder)
    _, reader = LAYOUTS[detect_layout(folder)]
    return reader(folder, progress)
