"""``python -m bench.reasons --write``: how true the site's reasons are, before and after issue #18's rule.

EASE and the hybrid (their defaults) are fitted on the stratified split of
ml-latest-small (seed 0); for every user's top-10, both reason rules of
``scoring.evaluation.reasons`` name a movie or not, and the table gives the
share of recommendations with a named movie and, of those, the share whose
movie shares a genre with the recommendation or is among its 5 most similar
movies. For the hybrid, also the share of its picks that EASE does not model
(explained by genre: "new, and like the science fiction you rate highly").
``--write`` replaces the "Reasons" section of docs/evaluation.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.api_load import write_section  # noqa: E402
from bench.evaluate import DOC, SMALL  # noqa: E402
from scoring.content import genre_matrix  # noqa: E402
from scoring.evaluation import load_movielens, split  # noqa: E402
from scoring.evaluation.data import load_movielens_content  # noqa: E402
from scoring.evaluation.reasons import RULES, named_movies, reason_quality  # noqa: E402
from scoring.registry import make_scorer  # noqa: E402
from scoring.topn import top_n  # noqa: E402

HEADING = "## Reasons (bench/reasons.py)"


def measure(path: Path) -> list[dict]:
    data, content = load_movielens(path), load_movielens_content(path)
    parts = split(data, "stratified", 0)
    rows = []
    for name in ("ease", "hybrid"):
        train = parts.train.to_matrix(content)
        model = make_scorer(name).fit(train)
        users = np.arange(train.n_users)
        recommended, _ = top_n(model.score_users(users), train.matrix, 10)
        genres = genre_matrix(content, train.movie_ids)
        unmodelled = np.ones(train.n_items, dtype=bool)
        unmodelled[model.modelled_] = False
        for rule in RULES:
            named = named_movies(recommended, users, train.matrix, model.neighbours_, genres, rule)
            quality = reason_quality(named, recommended, model.neighbours_, genres)
            shown = recommended >= 0
            rows.append({"algorithm": name, "rule": rule, **quality,
                         "content_share": float((shown & unmodelled[np.maximum(recommended, 0)]).sum() / shown.sum())})
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "Made by `python -m bench.reasons --write` (part of `make evaluate`): EASE and the hybrid with their",
        "defaults on the stratified split of ml-latest-small (seed 0), every user's top-10. *Named*: share of",
        "recommendations whose reason names a rated movie; *alike*: of those, the share whose named movie",
        "shares a genre with the recommendation or is one of its 5 most similar movies in the run (a strong",
        "co-rating); *by genre*: share of picks EASE does not model, which the hybrid explains by the genre",
        "the user rates highly. `best_rated` is the rule before issue #18, `strongest_alike` the rule now",
        "(docs/decisions.md, \"A named movie must drive the score and resemble the pick\").", "",
        "| algorithm | rule | named | alike | by genre |", "|---|---|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(f"| {row['algorithm']} | {row['rule']} | {row['named_share']:.3f} | {row['alike_share']:.3f} | "
                     f"{row['content_share']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=SMALL)
    parser.add_argument("--write", action="store_true", help="write the section into docs/evaluation.md")
    args = parser.parse_args(argv)
    text = table(measure(args.path))
    print(text)
    if args.write:
        write_section(HEADING + "\n\n" + text, DOC, HEADING, "# Offline evaluation")  # the rest of the file is bench/evaluate.py's


if __name__ == "__main__":
    main()
