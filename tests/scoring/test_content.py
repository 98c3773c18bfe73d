"""The content model: the TF-IDF item matrix (cleaning, weights) and the scorers that use it on unrated movies."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from scoring import hybrid
from scoring.content import MovieContent, clean_tags, content_matrix
from scoring.content_scorer import ContentScorer
from scoring.ease import EASE
from scoring.hybrid import EXPLORE_LIST, Hybrid
from scoring.matrix import RatingsMatrix
from scoring.topn import top_n
from tests.scoring.conftest import random_content, random_ratings


def catalogue(tags: list[tuple[int, int, str]] = ()) -> MovieContent:
    """Five movies: two space operas, a romance, a comedy and an unrated space opera (id 5)."""
    movies = pd.DataFrame({
        "movieId": [1, 2, 3, 4, 5],
        "title": ["Star Voyage (1977)", "Star Voyage II (1980)", "Paris Love (1995)", "Funny Day (1996)",
                  "Dark Orbit (1988)"],
        "genres": ["Sci-Fi|Adventure", "Sci-Fi|Adventure", "Romance", "Comedy", "Sci-Fi|Adventure"],
    })
    frame = pd.DataFrame(list(tags), columns=["userId", "movieId", "tag"])
    return MovieContent.from_frames(movies, frame)


def test_tags_are_cleaned_and_counted_once_per_person():
    """'Space ', 'space' and 'SPACE' are one tag, and one person giving it twice counts once."""
    assert clean_tags(np.array(["Space ", "space", "  SPACE   opera"], dtype=object)).tolist() == ["space", "space",
                                                                                                    "space opera"]
    once = content_matrix(catalogue([(7, 1, "space"), (8, 5, "space")]), np.arange(1, 6), genre_weight=0,
                          year_weight=0, title_weight=0)
    twice = content_matrix(catalogue([(7, 1, "space"), (7, 1, "Space "), (8, 5, "SPACE")]), np.arange(1, 6),
                           genre_weight=0, year_weight=0, title_weight=0)
    np.testing.assert_allclose(once.toarray(), twice.toarray())
    assert once.shape[1] == 1  # one tag term


def test_a_tag_on_a_single_movie_links_nothing():
    """A tag only one movie carries is dropped (min_df): it would make that movie resemble nothing new."""
    features = content_matrix(catalogue([(7, 3, "paris")]), np.arange(1, 6), genre_weight=0, year_weight=0,
                              title_weight=0)
    assert features.shape[1] == 0


def test_each_kind_counts_by_its_weight_and_similar_movies_are_close():
    """A row's length is the weights of the kinds the movie has (rows are not scaled again); the two space operas are
    closer than a space opera and a romance, and a shared tag adds to a shared genre."""
    features = content_matrix(catalogue(), np.arange(1, 7))  # movie 6 is unknown to the catalogue
    norms = np.sqrt(features.multiply(features).sum(axis=1))
    # Genres (weight 1) and a year (0.5) for every known movie; title words (0.3) shared only by the two Star Voyages.
    np.testing.assert_allclose(norms[:5], np.sqrt([1.34, 1.34, 1.25, 1.25, 1.25]), rtol=1e-5)
    assert norms[5] == 0.0
    similarity = (features @ features.T).toarray()
    assert similarity[0, 1] > similarity[0, 4] > similarity[0, 2]  # same genres and title words > same genres > nothing
    tagged = content_matrix(catalogue([(7, 1, "space"), (8, 5, "space")]), np.arange(1, 6))
    assert (tagged @ tagged.T).toarray()[0, 4] > similarity[0, 4]


def ratings_with(content: MovieContent) -> RatingsMatrix:
    """Three users: user 1 loves the space operas and dislikes the romance; nobody rated movie 5."""
    users = np.array([1, 1, 1, 2, 2, 3, 3])
    movies = np.array([1, 2, 3, 3, 4, 1, 4])
    stars = np.array([5.0, 5.0, 1.0, 4.0, 4.0, 3.0, 3.0])
    return RatingsMatrix.from_arrays(users, movies, stars, content=content)


def test_an_unrated_movie_is_scored_and_ranked_by_its_metadata():
    """Movie 5 has no rating, yet it is user 1's best unrated match and not user 2's."""
    ratings = ratings_with(catalogue([(7, 1, "space"), (8, 5, "space")]))
    assert ratings.n_items == 5 and ratings.matrix[:, 4].nnz == 0
    model = ContentScorer(liked_from=2.5).fit(ratings)
    scores = model.score_users(np.arange(3))
    assert not np.isnan(scores[:, 4]).any()
    items, _ = top_n(scores, ratings.matrix, 1)
    assert ratings.movie_ids[items[0, 0]] == 5
    assert scores[0, 4] > scores[1, 4]


def test_a_user_with_no_history_gets_no_content_scores():
    """An empty history has no taste: every score is NaN (the site shows the popular list)."""
    model = ContentScorer().fit(ratings_with(catalogue()))
    assert np.isnan(model.score_history(np.array([], dtype=np.int64), np.array([], dtype=np.float32))).all()


@pytest.mark.parametrize("cls", [ContentScorer, Hybrid])
def test_fitting_without_the_catalogue_is_refused(cls):
    """A content scorer fitted on ratings alone says it needs the movies' metadata."""
    plain = RatingsMatrix.from_arrays(np.array([1, 2]), np.array([1, 2]), np.array([4.0, 3.0]))
    with pytest.raises(ValueError, match="content scores movies from their metadata; fit it on a RatingsMatrix built with content="):
        cls(min_ratings=1).fit(plain) if cls is Hybrid else cls().fit(plain)


