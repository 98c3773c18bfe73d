"""The catalogue's metadata as the content model reads it from PostgreSQL, against the same rows read from CSV frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scoring.content import MovieContent
from web.recommender.models import Movie, Tag


def test_the_stored_catalogue_gives_the_content_its_csv_frames_give(db):
    Movie.objects.create(movie_id=5, title="Heat (1995)", year=1995, genres=["Action", "Crime"])
    Movie.objects.create(movie_id=2, title="Untitled", year=None, genres=[])
    Movie.objects.create(movie_id=9, title="Alien (1979)", year=1979, genres=["Horror", "Sci-Fi"])
    Tag.objects.create(user_id=7, movie_id=9, tag="space")
    Tag.objects.create(user_id=8, movie_id=5, tag="  Heist ")

    stored = Movie.objects.content()
    from_csv = MovieContent.from_frames(
        pd.DataFrame({"movieId": [9, 5, 2], "title": ["Alien (1979)", "Heat (1995)", "Untitled"],
                      "genres": ["Horror|Sci-Fi", "Action|Crime", ""], "year": [1979, 1995, None]}),
        pd.DataFrame({"userId": [7, 8], "movieId": [9, 5], "tag": ["space", "  Heist "]}),
    )
    for name in ("movie_ids", "titles", "genres", "years"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(from_csv, name), err_msg=name)
        assert getattr(stored, name).dtype == getattr(from_csv, name).dtype, name
    order = np.argsort(stored.tag_movie_ids)  # tags come in no particular order from the table
    expected = np.argsort(from_csv.tag_movie_ids)
    for name in ("tag_movie_ids", "tag_user_ids", "tags"):
        np.testing.assert_array_equal(getattr(stored, name)[order], getattr(from_csv, name)[expected], err_msg=name)
        assert getattr(stored, name).dtype == getattr(from_csv, name).dtype, name


def test_a_catalogue_with_no_tags_gives_empty_tag_columns(db):
    Movie.objects.create(movie_id=1, title="Toy Story (1995)", year=1995, genres=["Animation"])
    content = Movie.objects.content()
    assert content.tags.shape == (0,) and content.tag_movie_ids.dtype == np.int32
    assert content.years.tolist() == [1995.0]
