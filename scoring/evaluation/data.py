"""The ratings to evaluate on, as four parallel arrays (one entry per rating)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scoring.content import MovieContent
from scoring.matrix import RatingsMatrix


@dataclass(frozen=True, eq=False)
class Interactions:
    """One (user, movie, rating, timestamp) per entry; the order carries no meaning.

    ``timestamps`` may be None when the source has none (the job reads no
    timestamps); only the temporal protocol needs them.
    """

    users: np.ndarray
    movies: np.ndarray
    ratings: np.ndarray
    timestamps: np.ndarray | None = None

    def __post_init__(self) -> None:
        arrays = {"users": self.users, "movies": self.movies, "ratings": self.ratings}
        if self.timestamps is not None:
            arrays["timestamps"] = self.timestamps
        shapes = {name: np.shape(value) for name, value in arrays.items()}
        if any(len(shape) != 1 for shape in shapes.values()) or len(set(shapes.values())) != 1:
            raise ValueError(f"interactions need 1-D arrays of equal length; got shapes {shapes}")

    def __len__(self) -> int:
        return len(self.users)

    def take(self, mask_or_index: np.ndarray) -> Interactions:
        """The entries selected by a boolean mask or an index array."""
        return Interactions(
            users=self.users[mask_or_index],
            movies=self.movies[mask_or_index],
            ratings=self.ratings[mask_or_index],
            timestamps=None if self.timestamps is None else self.timestamps[mask_or_index],
        )

    @classmethod
    def from_matrix(cls, ratings: RatingsMatrix) -> Interactions:
        """The stored entries of a :class:`RatingsMatrix` (no timestamps: the stratified protocol only)."""
        matrix = ratings.matrix
        rows = np.repeat(np.arange(ratings.n_users), np.diff(matrix.indptr))
        return cls(users=ratings.user_ids[rows], movies=ratings.movie_ids[matrix.indices], ratings=matrix.data.copy())

    def to_matrix(self, content: MovieContent | None = None, dismissed: Interactions | None = None) -> RatingsMatrix:
        """The users × movies :class:`RatingsMatrix` of these ratings (what a scorer is fitted on), with ``content``
        and the not-interested pairs of ``dismissed`` if given."""
        pairs = None if dismissed is None else (dismissed.users, dismissed.movies)
        return RatingsMatrix.from_arrays(self.users, self.movies, self.ratings, content=content, dismissed=pairs)


def load_movielens(folder: str | Path) -> Interactions:
    """Read ``ratings.csv`` of a MovieLens folder (ml-latest-small, ml-25m, ...).

    Raises ``FileNotFoundError`` naming the file, or ``ValueError`` naming the
    missing columns, rather than evaluating on something else.
    """
    path = Path(folder) / "ratings.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no ratings.csv in {Path(folder)}: give the folder of a MovieLens set")
    frame = pd.read_csv(path, dtype={"userId": np.int32, "movieId": np.int32, "rating": np.float32, "timestamp": np.int64})
    missing = {"userId", "movieId", "rating", "timestamp"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(sorted(missing))}")
    return Interactions(
        users=frame["userId"].to_numpy(),
        movies=frame["movieId"].to_numpy(),
        ratings=frame["rating"].to_numpy(),
        timestamps=frame["timestamp"].to_numpy(),
    )


def load_movielens_content(folder: str | Path) -> MovieContent:
    """Read ``movies.csv`` and (if present) ``tags.csv`` of a MovieLens folder: the content model's metadata."""
    path = Path(folder) / "movies.csv"
    if not path.is_file():
        raise FileNotFoundError(f"no movies.csv in {Path(folder)}: give the folder of a MovieLens set")
    movies = pd.read_csv(path, dtype={"movieId": np.int32, "title": str, "genres": str})
    tags_path = Path(folder) / "tags.csv"
    tags = pd.read_csv(tags_path, dtype={"userId": np.int32, "movieId": np.int32, "tag": str}) if tags_path.is_file() else None
    return MovieContent.from_frames(movies, tags)