def test_hybrid_without_its_extra_terms_ranks_like_ease(ratings):
    """With no content weight, no popularity exponent and no cold penalty, the hybrid orders EASE's movies as EASE does."""
    hybrid = Hybrid(content_weight=0.0, popularity_exponent=0.0, cold_penalty=0.0, min_ratings=3).fit(ratings)
    ease = EASE(min_ratings=3).fit(ratings)
    users = np.arange(ratings.n_users)
    ease_items, _ = top_n(ease.score_users(users), ratings.matrix, 5)
    hybrid_scores = hybrid.score_users(users)
    cold = np.setdiff1d(np.arange(ratings.n_items), ease.modelled_)
    hybrid_scores[:, cold] = np.nan
    hybrid_items, _ = top_n(hybrid_scores, ratings.matrix, 5)
    np.testing.assert_array_equal(hybrid_items, ease_items)


def test_hybrid_scores_movies_ease_does_not_model(ratings):
    """Every catalogue movie gets a hybrid score for a user with a history, the unrated ones included."""
    hybrid = Hybrid(min_ratings=3).fit(ratings)
    scores = hybrid.score_users(np.arange(ratings.n_users))
    unrated = np.flatnonzero(np.bincount(ratings.matrix.indices, minlength=ratings.n_items) == 0)
    assert len(unrated) == 2 and not np.isnan(scores[:, unrated]).any()


def test_exploration_gives_the_last_places_of_the_first_page_to_unmodelled_movies(ratings):
    """With explore=0.1 each user's 19th and 20th picks are their two best movies EASE does not model; the 18 before
    (the top 10 among them) are unchanged."""
    users = np.arange(ratings.n_users)
    plain = Hybrid(min_ratings=8, explore=0.0).fit(ratings)
    exploring = Hybrid(min_ratings=8, explore=0.1).fit(ratings)
    assert EXPLORE_LIST == 20 and exploring.explore_places() == 2
    before, before_scores = top_n(plain.score_users(users), ratings.matrix, 20)
    after, _ = top_n(exploring.score_users(users), ratings.matrix, 20)
    np.testing.assert_array_equal(after[:, :18], before[:, :18])
    unmodelled = np.setdiff1d(np.arange(ratings.n_items), exploring.modelled_)
    content = exploring.content_.score_users(users)
    pool = np.where(np.isin(np.arange(ratings.n_items), unmodelled), content, np.nan)
    best, _ = top_n(pool, ratings.matrix, 2)  # -1 where a user has rated all but one of the unmodelled movies
    # The picks are put just under the 18th score: a movie that ties it (within that margin) can stay in front.
    apart = (before_scores[:, 17] - before_scores[:, 18]) > 2e-4 * np.maximum(np.abs(before_scores[:, 17]), 1e-3)
    found = (best >= 0) & apart[:, np.newaxis]
    assert found.mean() > 0.8
    np.testing.assert_array_equal(after[:, 18:][found], best[found])
    items, values = ratings.history(4)  # the worker's one-user path agrees
    single, _ = top_n(exploring.score_history(items, values)[np.newaxis, :], ratings.matrix[[4]], 20)
    np.testing.assert_array_equal(single[0], after[4])


