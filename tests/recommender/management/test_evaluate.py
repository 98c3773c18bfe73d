"""``manage.py evaluate`` on a MovieLens folder and on the database, and its errors."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.scoring.evaluation.synthetic import synthetic_interactions
from web.recommender.models import Rating


def write_movielens(folder) -> int:
    """A ratings.csv in the MovieLens layout from the synthetic set; returns its row count."""
    data = synthetic_interactions(seed=5)
    lines = ["userId,movieId,rating,timestamp"] + [
        f"{u},{m},{r:.1f},{t}" for u, m, r, t in zip(data.users, data.movies, data.ratings, data.timestamps, strict=True)
    ]
    (folder / "ratings.csv").write_text("\n".join(lines) + "\n")
    return len(data)


def test_path_json_gives_one_result_per_protocol_and_algorithm(tmp_path):
    """--json prints one object per (protocol, algorithm, seed) with the documented metric keys."""
    write_movielens(tmp_path)
    out = StringIO()
    call_command("evaluate", "--path", str(tmp_path), "--algorithm", "popularity", "--algorithm", "ease",
                 "--seeds", "2", "--json", stdout=out)
    results = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    assert sorted((r["protocol"], r["algorithm"], r["seed"]) for r in results) == sorted(
        (p, a, s) for p in ("stratified", "temporal") for a in ("popularity", "ease") for s in (0, 1)
    )
    assert all(0.0 <= r["ndcg@10"] <= 1.0 and r["users"] == 30 for r in results)


@pytest.mark.django_db
def test_database_ratings_give_a_table(catalogue):
    """Without --path the command reads the database's ratings and prints a table per protocol."""
    out = StringIO()
    call_command("evaluate", "--algorithm", "popularity", "--protocol", "temporal", stdout=out)
    text = out.getvalue()
    assert f"temporal split of {Rating.objects.count():,} ratings, top-10:" in text
    assert "| popularity | " in text and "stratified" not in text


def test_bad_input_is_a_clear_error(tmp_path):
    """A folder without ratings.csv, a stray --param and a bad value are refused with what is wrong."""
    with pytest.raises(CommandError, match="no ratings.csv in"):
        call_command("evaluate", "--path", str(tmp_path))
    write_movielens(tmp_path)
    with pytest.raises(CommandError, match="--param needs exactly one --algorithm"):
        call_command("evaluate", "--path", str(tmp_path), "--param", "l2=5")
    with pytest.raises(CommandError, match="l2 must be a finite number > 0; got -1"):
        call_command("evaluate", "--path", str(tmp_path), "--algorithm", "ease", "--param", "l2=-1")


def test_ease_beats_popularity_widely_on_movielens(movielens_small):
    """On ml-latest-small (stratified, seed 0) EASE's nDCG@10 is over twice popularity's: the default's margin."""
    from scoring import Popularity
    from scoring.ease import EASE
    from scoring.evaluation import evaluate_scorer, load_movielens

    data = load_movielens(movielens_small)
    ease = evaluate_scorer(EASE(), data, protocol="stratified", seed=0)
    popular = evaluate_scorer(Popularity(), data, protocol="stratified", seed=0)
    assert ease["ndcg@10"] > 2 * popular["ndcg@10"]
    assert ease["precision@10"] > 2 * popular["precision@10"]
