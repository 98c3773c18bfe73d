"""The synthetic MovieLens generator (web.recommender.ingest.synthetic), its CSV writer, and the command."""

from __future__ import annotations

import io
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from web.recommender.ingest import SHAPES, generate_movielens, load_movielens, read_movielens
from web.recommender.ingest.fastcsv import write_rows
from web.recommender.models import Movie, Rating, Tag

FILES = ("links.csv", "movies.csv", "ratings.csv", "tags.csv")


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    """A 400-user, 3,000-movie, 40,000-rating set and what read_movielens makes of it."""
    folder = tmp_path_factory.mktemp("synthetic") / "set"
    made = generate_movielens(folder, users=400, movies=3000, ratings=40_000, seed=7)
    return made, read_movielens(folder)


def test_shape_is_exact_and_the_reader_accepts_it(medium):
    """Exactly the requested users, ratings and movie ids; the validating reader finds nothing wrong (no duplicates)."""
    made, data = medium
    assert (made.users, made.movies, made.ratings) == (400, 3000, 40_000)
    assert len(data.movies) == 3000 and len(data.ratings) == 40_000 and data.users == 400
    assert len(data.tags) == made.tags > 0
    pairs = data.ratings["user_id"].astype(np.int64) * 10_000 + data.ratings["movie_id"]
    assert not pairs.duplicated().any()
    assert set(data.ratings["user_id"]) == set(range(1, 401))


def test_every_user_has_at_least_twenty_ratings_and_activity_is_skewed(medium):
    """Each user rates 20+ movies, and the most active users rate far more than the median one."""
    per_user = medium[1].ratings.groupby("user_id").size()
    assert per_user.min() >= 20
    assert per_user.max() > 10 * per_user.median()


def test_values_are_half_stars_with_a_plausible_spread(medium):
    """Ratings are half stars in 0.5..5.0, averaging about 3.5, and whole stars are the commoner."""
    ratings = medium[1].ratings["rating"]
    assert set(np.unique(ratings * 2)) <= set(range(1, 11))
    assert 3.2 < ratings.mean() < 3.8
    assert (ratings % 1 == 0).mean() > 0.55
    assert medium[1].ratings["timestamp"].between(820_454_400, 1_574_294_400).all()


def test_popularity_is_zipf_like(medium):
    """The top 1% of movies hold ~10x their uniform share of the ratings, the top 10% about 40%."""
    per_movie = medium[1].ratings.groupby("movie_id").size().sort_values(ascending=False)
    assert per_movie.iloc[: 3000 // 100].sum() / 40_000 > 0.08
    assert per_movie.iloc[: 3000 // 10].sum() / 40_000 > 0.35


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    """Generation is deterministic for a seed and differs across seeds."""
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        generate_movielens(tmp_path / name, users=50, movies=300, ratings=3000, seed=seed)
    for file in FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    assert (tmp_path / "a" / "ratings.csv").read_bytes() != (tmp_path / "c" / "ratings.csv").read_bytes()


def test_files_use_crlf_and_the_movielens_headers(tmp_path):
    """Every file ends its lines with CRLF, starts with the MovieLens header, and no partial files remain."""
    generate_movielens(tmp_path, users=30, movies=200, ratings=1000, seed=1)
    headers = {
        "movies.csv": b"movieId,title,genres\r\n",
        "ratings.csv": b"userId,movieId,rating,timestamp\r\n",
        "links.csv": b"movieId,imdbId,tmdbId\r\n",
        "tags.csv": b"userId,movieId,tag,timestamp\r\n",
    }
    for file, header in headers.items():
        data = (tmp_path / file).read_bytes()
        assert data.startswith(header)
        assert data.count(b"\n") == data.count(b"\r\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == list(FILES)
    assert b"Synthetic Movie 1 (" in (tmp_path / "movies.csv").read_bytes()


def test_heavy_users_are_sampled_exactly(tmp_path):
    """When users must rate most of the catalogue (exact Gumbel-top-k path), counts and uniqueness still hold."""
    generate_movielens(tmp_path, users=30, movies=40, ratings=1000, seed=2)
    data = read_movielens(tmp_path)
    per_user = data.ratings.groupby("user_id").size()
    assert len(data.ratings) == 1000 and per_user.min() >= 20 and per_user.max() <= 40


def test_every_user_rates_every_movie_when_asked_to(tmp_path):
    """ratings = users x movies fills the whole matrix."""
    generate_movielens(tmp_path, users=5, movies=25, ratings=125, seed=0)
    assert len(read_movielens(tmp_path).ratings) == 125


@pytest.mark.parametrize(
    ("users", "movies", "ratings", "message"),
    [(0, 10, 10, "at least 1"), (10, 10, 5, "every user needs a rating"), (2, 3, 7, "can rate at most 6")],
)
def test_impossible_shapes_are_refused(tmp_path, users, movies, ratings, message):
    """Shapes that cannot be met raise ValueError saying why."""
    with pytest.raises(ValueError, match=message):
        generate_movielens(tmp_path, users=users, movies=movies, ratings=ratings, seed=0)


def test_fast_csv_writer_formats_integers_and_half_stars():
    """Integers of mixed widths and half stars come out as plain CSV text."""
    out = io.BytesIO()
    write_rows(
        out,
        [np.array([1, 10, 123456]), np.array([0, 9, 99]), np.array([0.5, 5.0, 3.5]), np.array([964982703, 1, 10**10])],
        ["int", "int", "half", "int"],
    )
    assert out.getvalue() == b"1,0,0.5,964982703\r\n10,9,5.0,1\r\n123456,99,3.5,10000000000\r\n"


@pytest.mark.django_db(transaction=True)
def test_generated_set_loads(tmp_path):
    """The output loads with load_movielens, every row accounted for."""
    made = generate_movielens(tmp_path, users=100, movies=800, ratings=8000, seed=5)
    summary = load_movielens(tmp_path)
    assert (summary.movies, summary.ratings, summary.users, summary.tags) == (800, 8000, 100, made.tags)
    assert (Movie.objects.count(), Rating.objects.count(), Tag.objects.count()) == (800, 8000, made.tags)


def test_command_writes_the_small_shape(tmp_path):
    """--shape small writes the counts of ml-latest-small and prints the folder."""
    out = StringIO()
    call_command("generate_movielens", str(tmp_path / "small"), "--shape", "small", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == str(tmp_path / "small")
    data = read_movielens(tmp_path / "small")
    small = SHAPES["small"]
    assert (data.users, len(data.movies), len(data.ratings)) == (small.users, small.movies, small.ratings)


def test_command_options_override_the_shape_and_errors_become_command_errors(tmp_path):
    """--users/--movies/--ratings override the shape; an impossible shape is a CommandError."""
    quiet = {"stdout": StringIO(), "stderr": StringIO()}
    sizes = ["--users", "40", "--movies", "100", "--ratings", "900"]
    call_command("generate_movielens", str(tmp_path / "a"), *sizes, **quiet)
    assert len(read_movielens(tmp_path / "a").ratings) == 900
    with pytest.raises(CommandError, match="every user needs a rating"):
        call_command("generate_movielens", str(tmp_path / "b"), "--users", "40", "--ratings", "10", **quiet)