def test_exploration_is_a_share_of_at_most_half_a_list():
    """explore above 0.5 is refused, naming the value."""
    with pytest.raises(ValueError, match=r"explore must be a share in \[0, 0.5\].*got 0.6"):
        Hybrid(explore=0.6).validate_params()


def test_a_catalogue_without_metadata_leaves_the_hybrid_ranking_as_ease(ratings):
    """Movies with no genres, tags, year or title words give no taste; the hybrid still ranks EASE's movies."""
    users, movies, stars = (np.repeat(ratings.user_ids, np.diff(ratings.matrix.indptr)),
                            ratings.movie_ids[ratings.matrix.indices], ratings.matrix.data)
    bare = MovieContent.from_frames(pd.DataFrame({"movieId": ratings.movie_ids, "title": "", "genres": ""}))
    plain = RatingsMatrix.from_arrays(users, movies, stars, content=bare)
    hybrid = Hybrid(min_ratings=3, popularity_exponent=0.0).fit(plain)
    ease = EASE(min_ratings=3).fit(plain)
    everyone = np.arange(plain.n_users)
    scores = hybrid.score_users(everyone)
    assert not np.isnan(scores[:, hybrid.modelled_]).all(axis=1).any()
    ease_items, _ = top_n(ease.score_users(everyone), plain.matrix, 5)
    hybrid_items, _ = top_n(np.where(np.isin(np.arange(plain.n_items), hybrid.modelled_), scores, np.nan), plain.matrix, 5)
    np.testing.assert_array_equal(hybrid_items, ease_items)


@pytest.mark.parametrize("explore", [0.0, 0.2])
def test_the_hybrids_compact_top_n_is_its_whole_top_n_with_or_without_exploration(ratings, explore):
    """The job's narrow columns (EASE's, the contenders and the exploration picks) give the same top 20 and 40."""
    model = Hybrid(min_ratings=8, explore=explore).fit(ratings)
    users = np.arange(ratings.n_users)
    for n in (20, 40):
        whole, _ = top_n(model.score_users(users), ratings.matrix, n)
        compact, columns = model.score_users_compact(users, n=n)
        assert columns is not None  # the compact path, not the whole-width fallback
        items, _ = top_n(compact, ratings.matrix[:, columns], n)
        np.testing.assert_array_equal(np.where(items >= 0, columns[np.maximum(items, 0)], -1), whole)


