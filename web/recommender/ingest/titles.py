"""Years from titles and genre names, shared by every layout."""

from __future__ import annotations

import pandas as pd

YEAR_SUFFIX = r"\((\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$"
"""A trailing "(1995)", also "(1995) " and "(2006-2007)" / "(2006\u20132007)" (first year wins)."""
NO_GENRES = "(no genres listed)"
RENAMED_GENRES = {"Children's": "Children"}
"""ml-100k and ml-1m spell a genre differently from the current sets; one spelling keeps genre filters working."""


def years(titles: pd.Series) -> pd.Series:
    """The release year at the end of each title, or <NA> (n_movies,) Int16."""
    return pd.to_numeric(titles.str.extract(YEAR_SUFFIX, expand=False), errors="coerce").astype("Int16")


def genres(pipe_joined: pd.Series) -> pd.Series:
    """Pipe-joined genre names with "(no genres listed)" -> "" and old spellings renamed (n_movies,) str."""
    out = pipe_joined.str.strip()
    out = out.where(out != NO_GENRES, "")
    for old, new in RENAMED_GENRES.items():
        out = out.str.replace(old, new, regex=False)
    return out