def ratings_with_edge_users() -> RatingsMatrix:
    """300 users × 1,500 movies (2 % rated, large enough for the hybrid's blocked content products; movie ids below
    200 without metadata, a third of the others with the same) and three more users: 90001 rated only a movie
    nobody else did and that has no metadata (neither part can score them), 90002 only the movie most rated, which
    has none either (no taste: EASE alone), 90003 only movies rated once (the content model alone)."""
    users, movies, stars = random_ratings(seed=3, n_users=300, n_movies=1500, density=0.02)
    well_known = np.bincount(movies).argmax()
    rare = np.flatnonzero(np.bincount(movies, minlength=movies.max() + 1) == 1)[:3]
    lonely = movies.max() + 1
    users = np.concatenate([users, [90001, 90002, 90003, 90003, 90003]])
    movies = np.concatenate([movies, [lonely, well_known, *rare]])
    stars = np.concatenate([stars, [4.0, 4.0, 5.0, 3.0, 4.5]])
    content = random_content(np.unique(movies), seed=3)
    bare = (content.movie_ids < 200) | np.isin(content.movie_ids, [lonely, well_known])
    assert not bare[np.isin(content.movie_ids, rare)].any()
    # Twins: every third movie of the rest has the same title, genres, year and tags (equal scores: ties to break).
    twin = ~bare & (np.arange(len(bare)) % 3 == 0) & ~np.isin(content.movie_ids, rare)
    tagged = ~np.isin(content.tag_movie_ids, content.movie_ids[bare | twin])
    twin_tags = np.repeat(content.movie_ids[twin], 2)
    content = dataclasses.replace(
        content, titles=np.where(bare, "", np.where(twin, "star city (1999)", content.titles)),
        genres=np.where(bare, "", np.where(twin, "Sci-Fi|Drama", content.genres)),
        years=np.where(bare, np.float32(np.nan), np.where(twin, np.float32(1999), content.years)),
        tag_movie_ids=np.concatenate([content.tag_movie_ids[tagged], twin_tags]),
        tag_user_ids=np.concatenate([content.tag_user_ids[tagged], np.tile([1, 2], twin.sum())]).astype(np.int32),
        tags=np.concatenate([content.tags[tagged], np.tile(np.array(["space", "classic"], dtype=object), twin.sum())]),
    )
    return RatingsMatrix.from_arrays(users, movies, stars, content=content)


@pytest.mark.parametrize("params", [{"explore": 0.0}, {"explore": 0.1}, {"explore": 0.2},
                                    {"explore": 0.0, "content_weight": 2.0, "cold_penalty": 0.0},
                                    {"explore": 0.1, "content_weight": 2.0, "cold_penalty": 0.0}])
def test_the_hybrids_compact_scores_are_its_scores_in_blocks_too(params, monkeypatch):
    """On a set large enough for the compact path's blocked content products (blocks made small, so that there are
    several of users and of movies), the compact scores are score_users' to the bit on every column returned, and
    the job's top 20 and 100 are the whole width's: for users with no taste, no EASE evidence, or neither."""
    monkeypatch.setattr(hybrid, "USER_BLOCK", 128)
    monkeypatch.setattr(hybrid, "ITEM_BLOCK", 256)
    ratings = ratings_with_edge_users()
    model = Hybrid(min_ratings=8, **params).fit(ratings)
    users = np.arange(ratings.n_users)
    rows = model.content_.fitted_rows(users)
    taste = model.content_.taste(rows)
    blocks = hybrid._ContentBlocks(taste, model.content_.items_, model.modelled_, model._cold_columns())
    assert blocks.blocked and len(blocks.user_spans) > 1 and len(blocks.item_spans) > 1
    edge = ratings.user_ids.searchsorted([90001, 90002, 90003])
    assert np.isnan(taste[edge[:2]]).all() and not np.isnan(taste[edge[2]]).any()
    whole = model.score_users(users)
    assert np.isnan(whole[edge[0]]).all() and not np.isnan(whole[edge[1:]]).all(axis=1).any()
    for n in (20, 100):
        compact, columns = model.score_users_compact(users, n=n)
        assert columns is not None and len(columns) < ratings.n_items and (np.diff(columns) > 0).all()
        np.testing.assert_array_equal(compact, whole[:, columns])
        items, _ = top_n(compact, ratings.matrix[:, columns], n)
        np.testing.assert_array_equal(np.where(items >= 0, columns[np.maximum(items, 0)], -1),
                                      top_n(whole, ratings.matrix, n)[0])
        if model.content_weight == 2.0 and model.explore == 0:  # unmodelled movies reach lists by their scores
            assert np.isin(columns, model.modelled_, invert=True).any()
    for user in [*edge, *range(5)]:  # alone (one whole product): no other user keeps a column of theirs
        compact, columns = model.score_users_compact(np.array([user]), n=20)
        alone = model.score_users(np.array([user]))
        np.testing.assert_array_equal(compact, alone[:, columns])
        items, _ = top_n(compact, ratings.matrix[[user]][:, columns], 20)
        np.testing.assert_array_equal(np.where(items >= 0, columns[np.maximum(items, 0)], -1),
                                      top_n(alone, ratings.matrix[[user]], 20)[0])
